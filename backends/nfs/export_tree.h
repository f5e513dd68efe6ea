// Files and directories on an NFS export, through libnfs (no mount needed): what the NFS
// backend needs to create, list, archive and delete volume directories and their metadata.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "backends/nfs/handle_calls.h"
#include "backends/nfs/nfs_context.h"

namespace berth::nfs {

class ExportTree {
 public:
  // `context` is mounted on the export's root; paths below start with '/'.
  explicit ExportTree(std::unique_ptr<NfsContext> context);

  bool Exists(const std::string& path);
  // lstat: a symlink is never a directory, so RemoveTree cannot follow one out of a volume.
  bool IsDirectory(const std::string& path);
  // mkdir, then chmod and chown (mkdir's mode is filtered by the server's umask handling).
  void MakeDirectory(const std::string& path, int mode, int uid, int gid);
  void MakeDirectories(const std::string& path);          // mkdir -p with mode 0755
  std::vector<std::string> List(const std::string& dir);  // without "." and ".."
  // What changes whenever an entry of `path` (a directory) is added, removed or renamed over:
  // its file id, size, mtime and ctime, as one opaque string; nullopt when it does not exist.
  std::optional<std::string> ChangeStamp(const std::string& path);
  std::optional<std::string> ReadFile(const std::string& path);
  // Write to a temp name of this writer's own ("<path>.<token>-<n>.tmp"), then rename: readers
  // never see half a file, and two writers never share a temp file.
  void WriteFile(const std::string& path, const std::string& content);
  // Like WriteFile, but only if `path` does not exist (a hard link of the temp file, which
  // fails if the name exists): false, with nothing changed, when it does.
  bool CreateFile(const std::string& path, const std::string& content);
  void Rename(const std::string& from, const std::string& to);
  void RemoveFile(const std::string& path);

  // The walks below go by file handle: `path` itself is looked up from the export root one name
  // at a time, refusing a symlink anywhere in it, and everything under it by its directory's
  // handle. A directory that a client swaps for another, or for a symlink, while the walk is in
  // it aborts the walk with kConflict; nothing outside `path` is ever read or removed.

  void RemoveTree(const std::string& path);  // rm -rf through NFS
  // Bytes in the regular files under `path`.
  uint64_t TreeBytes(const std::string& path);
  // Copies the tree at `from` to `to` (which must not exist): directories, regular files and
  // symlinks with their modes and owners; other file types are skipped. `progress` gets
  // (bytes copied, bytes in all) after each chunk.
  void CopyTree(const std::string& from, const std::string& to,
                const std::function<void(uint64_t, uint64_t)>& progress);

  // Called with a directory's path after the walks above have listed it and before they act on
  // its entries: where a test swaps the directory the way a hostile client could.
  void SetListedHookForTesting(std::function<void(const std::string&)> hook) {
    listed_hook_ = std::move(hook);
  }

 private:
  nfs_context* ctx() { return context_->get(); }
  static std::string TempName(const std::string& path);
  void WriteTemp(const std::string& temp, const std::string& content);
  // The directory holding `path`, and `path`'s entry in it (nullopt when there is none).
  std::pair<FileHandle, std::optional<DirectoryEntry>> Resolve(const std::string& path);
  std::vector<DirectoryEntry> ListForWalk(const DirectoryEntry& dir, const std::string& path);
  // Whether `dir`'s name in `parent` still exists; kConflict when it now names anything but
  // the directory `dir` was.
  bool StillThere(const FileHandle& parent, const DirectoryEntry& dir, const std::string& path,
                  const std::string& operation);
  void RemoveEntry(const FileHandle& parent, const DirectoryEntry& entry, const std::string& path);
  uint64_t EntryBytes(const DirectoryEntry& entry, const std::string& path);
  void CopyEntry(const FileHandle& parent, const DirectoryEntry& from, const std::string& from_path,
                 const std::string& to, uint64_t total, uint64_t& done,
                 const std::function<void(uint64_t, uint64_t)>& progress);

  // calls_ is declared first so that it goes last: destroying the context completes (cancels)
  // any call still in flight, and the call's record must still exist then.
  std::unique_ptr<HandleCalls> calls_;
  std::unique_ptr<NfsContext> context_;
  std::optional<FileHandle> root_;
  std::function<void(const std::string&)> listed_hook_;
};

}  // namespace berth::nfs
