#include "backends/nfs/fuse/filesystem.h"

#include <fcntl.h>
#include <nfsc/libnfs-raw-nfs.h>
#include <nfsc/libnfs.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "common/error.h"

namespace berth::nfs {

namespace {

// AUTH_SYS carries at most 16 supplementary groups (RFC 5531); the kernel NFS client also
// sends only the first 16.
constexpr int kMaxAuthGroups = 16;
// What stat(2) reports as the preferred I/O size (libnfs reported the same).
constexpr blksize_t kBlockSize = 4096;

// What fi->fh points at between open/create and release: the file's handle, which any
// context can use.
struct OpenFile {
  FileHandle handle;
  bool append;
  bool sync;  // O_SYNC or O_DSYNC: every WRITE is FILE_SYNC, sent before write(2) returns
  std::shared_ptr<WriteBehind::Stream> stream;
  // WRITEs go out UNSTABLE: the server may hold the data in memory until a COMMIT. close(2)
  // commits, as the kernel NFS client does, so data a program closed survives a server restart.
  std::atomic<bool> uncommitted{false};
};

Filesystem& Fs() { return *static_cast<Filesystem*>(fuse_get_context()->private_data); }

OpenFile& FileOf(const fuse_file_info* fi) {
  // fi->fh, a uint64_t, is FUSE's only per-open slot.
  return *reinterpret_cast<OpenFile*>(  // NOLINT(performance-no-int-to-ptr)
      static_cast<uintptr_t>(fi->fh));
}

ContextPool::Credentials Caller() {
  const fuse_context* context = fuse_get_context();
  ContextPool::Credentials credentials{context->uid, context->gid, {}};
  // Root passes the server's permission checks on a No_Root_Squash export (and is squashed
  // as a whole otherwise), so only other callers pay for reading their groups from /proc.
  if (context->uid != 0) {
    gid_t groups[kMaxAuthGroups];
    const int count = fuse_getgroups(kMaxAuthGroups, groups);
    if (count > 0) {
      credentials.groups.assign(groups, groups + std::min(count, kMaxAuthGroups));
    }
  }
  return credentials;
}

// The kernel NFS client reports a dead server as EIO; callers (and berth's health checks)
// expect that rather than libnfs' view of the socket. libnfs 4.0 fails a timed-out RPC with
// EINTR, which programs would retry forever.
int ToFuseResult(int rc) {
  switch (-rc) {
    case EINTR:
    case ETIMEDOUT:
    case ECONNREFUSED:
    case ECONNRESET:
    case ENOTCONN:
    case EPIPE:
      return -EIO;
    default:
      return rc;
  }
}

int FromException() {
  try {
    throw;
  } catch (const std::bad_alloc&) {
    return -ENOMEM;
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return -EIO;
  }
}

// Runs `op(calls, context)`, NFSv3 calls by handle on any context of `pool`, as `who`. A failed
// connection (the calls throw kUnavailable) retires the context and is EIO. Safe on any thread.
template <typename Op>
int OnLease(ContextPool& pool, const ContextPool::Credentials& who, Op&& op) noexcept {
  try {
    auto lease = pool.Acquire();
    lease.Impersonate(who);
    try {
      return ToFuseResult(lease.Check(op(lease.calls(), lease.get())));
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kUnavailable) {
        throw;
      }
      spdlog::warn("{}", e.what());
      lease.MarkBroken();
      return -EIO;
    }
  } catch (...) {
    return FromException();
  }
}

// OnLease as `who`, once the writes queued so far reached the server.
template <typename Op>
int WithCallsAs(const ContextPool::Credentials& who, Op&& op) noexcept {
  try {
    Fs().write_behind().DrainAll();
    return OnLease(Fs().pool(), who, std::forward<Op>(op));
  } catch (...) {
    return FromException();
  }
}

// WithCallsAs the calling process.
template <typename Op>
int WithCalls(Op&& op) noexcept {
  try {
    return WithCallsAs(Caller(), std::forward<Op>(op));
  } catch (...) {
    return FromException();
  }
}

// WithCalls for a libnfs path call: `op(context)`.
template <typename Op>
int WithContext(Op&& op) noexcept {
  return WithCalls([&](HandleCalls& /*calls*/, nfs_context* context) { return op(context); });
}

// `size` bytes at `at`, in WRITEs of at most the server's wtmax: the bytes written. `error`
// gets why it stopped short: a negative errno (-EIO when the server took nothing).
size_t WriteAll(HandleCalls& calls, nfs_context* context, const FileHandle& file, uint64_t at,
                const char* data, size_t size, bool stable, int& error) {
  const size_t most = std::max<uint64_t>(4096, nfs_get_writemax(context));
  size_t done = 0;
  error = 0;
  while (done < size) {
    const auto count = static_cast<uint32_t>(std::min(size - done, most));
    const int rc = calls.Write(file, at + done, data + done, count, stable);
    if (rc <= 0) {
      error = rc < 0 ? rc : -EIO;  // no progress: never loop forever
      break;
    }
    done += static_cast<size_t>(rc);
  }
  return done;
}

// The handle of directory `path`, from the cache or by LOOKUPs from the nearest known parent.
int ResolveDirectory(HandleCalls& calls, const std::string& path, FileHandle& out) {
  DirectoryHandles& directories = Fs().directories();
  const auto now = DirectoryHandles::Clock::now();
  if (auto known = directories.Find(path, now)) {
    out = std::move(*known);
    return 0;
  }
  const SplitPath split = Split(path);
  FileHandle parent;
  if (const int rc = ResolveDirectory(calls, split.parent, parent); rc != 0) {
    return rc;
  }
  DirectoryEntry entry;
  if (const int rc = calls.LookupEntry(parent, split.name, entry); rc != 0) {
    return rc;
  }
  // FUSE hands over paths the kernel walked: every component but the last is a directory,
  // unless another host replaced it since.
  if (entry.attributes.type != FileType::kDirectory) {
    return -ENOTDIR;
  }
  directories.Remember(path, entry.handle, now);
  out = std::move(entry.handle);
  return 0;
}

// Runs `op(calls, parent_handle, name)` for the entry `path` names. When the server calls a
// handle stale (another host removed or replaced a directory on the way), every remembered
// handle is forgotten (the stale one may be any ancestor; this is rare) and the call made once
// more from handles looked up afresh.
template <typename Op>
int InParent(HandleCalls& calls, const char* path, Op&& op) {
  const SplitPath split = Split(path);
  // FUSE lets names up to 1024 bytes through; a local filesystem refuses more than NAME_MAX,
  // and so does this one, whatever the server would do with them.
  if (split.name.size() > NAME_MAX) {
    return -ENAMETOOLONG;
  }
  for (int attempt = 0;; ++attempt) {
    FileHandle parent;
    int rc = ResolveDirectory(calls, split.parent, parent);
    if (rc == 0) {
      rc = op(parent, split.name);
    }
    if (rc != -ESTALE || attempt > 0) {
      return rc;
    }
    Fs().directories().Forget("/");
  }
}

// The object `path` names ("/" included), or the open file `fi`, with its attributes: the
// object itself, never what a symlink points to (lutimes, lchown).
int FindObject(HandleCalls& calls, const char* path, const fuse_file_info* fi, FileHandle& handle,
               FileAttributes& attributes) {
  if (fi != nullptr || std::strcmp(path, "/") == 0) {
    handle = fi != nullptr ? FileOf(fi).handle : Fs().directories().root();
    return calls.Attributes(handle, attributes);
  }
  return InParent(calls, path, [&](const FileHandle& parent, const std::string& name) {
    DirectoryEntry entry;
    const int rc = calls.LookupEntry(parent, name, entry);
    handle = std::move(entry.handle);
    attributes = entry.attributes;
    return rc;
  });
}

bool ReadOnly() { return Fs().options().read_only; }

mode_t TypeBits(uint32_t nfs_type) {
  switch (nfs_type) {
    case NF3REG:
      return S_IFREG;
    case NF3DIR:
      return S_IFDIR;
    case NF3BLK:
      return S_IFBLK;
    case NF3CHR:
      return S_IFCHR;
    case NF3LNK:
      return S_IFLNK;
    case NF3SOCK:
      return S_IFSOCK;
    case NF3FIFO:
      return S_IFIFO;
    default:
      return 0;
  }
}

void FillStat(const FileAttributes& from, struct stat* to) {
  *to = {};
  to->st_dev = static_cast<dev_t>(from.fsid);
  to->st_ino = from.fileid;
  to->st_mode = TypeBits(from.nfs_type) | from.mode;
  to->st_nlink = from.nlink;
  to->st_uid = from.uid;
  to->st_gid = from.gid;
  to->st_rdev = makedev(from.rdev_major, from.rdev_minor);
  to->st_size = static_cast<off_t>(from.size);
  to->st_blksize = kBlockSize;
  to->st_blocks = static_cast<blkcnt_t>((from.used + 511) / 512);
  to->st_atim = {from.atime.seconds, from.atime.nanoseconds};
  to->st_mtim = {from.mtime.seconds, from.mtime.nanoseconds};
  to->st_ctim = {from.ctime.seconds, from.ctime.nanoseconds};
}

bool Writes(int flags) { return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC) != 0; }

