// NFSv3 calls addressed by file handle, on the connection of a mounted libnfs context.
//
// libnfs' path calls resolve every path from the export root and follow symlinks in the middle
// of it, so a directory swapped for a symlink redirects them. A call here names one entry in a
// directory by the directory's handle, and LOOKUP never follows a symlink: a walk by handle
// stays inside the tree it started in, whatever a client does to the names meanwhile.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backends/nfs/nfs_context.h"

namespace berth::nfs {

// An NFSv3 file handle: opaque bytes that name one object on the server.
struct FileHandle {
  std::string bytes;
};

enum class FileType { kRegular, kDirectory, kSymlink, kOther };

struct FileTime {
  uint32_t seconds = 0;
  uint32_t nanoseconds = 0;
};

struct FileAttributes {
  FileType type = FileType::kOther;
  uint32_t nfs_type = 0;  // ftype3, for the types FileType does not tell apart (fifo, device)
  uint64_t fileid = 0;    // the inode number
  uint64_t size = 0;
  uint64_t used = 0;  // bytes the server allocated
  uint32_t mode = 0;  // permission bits only
  uint32_t nlink = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t rdev_major = 0;
  uint32_t rdev_minor = 0;
  uint64_t fsid = 0;
  FileTime atime;
  FileTime mtime;
  FileTime ctime;
};

// One timestamp in a SETATTR: left alone, set to the server's clock, or set to `time`.
struct TimeChange {
  enum class Kind { kKeep, kServerNow, kSet };
  Kind kind = Kind::kKeep;
  FileTime time;
};

// How CREATE treats an existing entry of the same name.
enum class CreateMode {
  kOpenExisting,  // UNCHECKED: the existing file is used (and truncated if asked)
  kFailIfExists,  // GUARDED: EEXIST
};

struct DirectoryEntry {
  std::string name;
  FileHandle handle;
  FileAttributes attributes;
};

class HandleCalls {
 public:
  // `context` must be mounted and outlive this object; only one thread may use both at a time.
  explicit HandleCalls(NfsContext& context);
  HandleCalls(const HandleCalls&) = delete;
  HandleCalls& operator=(const HandleCalls&) = delete;
  ~HandleCalls();

  FileHandle Root();  // the directory the context is mounted on
  FileAttributes GetAttributes(const FileHandle& object);
  // The entry `name` in `directory` itself (a symlink is returned, not followed); nullopt when
  // there is no such entry.
  std::optional<DirectoryEntry> Lookup(const FileHandle& directory, const std::string& name);
  // The same, non-throwing: 0 or a negative errno from the server (-ENOENT, -ENOTDIR, -ESTALE,
  // -EACCES, ...). A failed connection still throws (kUnavailable), as every call here does.
  int LookupEntry(const FileHandle& directory, const std::string& name, DirectoryEntry& out);
  int Attributes(const FileHandle& object, FileAttributes& out);
  // ACCESS3: the subset of `wanted` (ACCESS3_READ, _MODIFY, ...) the server grants the
  // context's credentials, in `granted`.
  int Access(const FileHandle& object, uint32_t wanted, uint32_t& granted);
  // CREATE3 of a regular file with permission bits `mode`; `truncate` empties an existing file
  // that kOpenExisting opens. The new entry's handle and attributes land in `out`.
  int Create(const FileHandle& directory, const std::string& name, uint32_t mode, CreateMode how,
             bool truncate, DirectoryEntry& out);
  // SETATTR3 of the size alone.
  int Resize(const FileHandle& file, uint64_t size);
  // SETATTR3 of the permission bits alone.
  int SetMode(const FileHandle& object, uint32_t mode);
  // SETATTR3 of the access and modification times alone. The server applies utimensat(2)'s
  // rules: the owner may set any time; whoever may write the file, only "now".
  int SetTimes(const FileHandle& object, const TimeChange& atime, const TimeChange& mtime);
  // One READ3 of at most `count` bytes into `buffer`: the byte count, or a negative errno;
  // `eof` tells whether the file ends there.
  int ReadInto(const FileHandle& file, uint64_t offset, uint32_t count, char* buffer, bool& eof);
  // One WRITE3 (UNSTABLE unless `stable`): the byte count the server took, or a negative errno.
  int Write(const FileHandle& file, uint64_t offset, const char* data, uint32_t count, bool stable);
  // COMMIT3 of the whole file.
  int Commit(const FileHandle& file);
  // Every entry but "." and "..", with handles and attributes.
  std::vector<DirectoryEntry> List(const FileHandle& directory);
  // REMOVE and RMDIR of `name` in `directory`: 0 or a negative errno (-ENOENT, -ENOTDIR, ...).
  int Remove(const FileHandle& directory, const std::string& name);
  int RemoveDirectory(const FileHandle& directory, const std::string& name);
  // Up to `count` bytes at `offset` appended to `out`; false once the end of the file is read.
  bool Read(const FileHandle& file, uint64_t offset, uint32_t count, std::string& out);
  std::string ReadLink(const FileHandle& link);

  struct Call;  // one RPC in flight (handle_calls.cc)

 private:
  using Sender = std::function<int(rpc_context*, rpc_cb, void*)>;
  // Sends one call with `send` (rpc_nfs3_<op>_async with its arguments bound) and serves the
  // context until the reply comes or libnfs times it out (kUnavailable). `on_reply` reads the
  // decoded reply and returns its status as 0 or a negative errno, which Send returns.
  int Send(const std::string& what, const Sender& send, std::function<int(void*)> on_reply);
  // Send for the usual shape: `op` is rpc_nfs3_<op>_async, its reply a Res whose status is
  // returned as 0 or a negative errno, and `on_ok(const Res&)` reads an NFS3_OK reply.
  template <typename Res, typename Args, typename OnOk>
  int Ask(const std::string& what, int (*op)(rpc_context*, rpc_cb, Args*, void*), Args& args,
          OnOk&& on_ok);

  NfsContext& context_;
  // Calls whose reply never came (the connection failed) stay here: libnfs may still complete
  // them, with an error, when the context is destroyed.
  std::list<std::unique_ptr<Call>> calls_;
};

}  // namespace berth::nfs
