#include "backends/nfs/handle_calls.h"

#include <fcntl.h>
#include <nfsc/libnfs-raw-nfs.h>
#include <nfsc/libnfs-raw.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <functional>

#include "common/error.h"

// libnfs declares struct nfs_fh for nfs_get_fh(), whose purpose is to hand an open file's handle
// to the raw calls, but defines it only in its private header. This is that definition; it is
// the same from libnfs 4.0 to 6.
struct nfs_fh {
  int len;
  char* val;
};

namespace berth::nfs {

struct HandleCalls::Call {
  bool done = false;
  int rpc_status = RPC_STATUS_SUCCESS;
  std::string rpc_error;
  int reply_errno = 0;
  // Runs inside libnfs' callback while the decoded reply is valid, and copies what it needs.
  std::function<int(void*)> on_reply;
  std::exception_ptr failure;
};

namespace {

constexpr uint32_t kMaxHandleBytes = 64;  // NFS3_FHSIZE
constexpr uint32_t kListBytes = 64 * 1024;

void OnReply(rpc_context* rpc, int status, void* data, void* private_data) {
  auto* call = static_cast<HandleCalls::Call*>(private_data);
  call->rpc_status = status;
  if (status == RPC_STATUS_SUCCESS) {
    try {
      call->reply_errno = call->on_reply(data);
    } catch (...) {
      call->failure = std::current_exception();
    }
  } else if (status == RPC_STATUS_ERROR && data != nullptr) {
    call->rpc_error = static_cast<const char*>(data);
  } else if (status == RPC_STATUS_TIMEOUT) {
    call->rpc_error = "command timed out";
  } else {
    const char* text = rpc_get_error(rpc);
    call->rpc_error = text != nullptr ? text : "cancelled";
  }
  call->done = true;
}

nfs_fh3 Wire(const FileHandle& handle) {
  nfs_fh3 fh{};
  fh.data.data_len = static_cast<u_int>(handle.bytes.size());
  fh.data.data_val = const_cast<char*>(handle.bytes.data());
  return fh;
}

FileHandle Owned(const nfs_fh3& fh) {
  return FileHandle{std::string(fh.data.data_val, fh.data.data_len)};
}

FileAttributes Convert(const fattr3& a) {
  FileAttributes out;
  switch (a.type) {
    case NF3REG:
      out.type = FileType::kRegular;
      break;
    case NF3DIR:
      out.type = FileType::kDirectory;
      break;
    case NF3LNK:
      out.type = FileType::kSymlink;
      break;
    default:
      out.type = FileType::kOther;
  }
  out.nfs_type = static_cast<uint32_t>(a.type);
  out.fileid = a.fileid;
  out.size = a.size;
  out.used = a.used;
  out.mode = a.mode & 07777;
  out.nlink = a.nlink;
  out.uid = a.uid;
  out.gid = a.gid;
  out.rdev_major = a.rdev.specdata1;
  out.rdev_minor = a.rdev.specdata2;
  out.fsid = a.fsid;
  out.atime = {a.atime.seconds, a.atime.nseconds};
  out.mtime = {a.mtime.seconds, a.mtime.nseconds};
  out.ctime = {a.ctime.seconds, a.ctime.nseconds};
  return out;
}

}  // namespace

namespace {

Error ReplyError(int rc, const std::string& what) {
  return Error(CodeForErrno(rc), what + ": " + std::strerror(-rc), -rc);
}

}  // namespace

HandleCalls::HandleCalls(NfsContext& context) : context_(context) {}
HandleCalls::~HandleCalls() = default;

int HandleCalls::Send(const std::string& what, const Sender& send,
                      std::function<int(void*)> on_reply) {
  calls_.push_back(std::make_unique<Call>());
  Call& call = *calls_.back();
  call.on_reply = std::move(on_reply);
  auto forget = [&] {
    calls_.remove_if([&](const std::unique_ptr<Call>& c) { return c.get() == &call; });
  };
  nfs_context* nfs = context_.get();
  if (send(nfs_get_rpc_context(nfs), &OnReply, &call) != 0) {
    forget();
    throw Error(ErrorCode::kUnavailable, "cannot send " + what + ": " + context_.LastError());
  }
  while (!call.done) {
    pollfd pfd{nfs_get_fd(nfs), static_cast<short>(nfs_which_events(nfs)), 0};
    const int ready = ::poll(&pfd, 1, 100);
    if (ready < 0 && errno == EINTR) {
      continue;
    }
    if (nfs_service(nfs, ready < 0 ? -1 : pfd.revents) < 0) {
      // libnfs may still complete the call later (a reconnect, or the context's end): it stays
      // in calls_, and must no longer write to this frame's variables.
      call.on_reply = [](void*) { return 0; };
      throw Error(ErrorCode::kUnavailable,
                  what + ": the NFS connection failed: " + context_.LastError());
    }
  }
  const int status = call.rpc_status;
  const std::string error = call.rpc_error;
  const int reply_errno = call.reply_errno;
  const std::exception_ptr failure = call.failure;
  forget();
  if (status != RPC_STATUS_SUCCESS) {
    throw Error(ErrorCode::kUnavailable, what + ": " + error);
  }
  if (failure) {
    std::rethrow_exception(failure);
  }
  return reply_errno;
}

template <typename Res, typename Args, typename OnOk>
int HandleCalls::Ask(const std::string& what, int (*op)(rpc_context*, rpc_cb, Args*, void*),
                     Args& args, OnOk&& on_ok) {
  return Send(
      what, [&](rpc_context* rpc, rpc_cb cb, void* call) { return op(rpc, cb, &args, call); },
      [&](void* reply) {
        const auto& res = *static_cast<const Res*>(reply);
        if (res.status == NFS3_OK) {
          on_ok(res);
        }
        return nfsstat3_to_errno(res.status);
      });
}

FileHandle HandleCalls::Root() {
  nfsfh* raw = nullptr;
  const int rc = nfs_open(context_.get(), "/", O_RDONLY, &raw);
  if (rc != 0) {
    throw Error(CodeForErrno(rc), "cannot open the root of the NFS export: " + context_.LastError(),
                -rc);
  }
  NfsFile root(context_.get(), raw);
  const nfs_fh* fh = nfs_get_fh(root.get());
  if (fh == nullptr || fh->len <= 0 || static_cast<uint32_t>(fh->len) > kMaxHandleBytes) {
    throw Error(ErrorCode::kInternal, "libnfs returned no usable handle for the export root");
  }
  return FileHandle{std::string(fh->val, static_cast<size_t>(fh->len))};
}

int HandleCalls::Attributes(const FileHandle& object, FileAttributes& out) {
  GETATTR3args args{};
  args.object = Wire(object);
  return Ask<GETATTR3res>("GETATTR", rpc_nfs3_getattr_async, args, [&](const GETATTR3res& res) {
    out = Convert(res.GETATTR3res_u.resok.obj_attributes);
  });
}

FileAttributes HandleCalls::GetAttributes(const FileHandle& object) {
  FileAttributes out;
  const int rc = Attributes(object, out);
  if (rc != 0) {
    throw ReplyError(rc, "cannot read the attributes of an NFS object");
  }
  return out;
}

int HandleCalls::LookupEntry(const FileHandle& directory, const std::string& name,
                             DirectoryEntry& out) {
  LOOKUP3args args{};
  args.what.dir = Wire(directory);
  args.what.name = const_cast<char*>(name.c_str());
  out.name = name;
  bool have_attributes = false;
  const int rc =
      Ask<LOOKUP3res>("LOOKUP " + name, rpc_nfs3_lookup_async, args, [&](const LOOKUP3res& res) {
        const auto& ok = res.LOOKUP3res_u.resok;
        out.handle = Owned(ok.object);
        if (ok.obj_attributes.attributes_follow) {
          out.attributes = Convert(ok.obj_attributes.post_op_attr_u.attributes);
          have_attributes = true;
        }
      });
  if (rc != 0 || have_attributes) {
    return rc;
  }
  return Attributes(out.handle, out.attributes);
}

std::optional<DirectoryEntry> HandleCalls::Lookup(const FileHandle& directory,
                                                  const std::string& name) {
  DirectoryEntry entry;
  const int rc = LookupEntry(directory, name, entry);
  if (rc == -ENOENT) {
    return std::nullopt;
  }
  if (rc != 0) {
    throw ReplyError(rc, "cannot look up " + name + " on the NFS export");
  }
  return entry;
}

int HandleCalls::Access(const FileHandle& object, uint32_t wanted, uint32_t& granted) {
  ACCESS3args args{};
  args.object = Wire(object);
  args.access = wanted;
  granted = 0;
  return Ask<ACCESS3res>("ACCESS", rpc_nfs3_access_async, args,
                         [&](const ACCESS3res& res) { granted = res.ACCESS3res_u.resok.access; });
}

int HandleCalls::Create(const FileHandle& directory, const std::string& name, uint32_t mode,
                        CreateMode how, bool truncate, DirectoryEntry& out) {
  CREATE3args args{};
  args.where.dir = Wire(directory);
  args.where.name = const_cast<char*>(name.c_str());
  args.how.mode = how == CreateMode::kFailIfExists ? GUARDED : UNCHECKED;
  sattr3& initial = args.how.createhow3_u.obj_attributes;
  initial.mode.set_it = 1;
  initial.mode.set_mode3_u.mode = mode & 07777;
  if (truncate) {
    initial.size.set_it = 1;
    initial.size.set_size3_u.size = 0;
  }
  out.name = name;
  bool have_handle = false;
  bool have_attributes = false;
  const int rc =
      Ask<CREATE3res>("CREATE " + name, rpc_nfs3_create_async, args, [&](const CREATE3res& res) {
        const auto& ok = res.CREATE3res_u.resok;
        if (ok.obj.handle_follows) {
          out.handle = Owned(ok.obj.post_op_fh3_u.handle);
          have_handle = true;
        }
        if (ok.obj_attributes.attributes_follow) {
          out.attributes = Convert(ok.obj_attributes.post_op_attr_u.attributes);
          have_attributes = true;
        }
      });
  if (rc != 0) {
    return rc;
  }
  // RFC 1813 lets a server leave both out; the entry is there now, so ask for it.
  if (!have_handle) {
    return LookupEntry(directory, name, out);
  }
  return have_attributes ? 0 : Attributes(out.handle, out.attributes);
}

int HandleCalls::Resize(const FileHandle& file, uint64_t size) {
  SETATTR3args args{};
  args.object = Wire(file);
  args.new_attributes.size.set_it = 1;
  args.new_attributes.size.set_size3_u.size = size;
  return Ask<SETATTR3res>("SETATTR", rpc_nfs3_setattr_async, args, [](const SETATTR3res&) {});
}

namespace {

time_how How(const TimeChange& change) {
  switch (change.kind) {
    case TimeChange::Kind::kServerNow:
      return SET_TO_SERVER_TIME;
    case TimeChange::Kind::kSet:
      return SET_TO_CLIENT_TIME;
    case TimeChange::Kind::kKeep:
      break;
  }
  return DONT_CHANGE;
}

}  // namespace

int HandleCalls::SetMode(const FileHandle& object, uint32_t mode) {
  SETATTR3args args{};
  args.object = Wire(object);
  args.new_attributes.mode.set_it = 1;
  args.new_attributes.mode.set_mode3_u.mode = mode & 07777;
  return Ask<SETATTR3res>("SETATTR", rpc_nfs3_setattr_async, args, [](const SETATTR3res&) {});
}

int HandleCalls::SetTimes(const FileHandle& object, const TimeChange& atime,
                          const TimeChange& mtime) {
  SETATTR3args args{};
  args.object = Wire(object);
  args.new_attributes.atime.set_it = How(atime);
  args.new_attributes.atime.set_atime_u.atime = {atime.time.seconds, atime.time.nanoseconds};
  args.new_attributes.mtime.set_it = How(mtime);
  args.new_attributes.mtime.set_mtime_u.mtime = {mtime.time.seconds, mtime.time.nanoseconds};
  return Ask<SETATTR3res>("SETATTR", rpc_nfs3_setattr_async, args, [](const SETATTR3res&) {});
}

int HandleCalls::ReadInto(const FileHandle& file, uint64_t offset, uint32_t count, char* buffer,
                          bool& eof) {
  READ3args args{};
  args.file = Wire(file);
  args.offset = offset;
  args.count = count;
  uint32_t got = 0;
  eof = false;
  const int rc = Ask<READ3res>("READ", rpc_nfs3_read_async, args, [&](const READ3res& res) {
    const auto& ok = res.READ3res_u.resok;
    got = std::min<uint32_t>(ok.data.data_len, count);  // never past the caller's buffer
    std::memcpy(buffer, ok.data.data_val, got);
    eof = ok.eof != 0;
  });
  return rc != 0 ? rc : static_cast<int>(got);
}

int HandleCalls::Write(const FileHandle& file, uint64_t offset, const char* data, uint32_t count,
                       bool stable) {
  WRITE3args args{};
  args.file = Wire(file);
  args.offset = offset;
  args.count = count;
  args.stable = stable ? FILE_SYNC : UNSTABLE;
  args.data.data_len = count;
  args.data.data_val = const_cast<char*>(data);
  uint32_t written = 0;
  const int rc = Ask<WRITE3res>("WRITE", rpc_nfs3_write_async, args, [&](const WRITE3res& res) {
    written = std::min(res.WRITE3res_u.resok.count, count);
  });
  return rc != 0 ? rc : static_cast<int>(written);
}

int HandleCalls::Commit(const FileHandle& file) {
  COMMIT3args args{};
  args.file = Wire(file);
  return Ask<COMMIT3res>("COMMIT", rpc_nfs3_commit_async, args, [](const COMMIT3res&) {});
}

std::vector<DirectoryEntry> HandleCalls::List(const FileHandle& directory) {
  std::vector<DirectoryEntry> entries;
  std::vector<std::string> without_handle;  // names the server listed without a handle
  READDIRPLUS3args args{};
  args.dir = Wire(directory);
  args.dircount = kListBytes;
  args.maxcount = kListBytes;
  for (bool eof = false; !eof;) {
    const int rc = Send(
        "READDIRPLUS",
        [&](rpc_context* rpc, rpc_cb cb, void* call) {
          return rpc_nfs3_readdirplus_async(rpc, cb, &args, call);
        },
        [&](void* reply) {
          auto* res = static_cast<READDIRPLUS3res*>(reply);
          if (res->status != NFS3_OK) {
            return nfsstat3_to_errno(res->status);
          }
          const auto& ok = res->READDIRPLUS3res_u.resok;
          std::memcpy(args.cookieverf, ok.cookieverf, sizeof(args.cookieverf));
          // libnfs' decoder places list entries at 4-byte boundaries, short of entryplus3's
          // alignment: each is copied out before it is read.
          entryplus3 e{};
          for (const void* at = ok.reply.entries; at != nullptr; at = e.nextentry) {
            std::memcpy(&e, at, sizeof e);
            args.cookie = e.cookie;
            const std::string name = e.name;
            if (name == "." || name == "..") {
              continue;
            }
            if (!e.name_handle.handle_follows || !e.name_attributes.attributes_follow) {
              without_handle.push_back(name);
              continue;
            }
            entries.push_back({name, Owned(e.name_handle.post_op_fh3_u.handle),
                               Convert(e.name_attributes.post_op_attr_u.attributes)});
          }
          eof = ok.reply.eof != 0;
          if (!eof && ok.reply.entries == nullptr) {
            return -EIO;  // no progress: the server would be asked the same forever
          }
          return 0;
        });
    if (rc != 0) {
      throw ReplyError(rc, "cannot list a directory on the NFS export");
    }
  }
  for (const auto& name : without_handle) {
    if (auto entry = Lookup(directory, name)) {  // gone since the listing: not an entry now
      entries.push_back(std::move(*entry));
    }
  }
  return entries;
}

int HandleCalls::Remove(const FileHandle& directory, const std::string& name) {
  REMOVE3args args{};
  args.object.dir = Wire(directory);
  args.object.name = const_cast<char*>(name.c_str());
  return Ask<REMOVE3res>("REMOVE " + name, rpc_nfs3_remove_async, args, [](const REMOVE3res&) {});
}

int HandleCalls::RemoveDirectory(const FileHandle& directory, const std::string& name) {
  RMDIR3args args{};
  args.object.dir = Wire(directory);
  args.object.name = const_cast<char*>(name.c_str());
  return Ask<RMDIR3res>("RMDIR " + name, rpc_nfs3_rmdir_async, args, [](const RMDIR3res&) {});
}

bool HandleCalls::Read(const FileHandle& file, uint64_t offset, uint32_t count, std::string& out) {
  const size_t before = out.size();
  out.resize(before + count);
  bool eof = false;
  const int rc = ReadInto(file, offset, count, out.data() + before, eof);
  out.resize(before + static_cast<size_t>(std::max(rc, 0)));
  if (rc < 0) {
    throw ReplyError(rc, "cannot read a file on the NFS export");
  }
  return !eof && rc > 0;
}

std::string HandleCalls::ReadLink(const FileHandle& link) {
  READLINK3args args{};
  args.symlink = Wire(link);
  std::string target;
  const int rc =
      Ask<READLINK3res>("READLINK", rpc_nfs3_readlink_async, args, [&](const READLINK3res& res) {
        if (res.READLINK3res_u.resok.data != nullptr) {
          target = res.READLINK3res_u.resok.data;
        }
      });
  if (rc != 0) {
    throw ReplyError(rc, "cannot read a symlink on the NFS export");
  }
  return target;
}

}  // namespace berth::nfs