// Hands a file to FUSE as fi->fh. fi->fh is a bare integer, so the OpenFile is released into
// it here and adopted back in Release.
int Adopt(FileHandle handle, fuse_file_info* fi) {
  auto file = std::make_unique<OpenFile>();
  file->handle = std::move(handle);
  file->append = (fi->flags & O_APPEND) != 0;
  file->sync = (fi->flags & (O_SYNC | O_DSYNC)) != 0;
  file->stream = Fs().write_behind().Open(file.get());
  // keep_cache stays 0: the kernel drops its page cache at every open, which gives the
  // close-to-open consistency NFS users expect when another host changed the file.
  fi->keep_cache = 0;
  fi->fh = reinterpret_cast<uintptr_t>(file.release());
  return 0;
}

// The ACCESS3 bits open(2) with `flags` needs: what the kernel NFS client asks for too.
uint32_t AccessFor(int flags) {
  uint32_t wanted = 0;
  switch (flags & O_ACCMODE) {
    case O_RDONLY:
      wanted = ACCESS3_READ;
      break;
    case O_WRONLY:
      wanted = ACCESS3_MODIFY;
      break;
    default:
      wanted = ACCESS3_READ | ACCESS3_MODIFY;
  }
  if ((flags & O_TRUNC) != 0) {
    wanted |= ACCESS3_MODIFY;
  }
  return wanted;
}

