#include "backends/nfs/fuse/filesystem.h"

#include <fcntl.h>
#include <nfsc/libnfs-raw-nfs.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <utility>

#include <spdlog/spdlog.h>

#include "common/error.h"

namespace berth::nfs {

namespace {

// AUTH_SYS carries at most 16 supplementary groups (RFC 5531); the kernel NFS client also
// sends only the first 16.
constexpr int kMaxAuthGroups = 16;

// What fi->fh points at between open/create and release.
struct OpenFile {
  ContextPool::Slot* slot;  // the context that owns `file`; all I/O on it goes there
  std::unique_ptr<NfsFile> file;
  bool append;
  // libnfs sends WRITE3 as UNSTABLE (unless O_SYNC): the server may hold the data in memory
  // until a COMMIT. close(2) commits, as the kernel NFS client does, so data a program closed
  // survives a server restart.
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

// Runs `op(context)` on any pooled context as the calling process. FUSE callbacks are C:
// nothing may escape them.
template <typename Op>
int WithContext(Op&& op) noexcept {
  try {
    auto lease = Fs().pool().Acquire();
    lease.Impersonate(Caller());
    return ToFuseResult(lease.Check(op(lease.get())));
  } catch (...) {
    return FromException();
  }
}

// Runs `op(context, fh)` on the context that owns the open file.
template <typename Op>
int WithFile(const fuse_file_info* fi, Op&& op) noexcept {
  try {
    OpenFile& file = FileOf(fi);
    auto lease = Fs().pool().AcquireSlot(file.slot);
    lease.Impersonate(Caller());
    return ToFuseResult(lease.Check(op(lease.get(), file.file->get())));
  } catch (...) {
    return FromException();
  }
}

bool ReadOnly() { return Fs().options().read_only; }

void FillStat(const nfs_stat_64& from, struct stat* to) {
  *to = {};
  to->st_dev = from.nfs_dev;
  to->st_ino = from.nfs_ino;
  to->st_mode = static_cast<mode_t>(from.nfs_mode);
  to->st_nlink = from.nfs_nlink;
  to->st_uid = static_cast<uid_t>(from.nfs_uid);
  to->st_gid = static_cast<gid_t>(from.nfs_gid);
  to->st_rdev = from.nfs_rdev;
  to->st_size = static_cast<off_t>(from.nfs_size);
  to->st_blksize = static_cast<blksize_t>(from.nfs_blksize);
  to->st_blocks = static_cast<blkcnt_t>(from.nfs_blocks);
  to->st_atim = {static_cast<time_t>(from.nfs_atime), static_cast<long>(from.nfs_atime_nsec)};
  to->st_mtim = {static_cast<time_t>(from.nfs_mtime), static_cast<long>(from.nfs_mtime_nsec)};
  to->st_ctim = {static_cast<time_t>(from.nfs_ctime), static_cast<long>(from.nfs_ctime_nsec)};
}

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

// The open(2) flags libnfs understands; O_CREAT and O_EXCL are the kernel's business on open
// (it only sends create for them) and O_LARGEFILE means nothing to NFSv3.
int OpenFlags(int flags) { return flags & (O_ACCMODE | O_APPEND | O_TRUNC | O_SYNC | O_DSYNC); }

bool Writes(int flags) { return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC) != 0; }

// Takes ownership of a freshly opened nfsfh and hands it to FUSE as fi->fh. fi->fh is a bare
// integer, so the OpenFile is released into it here and adopted back in Release.
int Adopt(ContextPool::Lease& lease, nfsfh* fh, fuse_file_info* fi) {
  auto file = std::make_unique<OpenFile>();
  file->file = std::make_unique<NfsFile>(lease.get(), fh);
  file->slot = lease.slot();
  file->append = (fi->flags & O_APPEND) != 0;
  Fs().pool().AddOpenFile(lease.slot());
  // keep_cache stays 0: the kernel drops its page cache at every open, which gives the
  // close-to-open consistency NFS users expect when another host changed the file.
  fi->keep_cache = 0;
  fi->fh = reinterpret_cast<uintptr_t>(file.release());
  return 0;
}

int OpenOrCreate(const char* path, fuse_file_info* fi, bool create, mode_t mode) noexcept {
  if (ReadOnly() && (create || Writes(fi->flags))) {
    return -EROFS;
  }
  try {
    auto lease = Fs().pool().Acquire();
    lease.Impersonate(Caller());
    nfsfh* fh = nullptr;
    const int rc = create ? nfs_create(lease.get(), path,
                                       OpenFlags(fi->flags) | O_CREAT | (fi->flags & O_EXCL),
                                       static_cast<int>(mode), &fh)
                          : nfs_open(lease.get(), path, OpenFlags(fi->flags), &fh);
    if (rc < 0) {
      return ToFuseResult(lease.Check(rc));
    }
    return Adopt(lease, fh, fi);
  } catch (...) {
    return FromException();
  }
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

int GetAttr(const char* path, struct stat* st, fuse_file_info* /*fi*/) {
  return WithContext([&](nfs_context* context) {
    nfs_stat_64 attributes{};
    const int rc = nfs_lstat64(context, path, &attributes);
    if (rc == 0) {
      FillStat(attributes, st);
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

int Unlink(const char* path) {
  if (ReadOnly()) {
    return -EROFS;
  }
  return WithContext([&](nfs_context* context) { return nfs_unlink(context, path); });
}

int RmDir(const char* path) {
  if (ReadOnly()) {
    return -EROFS;
  }
  return WithContext([&](nfs_context* context) { return nfs_rmdir(context, path); });
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
  return WithContext([&](nfs_context* context) { return nfs_rename(context, from, to); });
}

int Link(const char* from, const char* to) {
  if (ReadOnly()) {
    return -EROFS;
  }
  return WithContext([&](nfs_context* context) { return nfs_link(context, from, to); });
}

int ChMod(const char* path, mode_t mode, fuse_file_info* /*fi*/) {
  if (ReadOnly()) {
    return -EROFS;
  }
  return WithContext(
      [&](nfs_context* context) { return nfs_chmod(context, path, static_cast<int>(mode)); });
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
    return WithFile(fi, [&](nfs_context* context, nfsfh* fh) {
      return nfs_ftruncate(context, fh, static_cast<uint64_t>(size));
    });
  }
  return WithContext([&](nfs_context* context) {
    return nfs_truncate(context, path, static_cast<uint64_t>(size));
  });
}

int UTimeNs(const char* path, const struct timespec times[2], fuse_file_info* /*fi*/) {
  if (ReadOnly()) {
    return -EROFS;
  }
  return WithContext([&](nfs_context* context) {
    // Both "now": let the server stamp its own clock (SET_TO_SERVER_TIME), as NFS clients do.
    if (times == nullptr || (times[0].tv_nsec == UTIME_NOW && times[1].tv_nsec == UTIME_NOW)) {
      return nfs_lutimes(context, path, nullptr);
    }
    // libnfs only takes explicit times for both, in microseconds: fill in the omitted one
    // from the current attributes and "now" from our clock.
    nfs_stat_64 current{};
    if (times[0].tv_nsec == UTIME_OMIT || times[1].tv_nsec == UTIME_OMIT) {
      const int rc = nfs_lstat64(context, path, &current);
      if (rc != 0) {
        return rc;
      }
    }
    timeval now{};
    gettimeofday(&now, nullptr);
    timeval values[2];
    const uint64_t current_sec[2] = {current.nfs_atime, current.nfs_mtime};
    const uint64_t current_nsec[2] = {current.nfs_atime_nsec, current.nfs_mtime_nsec};
    for (int i = 0; i < 2; ++i) {
      if (times[i].tv_nsec == UTIME_NOW) {
        values[i] = now;
      } else if (times[i].tv_nsec == UTIME_OMIT) {
        values[i] = {static_cast<time_t>(current_sec[i]),
                     static_cast<suseconds_t>(current_nsec[i] / 1000)};
      } else {
        values[i] = {times[i].tv_sec, static_cast<suseconds_t>(times[i].tv_nsec / 1000)};
      }
    }
    return nfs_lutimes(context, path, values);
  });
}

int Open(const char* path, fuse_file_info* fi) { return OpenOrCreate(path, fi, false, 0); }

int Create(const char* path, mode_t mode, fuse_file_info* fi) {
  return OpenOrCreate(path, fi, true, mode);
}

int Read(const char* /*path*/, char* buffer, size_t size, off_t offset, fuse_file_info* fi) {
  return WithFile(fi, [&](nfs_context* context, nfsfh* fh) {
    return nfs_pread(context, fh, static_cast<uint64_t>(offset), size, buffer);
  });
}

int Write(const char* /*path*/, const char* buffer, size_t size, off_t offset, fuse_file_info* fi) {
  if (ReadOnly()) {
    return -EROFS;
  }
  OpenFile& file = FileOf(fi);
  file.uncommitted = true;
  return WithFile(fi, [&](nfs_context* context, nfsfh* fh) {
    // O_APPEND: the kernel's offset is its cached size, stale when another host appended;
    // nfs_write on an O_APPEND handle asks the server for the size right before writing.
    if (file.append) {
      return nfs_write(context, fh, size, buffer);
    }
    return nfs_pwrite(context, fh, static_cast<uint64_t>(offset), size, buffer);
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

int Commit(fuse_file_info* fi) {
  return WithFile(fi, [&](nfs_context* context, nfsfh* fh) { return nfs_fsync(context, fh); });
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
  try {
    ContextPool& pool = Fs().pool();
    auto lease = pool.AcquireSlot(file->slot);
    file->file.reset();  // nfs_close must run on the owning context
    pool.RemoveOpenFile(file->slot);
  } catch (...) {
    return FromException();
  }
  return 0;
}

}  // namespace

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
