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

struct FileAttributes {
  FileType type = FileType::kOther;
  uint64_t fileid = 0;  // the inode number
  uint64_t size = 0;
  uint32_t mode = 0;  // permission bits only
  uint32_t uid = 0;
  uint32_t gid = 0;
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

  NfsContext& context_;
  // Calls whose reply never came (the connection failed) stay here: libnfs may still complete
  // them, with an error, when the context is destroyed.
  std::list<std::unique_ptr<Call>> calls_;
};

}  // namespace berth::nfs