int Open(const char* path, fuse_file_info* fi) {
  if (ReadOnly() && Writes(fi->flags)) {
    return -EROFS;
  }
  FileHandle handle;
  const int rc = WithCalls([&](HandleCalls& calls, nfs_context*) {
    return InParent(calls, path, [&](const FileHandle& parent, const std::string& name) {
      DirectoryEntry entry;
      if (const int found = calls.LookupEntry(parent, name, entry); found != 0) {
        return found;
      }
      const uint32_t wanted = AccessFor(fi->flags);
      uint32_t granted = 0;
      if (const int checked = calls.Access(entry.handle, wanted, granted); checked != 0) {
        return checked;
      }
      if ((granted & wanted) != wanted) {
        return -EACCES;
      }
      if ((fi->flags & O_TRUNC) != 0) {
        if (const int emptied = calls.Resize(entry.handle, 0); emptied != 0) {
          return emptied;
        }
      }
      handle = std::move(entry.handle);
      return 0;
    });
  });
  return rc != 0 ? rc : Adopt(std::move(handle), fi);
}

int Create(const char* path, mode_t mode, fuse_file_info* fi) {
  if (ReadOnly()) {
    return -EROFS;
  }
  FileHandle handle;
  const int rc = WithCalls([&](HandleCalls& calls, nfs_context*) {
    return InParent(calls, path, [&](const FileHandle& parent, const std::string& name) {
      DirectoryEntry entry;
      const CreateMode how =
          (fi->flags & O_EXCL) != 0 ? CreateMode::kFailIfExists : CreateMode::kOpenExisting;
      const int created = calls.Create(parent, name, static_cast<uint32_t>(mode & 07777), how,
                                       (fi->flags & O_TRUNC) != 0, entry);
      if (created == 0) {
        handle = std::move(entry.handle);
      }
      return created;
    });
  });
  return rc != 0 ? rc : Adopt(std::move(handle), fi);
}

