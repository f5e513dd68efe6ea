#include "backends/nfs/handle_calls.h"

#include <fcntl.h>
#include <nfsc/libnfs-raw-nfs.h>
#include <nfsc/libnfs-raw.h>
#include <poll.h>

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
  out.fileid = a.fileid;
  out.size = a.size;
  out.mode = a.mode & 07777;
  out.uid = a.uid;
  out.gid = a.gid;
  return out;
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

namespace {

Error ReplyError(int rc, const std::string& what) {
  return Error(CodeForErrno(rc), what + ": " + std::strerror(-rc), -rc);
}

}  // namespace

FileAttributes HandleCalls::GetAttributes(const FileHandle& object) {
  GETATTR3args args{};
  args.object = Wire(object);
  FileAttributes out;
  const int rc = Send(
      "GETATTR",
      [&](rpc_context* rpc, rpc_cb cb, void* call) {
        return rpc_nfs3_getattr_async(rpc, cb, &args, call);
      },
      [&](void* reply) {
        auto* res = static_cast<GETATTR3res*>(reply);
        if (res->status == NFS3_OK) {
          out = Convert(res->GETATTR3res_u.resok.obj_attributes);
        }
        return nfsstat3_to_errno(res->status);
      });
  if (rc != 0) {
    throw ReplyError(rc, "cannot read the attributes of an NFS object");
  }
  return out;
}

std::optional<DirectoryEntry> HandleCalls::Lookup(const FileHandle& directory,
                                                  const std::string& name) {
  LOOKUP3args args{};
  args.what.dir = Wire(directory);
  args.what.name = const_cast<char*>(name.c_str());
  DirectoryEntry entry;
  entry.name = name;
  bool have_attributes = false;
  const int rc = Send(
      "LOOKUP " + name,
      [&](rpc_context* rpc, rpc_cb cb, void* call) {
        return rpc_nfs3_lookup_async(rpc, cb, &args, call);
      },
      [&](void* reply) {
        auto* res = static_cast<LOOKUP3res*>(reply);
        if (res->status == NFS3_OK) {
          const auto& ok = res->LOOKUP3res_u.resok;
          entry.handle = Owned(ok.object);
          if (ok.obj_attributes.attributes_follow) {
            entry.attributes = Convert(ok.obj_attributes.post_op_attr_u.attributes);
            have_attributes = true;
          }
        }
        return nfsstat3_to_errno(res->status);
      });
  if (rc == -ENOENT) {
    return std::nullopt;
  }
  if (rc != 0) {
    throw ReplyError(rc, "cannot look up " + name + " on the NFS export");
  }
  if (!have_attributes) {
    entry.attributes = GetAttributes(entry.handle);
  }
  return entry;
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
  return Send(
      "REMOVE " + name,
      [&](rpc_context* rpc, rpc_cb cb, void* call) {
        return rpc_nfs3_remove_async(rpc, cb, &args, call);
      },
      [](void* reply) { return nfsstat3_to_errno(static_cast<REMOVE3res*>(reply)->status); });
}

int HandleCalls::RemoveDirectory(const FileHandle& directory, const std::string& name) {
  RMDIR3args args{};
  args.object.dir = Wire(directory);
  args.object.name = const_cast<char*>(name.c_str());
  return Send(
      "RMDIR " + name,
      [&](rpc_context* rpc, rpc_cb cb, void* call) {
        return rpc_nfs3_rmdir_async(rpc, cb, &args, call);
      },
      [](void* reply) { return nfsstat3_to_errno(static_cast<RMDIR3res*>(reply)->status); });
}

bool HandleCalls::Read(const FileHandle& file, uint64_t offset, uint32_t count, std::string& out) {
  READ3args args{};
  args.file = Wire(file);
  args.offset = offset;
  args.count = count;
  bool more = false;
  const int rc = Send(
      "READ",
      [&](rpc_context* rpc, rpc_cb cb, void* call) {
        return rpc_nfs3_read_async(rpc, cb, &args, call);
      },
      [&](void* reply) {
        auto* res = static_cast<READ3res*>(reply);
        if (res->status == NFS3_OK) {
          const auto& ok = res->READ3res_u.resok;
          out.append(ok.data.data_val, ok.data.data_len);
          more = ok.eof == 0 && ok.data.data_len > 0;
        }
        return nfsstat3_to_errno(res->status);
      });
  if (rc != 0) {
    throw ReplyError(rc, "cannot read a file on the NFS export");
  }
  return more;
}

std::string HandleCalls::ReadLink(const FileHandle& link) {
  READLINK3args args{};
  args.symlink = Wire(link);
  std::string target;
  const int rc = Send(
      "READLINK",
      [&](rpc_context* rpc, rpc_cb cb, void* call) {
        return rpc_nfs3_readlink_async(rpc, cb, &args, call);
      },
      [&](void* reply) {
        auto* res = static_cast<READLINK3res*>(reply);
        if (res->status == NFS3_OK && res->READLINK3res_u.resok.data != nullptr) {
          target = res->READLINK3res_u.resok.data;
        }
        return nfsstat3_to_errno(res->status);
      });
  if (rc != 0) {
    throw ReplyError(rc, "cannot read a symlink on the NFS export");
  }
  return target;
}

}  // namespace berth::nfs
