#include "backends/nfs/export_tree.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "common/error.h"

namespace berth::nfs {

namespace {

Error NfsError(int rc, const std::string& what, NfsContext& context) {
  // libnfs 4.0 reports a timed-out call as EINTR: the server is away, not the request wrong.
  const bool away = rc == -EINTR || rc == -EIO || rc == -ETIMEDOUT || rc == -ECONNRESET;
  return Error(away ? ErrorCode::kUnavailable : CodeForErrno(rc), what + ": " + context.LastError(),
               -rc);
}

}  // namespace

ExportTree::ExportTree(std::unique_ptr<NfsContext> context) : context_(std::move(context)) {
  calls_ = std::make_unique<HandleCalls>(*context_);
}

bool ExportTree::Exists(const std::string& path) {
  struct nfs_stat_64 st {};
  int rc = nfs_stat64(ctx(), path.c_str(), &st);
  if (rc == -ENOENT) {
    return false;
  }
  if (rc != 0) {
    throw NfsError(rc, "cannot stat " + path + " on the NFS export", *context_);
  }
  return true;
}

std::optional<std::string> ExportTree::ChangeStamp(const std::string& path) {
  struct nfs_stat_64 st {};
  int rc = nfs_stat64(ctx(), path.c_str(), &st);
  if (rc == -ENOENT) {
    return std::nullopt;
  }
  if (rc != 0) {
    throw NfsError(rc, "cannot stat " + path + " on the NFS export", *context_);
  }
  return std::to_string(st.nfs_ino) + ":" + std::to_string(st.nfs_size) + ":" +
         std::to_string(st.nfs_mtime) + "." + std::to_string(st.nfs_mtime_nsec) + ":" +
         std::to_string(st.nfs_ctime) + "." + std::to_string(st.nfs_ctime_nsec);
}

bool ExportTree::IsDirectory(const std::string& path) {
  struct nfs_stat_64 st {};
  int rc = nfs_lstat64(ctx(), path.c_str(), &st);
  if (rc == -ENOENT) {
    return false;
  }
  if (rc != 0) {
    throw NfsError(rc, "cannot stat " + path + " on the NFS export", *context_);
  }
  return S_ISDIR(st.nfs_mode);
}

void ExportTree::MakeDirectory(const std::string& path, int mode, int uid, int gid) {
  int rc = nfs_mkdir2(ctx(), path.c_str(), mode);
  if (rc != 0 && rc != -EEXIST) {
    throw NfsError(rc, "cannot create directory " + path + " on the NFS export", *context_);
  }
  if ((rc = nfs_chmod(ctx(), path.c_str(), mode)) != 0) {
    throw NfsError(rc, "cannot chmod " + path + " on the NFS export", *context_);
  }
  if ((rc = nfs_chown(ctx(), path.c_str(), uid, gid)) != 0) {
    throw NfsError(rc, "cannot chown " + path + " on the NFS export", *context_);
  }
}

void ExportTree::MakeDirectories(const std::string& path) {
  std::string current;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    current = path.substr(0, pos);
    if (current.empty() || current == "/") {
      continue;
    }
    int rc = nfs_mkdir2(ctx(), current.c_str(), 0755);
    if (rc != 0 && rc != -EEXIST) {
      throw NfsError(rc, "cannot create directory " + current + " on the NFS export", *context_);
    }
  }
}

std::vector<std::string> ExportTree::List(const std::string& dir) {
  nfsdir* raw = nullptr;
  int rc = nfs_opendir(ctx(), dir.c_str(), &raw);
  if (rc == -ENOENT) {
    return {};
  }
  if (rc != 0) {
    throw NfsError(rc, "cannot list " + dir + " on the NFS export", *context_);
  }
  NfsDir listing(ctx(), raw);
  std::vector<std::string> names;
  while (nfsdirent* entry = nfs_readdir(ctx(), listing.get())) {
    const std::string name = entry->name;
    if (name != "." && name != "..") {
      names.push_back(name);
    }
  }
  return names;
}