// --- operations -------------------------------------------------------------------------

void* Init(fuse_conn_info* /*conn*/, fuse_config* config) {
  // NFS file ids are stable and unique within an export: hand them to the kernel as inode
  // numbers so hard links and `find -inum` behave.
  config->use_ino = 1;
  config->readdir_ino = 1;
  config->attr_timeout = Fs().options().attr_timeout_seconds;
  config->entry_timeout = Fs().options().attr_timeout_seconds;
  // A cached "no such file" would hide files other hosts create.
  config->negative_timeout = 0;
  // Unlinking an open file renames it to .fuse_hidden* until the last close, as the kernel NFS
  // client's silly rename does, so the open file stays readable.
  config->hard_remove = 0;
  config->kernel_cache = 0;
  return &Fs();
}

int GetAttr(const char* path, struct stat* st, fuse_file_info* fi) {
  Fs().OnFirstRequest();  // every path the kernel reaches starts with a getattr or a lookup
  return WithCalls([&](HandleCalls& calls, nfs_context*) {
    FileAttributes attributes;
    int rc = 0;
    if (fi != nullptr) {
      rc = calls.Attributes(FileOf(fi).handle, attributes);
    } else if (std::strcmp(path, "/") == 0) {
      rc = calls.Attributes(Fs().directories().root(), attributes);
    } else {
      // LOOKUP answers with the entry's attributes: one RPC, on the parent's handle.
      rc = InParent(calls, path, [&](const FileHandle& parent, const std::string& name) {
        DirectoryEntry entry;
        const int found = calls.LookupEntry(parent, name, entry);
        attributes = entry.attributes;
        return found;
      });
    }
    if (rc == 0) {
      FillStat(attributes, st);
      if (fi == nullptr) {
        Fs().aliases().Note(attributes.fileid, attributes.nlink, path);
      }
    }
    return rc;
  });
}

int Access(const char* path, int mask) {
  return WithContext([&](nfs_context* context) {
    if (mask == F_OK) {
      nfs_stat_64 attributes{};
      return nfs_lstat64(context, path, &attributes);
    }
    return nfs_access(context, path, mask);
  });
}

int ReadLink(const char* path, char* buffer, size_t size) {
  if (size == 0) {
    return -EINVAL;
  }
  return WithContext([&](nfs_context* context) {
    char* target = nullptr;
    const int rc = nfs_readlink2(context, path, &target);
    if (rc == 0) {
      const std::unique_ptr<char, decltype(&std::free)> owned(target, &std::free);
      // FUSE wants a NUL-terminated target, truncated like readlink(2) if too long.
      std::strncpy(buffer, target, size - 1);
      buffer[size - 1] = '\0';
    }
    return rc;
  });
}

int ReadDir(const char* path, void* buffer, fuse_fill_dir_t filler, off_t /*offset*/,
            fuse_file_info* /*fi*/, fuse_readdir_flags /*flags*/) {
  return WithContext([&](nfs_context* context) {
    nfsdir* raw = nullptr;
    const int rc = nfs_opendir(context, path, &raw);
    if (rc != 0) {
      return rc;
    }
    const NfsDir dir(context, raw);
    // Offset 0 for every entry: libfuse collects the whole listing in one call, which matches
    // libnfs reading the whole directory at opendir.
    while (const nfsdirent* entry = nfs_readdir(context, dir.get())) {
      struct stat st = {};
      st.st_ino = entry->inode;
      st.st_mode = TypeBits(entry->type) | (entry->mode & 07777);
      if (filler(buffer, entry->name, &st, 0, static_cast<fuse_fill_dir_flags>(0)) != 0) {
        break;
      }
    }
    return 0;
  });
}

