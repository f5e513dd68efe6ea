// Files and directories on an NFS export, through libnfs (no mount needed): what the NFS
// backend needs to create, list, archive and delete volume directories and their metadata.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "backends/nfs/nfs_context.h"

namespace berth::nfs {

class ExportTree {
 public:
  // `context` is mounted on the export's root; paths below start with '/'.
  explicit ExportTree(std::unique_ptr<NfsContext> context) : context_(std::move(context)) {}

  bool Exists(const std::string& path);
  // lstat: a symlink is never a directory, so RemoveTree cannot follow one out of a volume.
  bool IsDirectory(const std::string& path);
  // mkdir, then chmod and chown (mkdir's mode is filtered by the server's umask handling).
  void MakeDirectory(const std::string& path, int mode, int uid, int gid);
  void MakeDirectories(const std::string& path);          // mkdir -p with mode 0755
  std::vector<std::string> List(const std::string& dir);  // without "." and ".."
  std::optional<std::string> ReadFile(const std::string& path);
  // Write to a temp name of this writer's own ("<path>.<token>-<n>.tmp"), then rename: readers
  // never see half a file, and two writers never share a temp file.
  void WriteFile(const std::string& path, const std::string& content);
  // Like WriteFile, but only if `path` does not exist (a hard link of the temp file, which
  // fails if the name exists): false, with nothing changed, when it does.
  bool CreateFile(const std::string& path, const std::string& content);
  void Rename(const std::string& from, const std::string& to);
  void RemoveFile(const std::string& path);
  void RemoveTree(const std::string& path);  // rm -rf through NFS
  // Bytes in the regular files under `path` (symlinks not followed).
  uint64_t TreeBytes(const std::string& path);
  // Copies the tree at `from` to `to` (which must not exist): directories, regular files and
  // symlinks with their modes and owners; other file types are skipped. `progress` gets
  // (bytes copied, bytes in all) after each chunk.
  void CopyTree(const std::string& from, const std::string& to,
                const std::function<void(uint64_t, uint64_t)>& progress);

 private:
  nfs_context* ctx() { return context_->get(); }
  static std::string TempName(const std::string& path);
  void WriteTemp(const std::string& temp, const std::string& content);
  void CopyNode(const std::string& from, const std::string& to, uint64_t total, uint64_t& done,
                const std::function<void(uint64_t, uint64_t)>& progress);
  std::unique_ptr<NfsContext> context_;
};

}  // namespace berth::nfs