std::optional<std::string> ExportTree::ReadFile(const std::string& path) {
  nfsfh* raw = nullptr;
  int rc = nfs_open(ctx(), path.c_str(), O_RDONLY, &raw);
  if (rc == -ENOENT) {
    return std::nullopt;
  }
  if (rc != 0) {
    throw NfsError(rc, "cannot open " + path + " on the NFS export", *context_);
  }
  NfsFile file(ctx(), raw);
  std::string content;
  char buf[65536];
  uint64_t offset = 0;
  for (;;) {
    int n = nfs_pread(ctx(), file.get(), offset, sizeof(buf), buf);
    if (n < 0) {
      throw NfsError(n, "cannot read " + path + " on the NFS export", *context_);
    }
    if (n == 0) {
      return content;
    }
    content.append(buf, static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
}

std::string ExportTree::TempName(const std::string& path) {
  // Unique per writer: two hosts writing one file at once never share (and tear) a temp file.
  static std::atomic<uint64_t> counter{0};
  static const std::string token = [] {
    std::random_device random;
    char buf[24];
    std::snprintf(buf, sizeof buf, "%08x%08x", random(), random());
    return std::string(buf);
  }();
  return path + "." + token + "-" + std::to_string(counter++) + ".tmp";
}

void ExportTree::WriteTemp(const std::string& temp, const std::string& content) {
  nfsfh* raw = nullptr;
  int rc = nfs_create(ctx(), temp.c_str(), O_WRONLY | O_TRUNC, 0644, &raw);
  if (rc != 0) {
    throw NfsError(rc, "cannot create " + temp + " on the NFS export", *context_);
  }
  {
    NfsFile file(ctx(), raw);
    uint64_t offset = 0;
    while (offset < content.size()) {
      int n = nfs_pwrite(ctx(), file.get(), offset, content.size() - offset,
                         const_cast<char*>(content.data() + offset));
      if (n <= 0) {
        throw NfsError(n, "cannot write " + temp + " on the NFS export", *context_);
      }
      offset += static_cast<uint64_t>(n);
    }
    if ((rc = nfs_fsync(ctx(), file.get())) != 0) {
      throw NfsError(rc, "cannot sync " + temp + " on the NFS export", *context_);
    }
  }
}

void ExportTree::WriteFile(const std::string& path, const std::string& content) {
  const std::string temp = TempName(path);
  try {
    WriteTemp(temp, content);
    Rename(temp, path);
  } catch (...) {
    nfs_unlink(ctx(), temp.c_str());
    throw;
  }
}

bool ExportTree::CreateFile(const std::string& path, const std::string& content) {
  const std::string temp = TempName(path);
  int rc = 0;
  try {
    WriteTemp(temp, content);
    // A hard link fails if the name exists: the file appears whole, and only once.
    rc = nfs_link(ctx(), temp.c_str(), path.c_str());
  } catch (...) {
    nfs_unlink(ctx(), temp.c_str());
    throw;
  }
  nfs_unlink(ctx(), temp.c_str());
  if (rc == -EEXIST) {
    return false;
  }
  if (rc != 0) {
    throw NfsError(rc, "cannot create " + path + " on the NFS export", *context_);
  }
  return true;
}

void ExportTree::Rename(const std::string& from, const std::string& to) {
  int rc = nfs_rename(ctx(), from.c_str(), to.c_str());
  if (rc != 0) {
    throw NfsError(rc, "cannot rename " + from + " to " + to + " on the NFS export", *context_);
  }
}

void ExportTree::RemoveFile(const std::string& path) {
  int rc = nfs_unlink(ctx(), path.c_str());
  if (rc != 0 && rc != -ENOENT) {
    throw NfsError(rc, "cannot remove " + path + " on the NFS export", *context_);
  }
}

std::pair<FileHandle, std::optional<DirectoryEntry>> ExportTree::Resolve(const std::string& path) {
  std::vector<std::string> names;
  for (size_t start = 0; start < path.size();) {
    size_t end = path.find('/', start);
    end = end == std::string::npos ? path.size() : end;
    if (end > start) {
      names.push_back(path.substr(start, end - start));
      if (names.back() == "." || names.back() == "..") {
        throw Error(ErrorCode::kInvalidArgument,
                    "refusing a path with '.' or '..' in it on the NFS export: " + path);
      }
    }
    start = end + 1;
  }
  if (names.empty()) {
    throw Error(ErrorCode::kInvalidArgument,
                "refusing to walk the whole NFS export ('" + path + "')");
  }
  if (!root_) {
    root_ = calls_->Root();
  }
  FileHandle directory = *root_;
  std::string walked;
  for (size_t i = 0; i + 1 < names.size(); ++i) {
    walked += "/" + names[i];
    auto entry = calls_->Lookup(directory, names[i]);
    if (!entry) {
      return {FileHandle{}, std::nullopt};
    }
    if (entry->attributes.type != FileType::kDirectory) {
      throw Error(ErrorCode::kConflict,
                  walked + " on the NFS export is not a directory (" +
                      (entry->attributes.type == FileType::kSymlink ? "a symlink" : "a file") +
                      "); refusing to walk through it");
    }
    directory = std::move(entry->handle);
  }
  auto last = calls_->Lookup(directory, names.back());
  return {std::move(directory), std::move(last)};
}

std::vector<DirectoryEntry> ExportTree::ListForWalk(const DirectoryEntry& dir,
                                                    const std::string& path) {
  auto entries = calls_->List(dir.handle);
  if (listed_hook_) {
    listed_hook_(path);
  }
  return entries;
}

bool ExportTree::StillThere(const FileHandle& parent, const DirectoryEntry& dir,
                            const std::string& path, const std::string& operation) {
  auto now = calls_->Lookup(parent, dir.name);
  if (!now) {
    return false;
  }
  if (now->attributes.type != FileType::kDirectory ||
      now->attributes.fileid != dir.attributes.fileid) {
    throw Error(ErrorCode::kConflict,
                path + " was replaced during the " + operation + "; " + operation + " aborted");
  }
  return true;
}

void ExportTree::RemoveTree(const std::string& path) {
  auto [parent, entry] = Resolve(path);
  if (entry) {
    RemoveEntry(parent, *entry, path);
  }
}

void ExportTree::RemoveEntry(const FileHandle& parent, const DirectoryEntry& entry,
                             const std::string& path) {
  if (entry.attributes.type != FileType::kDirectory) {
    const int rc = calls_->Remove(parent, entry.name);  // a symlink is removed, never followed
    if (rc != 0 && rc != -ENOENT) {
      throw Error(CodeForErrno(rc),
                  "cannot remove " + path + " on the NFS export: " + std::strerror(-rc), -rc);
    }
    return;
  }
  // The entries are removed through this directory's handle, so whatever a client renames or
  // swaps meanwhile, only what was inside this directory is touched.
  for (const auto& child : ListForWalk(entry, path)) {
    RemoveEntry(entry.handle, child, path + "/" + child.name);
  }
  if (!StillThere(parent, entry, path, "delete")) {
    return;
  }
  const int rc = calls_->RemoveDirectory(parent, entry.name);
  if (rc == -ENOTEMPTY || rc == -EEXIST) {
    throw Error(ErrorCode::kConflict,
                "files appeared in " + path + " during the delete; delete aborted");
  }
  if (rc == -ENOTDIR) {
    throw Error(ErrorCode::kConflict, path + " was replaced during the delete; delete aborted");
  }
  if (rc != 0 && rc != -ENOENT) {
    throw Error(CodeForErrno(rc),
                "cannot remove directory " + path + " on the NFS export: " + std::strerror(-rc),
                -rc);
  }
}

uint64_t ExportTree::TreeBytes(const std::string& path) {
  auto [parent, entry] = Resolve(path);
  if (!entry) {
    throw Error(ErrorCode::kNotFound, path + " does not exist on the NFS export");
  }
  return EntryBytes(*entry, path);
}

uint64_t ExportTree::EntryBytes(const DirectoryEntry& entry, const std::string& path) {
  if (entry.attributes.type == FileType::kRegular) {
    return entry.attributes.size;
  }
  uint64_t bytes = 0;
  if (entry.attributes.type == FileType::kDirectory) {
    for (const auto& child : calls_->List(entry.handle)) {
      bytes += EntryBytes(child, path + "/" + child.name);
    }
  }
  return bytes;
}

void ExportTree::CopyTree(const std::string& from, const std::string& to,
                          const std::function<void(uint64_t, uint64_t)>& progress) {
  if (Exists(to)) {
    throw Error(ErrorCode::kConflict, to + " already exists on the NFS export");
  }
  auto [parent, entry] = Resolve(from);
  if (!entry) {
    throw Error(ErrorCode::kNotFound, from + " does not exist on the NFS export");
  }
  const uint64_t total = EntryBytes(*entry, from);
  uint64_t done = 0;
  CopyEntry(parent, *entry, from, to, total, done, progress);
  if (progress) {
    progress(total, total);
  }
}

void ExportTree::CopyEntry(const FileHandle& parent, const DirectoryEntry& from,
                           const std::string& from_path, const std::string& to, uint64_t total,
                           uint64_t& done,
                           const std::function<void(uint64_t, uint64_t)>& progress) {
  const auto& attributes = from.attributes;
  const int mode = static_cast<int>(attributes.mode);
  const int uid = static_cast<int>(attributes.uid);
  const int gid = static_cast<int>(attributes.gid);
  int rc = 0;
  if (attributes.type == FileType::kDirectory) {
    MakeDirectory(to, 0700, 0, 0);  // opened up once its contents are in
    for (const auto& child : ListForWalk(from, from_path)) {
      CopyEntry(from.handle, child, from_path + "/" + child.name, to + "/" + child.name, total,
                done, progress);
    }
    // Reads went by handle, so they never left the tree; a swap still means the copy is not
    // the directory the caller named.
    if (!StillThere(parent, from, from_path, "copy")) {
      throw Error(ErrorCode::kConflict, from_path + " was removed during the copy; copy aborted");
    }
    if ((rc = nfs_chmod(ctx(), to.c_str(), mode)) != 0 ||
        (rc = nfs_chown(ctx(), to.c_str(), uid, gid)) != 0) {
      throw NfsError(rc, "cannot set the owner and mode of " + to, *context_);
    }
    return;
  }
  if (attributes.type == FileType::kSymlink) {
    const std::string target = calls_->ReadLink(from.handle);
    if ((rc = nfs_symlink(ctx(), target.c_str(), to.c_str())) != 0) {
      throw NfsError(rc, "cannot copy the symlink " + from_path, *context_);
    }
    return;
  }
  if (attributes.type != FileType::kRegular) {
    return;  // sockets, fifos and devices are not data
  }
  nfsfh* out_raw = nullptr;
  if ((rc = nfs_create(ctx(), to.c_str(), O_WRONLY | O_EXCL, 0600, &out_raw)) != 0) {
    throw NfsError(rc, "cannot create " + to + " on the NFS export", *context_);
  }
  NfsFile out(ctx(), out_raw);
  const auto chunk = static_cast<uint32_t>(std::min<uint64_t>(nfs_get_readmax(ctx()), 1 << 20));
  std::string buf;
  uint64_t offset = 0;
  for (bool more = true; more;) {
    buf.clear();
    more = calls_->Read(from.handle, offset, chunk, buf);
    for (size_t written = 0; written < buf.size();) {
      int w = nfs_pwrite(ctx(), out.get(), offset + written, buf.size() - written,
                         buf.data() + written);
      if (w <= 0) {
        throw NfsError(w, "cannot write " + to + " on the NFS export", *context_);
      }
      written += static_cast<size_t>(w);
    }
    offset += buf.size();
    done += buf.size();
    if (progress && !buf.empty()) {
      progress(done, total);
    }
  }
  if ((rc = nfs_fsync(ctx(), out.get())) != 0 || (rc = nfs_chmod(ctx(), to.c_str(), mode)) != 0 ||
      (rc = nfs_chown(ctx(), to.c_str(), uid, gid)) != 0) {
    throw NfsError(rc, "cannot finish " + to + " on the NFS export", *context_);
  }
}

}  // namespace berth::nfs