int MkNod(const char* path, mode_t mode, dev_t rdev) {
  if (ReadOnly()) {
    return -EROFS;
  }
  if (S_ISREG(mode)) {
    // MKNOD3 makes devices, sockets and FIFOs; a regular file is a CREATE that fails if the
    // name exists, as mknod(2) does.
    return WithCalls([&](HandleCalls& calls, nfs_context*) {
      return InParent(calls, path, [&](const FileHandle& parent, const std::string& name) {
        DirectoryEntry entry;
        return calls.Create(parent, name, static_cast<uint32_t>(mode & 07777),
                            CreateMode::kFailIfExists, false, entry);
      });
    });
  }
  return WithContext([&](nfs_context* context) {
    return nfs_mknod(context, path, static_cast<int>(mode), static_cast<int>(rdev));
  });
}

int MkDir(const char* path, mode_t mode) {
  if (ReadOnly()) {
    return -EROFS;
  }
  return WithContext(
      [&](nfs_context* context) { return nfs_mkdir2(context, path, static_cast<int>(mode)); });
}

// The file id of what `path` names, when it has more than one link and this mount handed out
// names for such files at all (else no RPC): its other names' cached attributes go stale.
std::optional<uint64_t> HardLinkedFileId(const char* path) {
  if (Fs().aliases().empty()) {
    return std::nullopt;
  }
  std::optional<uint64_t> fileid;
  WithCalls([&](HandleCalls& calls, nfs_context*) {
    FileHandle handle;
    FileAttributes attributes;
    const int rc = FindObject(calls, path, nullptr, handle, attributes);
    if (rc == 0 && attributes.nlink > 1) {
      fileid = attributes.fileid;
    }
    return rc;
  });
  return fileid;
}

// Drops the kernel's cached attributes of every name noted for `fileid` (link count, ctime),
// and of `also`. Only attributes: safe inside the request that changed them.
void DropCachedAttributes(std::optional<uint64_t> fileid, const char* also = nullptr) {
  std::vector<std::string> names;
  if (fileid) {
    names = Fs().aliases().Take(*fileid);
  }
  if (also != nullptr) {
    names.emplace_back(also);
  }
  fuse* session = fuse_get_context()->fuse;
  for (const auto& name : names) {
    fuse_invalidate_path(session, name.c_str());  // -ENOENT: the kernel forgot it already
  }
}

int Unlink(const char* path) {
  if (ReadOnly()) {
    return -EROFS;
  }
  const std::optional<uint64_t> fileid = HardLinkedFileId(path);
  const int rc = WithContext([&](nfs_context* context) { return nfs_unlink(context, path); });
  if (rc == 0) {
    DropCachedAttributes(fileid);
  }
  return rc;
}

int RmDir(const char* path) {
  if (ReadOnly()) {
    return -EROFS;
  }
  Fs().directories().Forget(path);
  const int rc = WithContext([&](nfs_context* context) { return nfs_rmdir(context, path); });
  Fs().directories().Forget(path);  // and what a walk cached while the RMDIR was in flight
  return rc;
}

int SymLink(const char* target, const char* link_path) {
  if (ReadOnly()) {
    return -EROFS;
  }
  return WithContext([&](nfs_context* context) { return nfs_symlink(context, target, link_path); });
}

int Rename(const char* from, const char* to, unsigned int flags) {
  if (ReadOnly()) {
    return -EROFS;
  }
  // NFSv3 RENAME always replaces; RENAME_NOREPLACE could only be emulated racily across hosts,
  // and EINVAL makes tools such as mv fall back to plain rename.
  if (flags != 0) {
    return -EINVAL;
  }
  // A renamed directory's old path, and a directory it replaced, name nothing cached any more.
  Fs().directories().Forget(from);
  Fs().directories().Forget(to);
  // Other names of the renamed file (its ctime) and of a file it replaces (its link count).
  const std::optional<uint64_t> moved = HardLinkedFileId(from);
  const std::optional<uint64_t> replaced = HardLinkedFileId(to);
  const int rc = WithContext([&](nfs_context* context) { return nfs_rename(context, from, to); });
  Fs().directories().Forget(from);
  Fs().directories().Forget(to);
  if (rc == 0) {
    DropCachedAttributes(moved);
    DropCachedAttributes(replaced);
  }
  return rc;
}

int Link(const char* from, const char* to) {
  if (ReadOnly()) {
    return -EROFS;
  }
  const int rc = WithContext([&](nfs_context* context) { return nfs_link(context, from, to); });
  if (rc == 0) {
    // The file has two names now: the one linked from keeps a link count of one in the
    // kernel's cache, and so would any other.
    DropCachedAttributes(HardLinkedFileId(from), from);
  }
  return rc;
}

int ChMod(const char* path, mode_t mode, fuse_file_info* fi) {
  if (ReadOnly()) {
    return -EROFS;
  }
  ContextPool::Credentials caller;
  try {
    caller = Caller();  // its groups are read from /proc once, for the check and the call
  } catch (...) {
    return FromException();
  }
  return WithCallsAs(caller, [&](HandleCalls& calls, nfs_context*) {
    FileHandle handle;
    FileAttributes attributes;
    if (const int rc = FindObject(calls, path, fi, handle, attributes); rc != 0) {
      return rc;
    }
    // chmod(2) drops set-group-ID for a caller outside the file's group (unless root), as
    // every local filesystem does; the server sees only the mode it is sent.
    auto wanted = static_cast<uint32_t>(mode & 07777);
    if ((wanted & S_ISGID) != 0 && caller.uid != 0 && caller.gid != attributes.gid &&
        std::find(caller.groups.begin(), caller.groups.end(), attributes.gid) ==
            caller.groups.end()) {
      wanted &= ~static_cast<uint32_t>(S_ISGID);
    }
    return calls.SetMode(handle, wanted);
  });
}

int ChOwn(const char* path, uid_t uid, gid_t gid, fuse_file_info* /*fi*/) {
  if (ReadOnly()) {
    return -EROFS;
  }
  // -1 (leave unchanged) passes through: libnfs then leaves that attribute out of SETATTR.
  return WithContext([&](nfs_context* context) {
    return nfs_lchown(context, path, static_cast<int>(uid), static_cast<int>(gid));
  });
}

int Truncate(const char* path, off_t size, fuse_file_info* fi) {
  if (ReadOnly()) {
    return -EROFS;
  }
  if (fi != nullptr) {
    return WithCalls([&](HandleCalls& calls, nfs_context*) {
      return calls.Resize(FileOf(fi).handle, static_cast<uint64_t>(size));
    });
  }
  return WithContext([&](nfs_context* context) {
    return nfs_truncate(context, path, static_cast<uint64_t>(size));
  });
}

TimeChange ToTimeChange(const struct timespec* times, int which) {
  if (times == nullptr || times[which].tv_nsec == UTIME_NOW) {
    return {.kind = TimeChange::Kind::kServerNow, .time = {}};
  }
  if (times[which].tv_nsec == UTIME_OMIT) {
    return {};
  }
  return {.kind = TimeChange::Kind::kSet,
          .time = {static_cast<uint32_t>(times[which].tv_sec),
                   static_cast<uint32_t>(times[which].tv_nsec)}};
}

int UTimeNs(const char* path, const struct timespec times[2], fuse_file_info* fi) {
  if (ReadOnly()) {
    return -EROFS;
  }
  // One SETATTR with each time as asked: "now" is the server's clock and an omitted time is
  // left out.
  const TimeChange atime = ToTimeChange(times, 0);
  const TimeChange mtime = ToTimeChange(times, 1);
  if (atime.kind == TimeChange::Kind::kKeep && mtime.kind == TimeChange::Kind::kKeep) {
    return 0;  // nothing asked, nothing checked (utimensat(2))
  }
  const bool touch =
      atime.kind == TimeChange::Kind::kServerNow && mtime.kind == TimeChange::Kind::kServerNow;
  const uid_t caller = fuse_get_context()->uid;
  return WithCalls([&](HandleCalls& calls, nfs_context*) {
    FileHandle handle;
    FileAttributes attributes;
    if (const int rc = FindObject(calls, path, fi, handle, attributes); rc != 0) {
      return rc;
    }
    // utimensat(2): touching both times to "now" is for whoever may write the file (the
    // server checks that); anything else, even one "now" beside an omitted time, is the
    // owner's (or root's) call.
    if (!touch && caller != 0 && caller != attributes.uid) {
      return -EPERM;
    }
    return calls.SetTimes(handle, atime, mtime);
  });
}

int Read(const char* /*path*/, char* buffer, size_t size, off_t offset, fuse_file_info* fi) {
  const OpenFile& file = FileOf(fi);
  return WithCalls([&](HandleCalls& calls, nfs_context* context) {
    // The kernel asks for up to max_read (1 MiB) at once; the server takes up to its rtmax.
    const size_t most = std::max<uint64_t>(4096, nfs_get_readmax(context));
    size_t done = 0;
    while (done < size) {
      const auto count = static_cast<uint32_t>(std::min(size - done, most));
      bool eof = false;
      const int rc = calls.ReadInto(file.handle, static_cast<uint64_t>(offset) + done, count,
                                    buffer + done, eof);
      if (rc < 0) {
        return done > 0 ? static_cast<int>(done) : rc;
      }
      done += static_cast<size_t>(rc);
      if (eof || rc == 0) {
        break;
      }
    }
    return static_cast<int>(done);
  });
}

int Write(const char* /*path*/, const char* buffer, size_t size, off_t offset, fuse_file_info* fi) {
  if (ReadOnly()) {
    return -EROFS;
  }
  OpenFile& file = FileOf(fi);
  file.uncommitted = true;
  WriteBehind& behind = Fs().write_behind();
  if (!file.append && !file.sync && Fs().options().write_behind_bytes > 0) {
    try {
      const int rc = behind.Submit(file.stream, static_cast<uint64_t>(offset), buffer, size,
                                   std::make_shared<const ContextPool::Credentials>(Caller()));
      return rc != 0 ? rc : static_cast<int>(size);
    } catch (...) {
      return FromException();
    }
  }
  if (const int rc = behind.Drain(*file.stream); rc != 0) {
    return rc;
  }
  return WithCalls([&](HandleCalls& calls, nfs_context* context) {
    uint64_t at = static_cast<uint64_t>(offset);
    // O_APPEND: the kernel's offset is its cached size, stale when another host appended; the
    // server's size right before the write is as close as NFSv3 gets.
    if (file.append) {
      FileAttributes attributes;
      if (const int rc = calls.Attributes(file.handle, attributes); rc != 0) {
        return rc;
      }
      at = attributes.size;
    }
    int error = 0;
    const size_t done = WriteAll(calls, context, file.handle, at, buffer, size, file.sync, error);
    return done > 0 ? static_cast<int>(done) : error;  // write(2): a short count, else the error
  });
}

int StatFs(const char* path, struct statvfs* out) {
  return WithContext([&](nfs_context* context) {
    nfs_statvfs_64 in{};
    const int rc = nfs_statvfs64(context, path, &in);
    if (rc == 0) {
      *out = {};
      out->f_bsize = in.f_bsize;
      out->f_frsize = in.f_frsize;
      out->f_blocks = in.f_blocks;
      out->f_bfree = in.f_bfree;
      out->f_bavail = in.f_bavail;
      out->f_files = in.f_files;
      out->f_ffree = in.f_ffree;
      out->f_favail = in.f_favail;
      out->f_fsid = in.f_fsid;
      out->f_flag = in.f_flag | (ReadOnly() ? ST_RDONLY : 0);
      out->f_namemax = in.f_namemax;
    }
    return rc;
  });
}

// Sends the file's queued writes, then COMMITs it. Waits for no other file's writes.
int Commit(fuse_file_info* fi) {
  OpenFile& file = FileOf(fi);
  if (const int rc = Fs().write_behind().Drain(*file.stream); rc != 0) {
    return rc;
  }
  try {
    return OnLease(Fs().pool(), Caller(),
                   [&](HandleCalls& calls, nfs_context*) { return calls.Commit(file.handle); });
  } catch (...) {
    return FromException();
  }
}

int Flush(const char* /*path*/, fuse_file_info* fi) {
  OpenFile& file = FileOf(fi);
  if (!file.uncommitted.exchange(false)) {
    return 0;
  }
  const int rc = Commit(fi);
  if (rc != 0) {
    file.uncommitted = true;  // a later fsync or close tries again
  }
  return rc;
}

int FSync(const char* /*path*/, int /*datasync*/, fuse_file_info* fi) {
  OpenFile& file = FileOf(fi);
  file.uncommitted = false;
  const int rc = Commit(fi);
  if (rc != 0) {
    file.uncommitted = true;
  }
  return rc;
}

// NFSv3 servers must make directory changes stable before they reply (RFC 1813), so there
// is nothing left to flush for a directory.
int FSyncDir(const char* /*path*/, int /*datasync*/, fuse_file_info* /*fi*/) { return 0; }

int Release(const char* /*path*/, fuse_file_info* fi) {
  const std::unique_ptr<OpenFile> file(&FileOf(fi));
  // NFSv3 has no open state on the server: nothing to close there, only queued writes to send
  // (flush, at every close(2), sent and reported them; these came after it, e.g. through mmap).
  if (const int rc = Fs().write_behind().Drain(*file->stream); rc != 0) {
    spdlog::error("a write after the last flush failed: {}", std::strerror(-rc));
    return rc;
  }
  return 0;
}

}  // namespace

Filesystem::Filesystem(ContextPool& pool, FileHandle root, FilesystemOptions options)
    : pool_(pool),
      options_(std::move(options)),
      directories_(std::move(root),
                   std::chrono::duration_cast<DirectoryHandles::Clock::duration>(
                       std::chrono::duration<double>(options_.attr_timeout_seconds))) {
  // Runs on WriteBehind's workers, outside any FUSE request: no Fs(), no Caller().
  auto send = [this](const void* file, const WriteBehind::Job& job) {
    const auto& open_file = *static_cast<const OpenFile*>(file);
    const auto& who = *static_cast<const ContextPool::Credentials*>(job.context.get());
    return OnLease(pool_, who, [&](HandleCalls& calls, nfs_context* context) {
      int error = 0;
      WriteAll(calls, context, open_file.handle, job.offset, job.data.data(), job.data.size(),
               false, error);
      return error;  // all of it, or why not
    });
  };
  const size_t per_file = std::max<size_t>(options_.write_behind_bytes, 1);
  write_behind_ = std::make_unique<WriteBehind>(
      send,
      WriteBehind::Limits{.workers = 2, .bytes_per_file = per_file, .bytes_in_all = 16 * per_file});
}

void Filesystem::OnFirstRequest() {
  std::call_once(first_request_, [this] {
    if (options_.on_first_request) {
      options_.on_first_request();
    }
  });
}

fuse_operations Filesystem::Operations() {
  fuse_operations ops = {};
  ops.init = Init;
  ops.getattr = GetAttr;
  ops.access = Access;
  ops.readlink = ReadLink;
  ops.readdir = ReadDir;
  ops.mknod = MkNod;
  ops.mkdir = MkDir;
  ops.unlink = Unlink;
  ops.rmdir = RmDir;
  ops.symlink = SymLink;
  ops.rename = Rename;
  ops.link = Link;
  ops.chmod = ChMod;
  ops.chown = ChOwn;
  ops.truncate = Truncate;
  ops.utimens = UTimeNs;
  ops.open = Open;
  ops.create = Create;
  ops.read = Read;
  ops.write = Write;
  ops.statfs = StatFs;
  ops.flush = Flush;
  ops.fsync = FSync;
  ops.fsyncdir = FSyncDir;
  ops.release = Release;
  return ops;
}

}  // namespace berth::nfs
