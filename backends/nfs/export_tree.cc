#include "backends/nfs/export_tree.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <random>
#include <vector>

#include "common/error.h"

namespace berth::nfs {

namespace {

Error NfsError(int rc, const std::string& what, NfsContext& context) {
  // libnfs 4.0 reports a timed-out call as EINTR: the server is away, not the request wrong.
  const bool away = rc == -EINTR || rc == -EIO || rc == -ETIMEDOUT || rc == -ECONNRESET;
  return Error(away ? ErrorCode::kUnavailable : CodeForErrno(rc),
               what + ": " + context.LastError());
}

}  // namespace

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

void ExportTree::RemoveTree(const std::string& path) {
  struct nfs_stat_64 st {};
  int rc = nfs_lstat64(ctx(), path.c_str(), &st);
  if (rc == -ENOENT) {
    return;
  }
  if (rc != 0) {
    throw NfsError(rc, "cannot stat " + path + " on the NFS export", *context_);
  }
  if (!S_ISDIR(st.nfs_mode)) {
    RemoveFile(path);  // a symlink is removed, never followed
    return;
  }
  // As in CopyNode: paths are resolved from the export root, following symlinks in the middle,
  // so each step re-checks that `path` is still the directory it listed. A directory swapped
  // for a symlink aborts the delete instead of leading it into another volume.
  for (const auto& name : List(path)) {
    struct nfs_stat_64 now {};
    if (nfs_lstat64(ctx(), path.c_str(), &now) != 0 || !S_ISDIR(now.nfs_mode) ||
        now.nfs_ino != st.nfs_ino || now.nfs_dev != st.nfs_dev) {
      throw Error(ErrorCode::kConflict, path + " was replaced during the delete; delete aborted");
    }
    RemoveTree(path + "/" + name);
  }
  rc = nfs_rmdir(ctx(), path.c_str());
  if (rc != 0 && rc != -ENOENT) {
    throw NfsError(rc, "cannot remove directory " + path + " on the NFS export", *context_);
  }
}

uint64_t ExportTree::TreeBytes(const std::string& path) {
  struct nfs_stat_64 st {};
  int rc = nfs_lstat64(ctx(), path.c_str(), &st);
  if (rc != 0) {
    throw NfsError(rc, "cannot stat " + path + " on the NFS export", *context_);
  }
  if (S_ISREG(st.nfs_mode)) {
    return st.nfs_size;
  }
  uint64_t bytes = 0;
  if (S_ISDIR(st.nfs_mode)) {
    for (const auto& name : List(path)) {
      bytes += TreeBytes(path + "/" + name);
    }
  }
  return bytes;
}

void ExportTree::CopyTree(const std::string& from, const std::string& to,
                          const std::function<void(uint64_t, uint64_t)>& progress) {
  if (Exists(to)) {
    throw Error(ErrorCode::kConflict, to + " already exists on the NFS export");
  }
  const uint64_t total = TreeBytes(from);
  uint64_t done = 0;
  CopyNode(from, to, total, done, progress);
  if (progress) {
    progress(total, total);
  }
}

void ExportTree::CopyNode(const std::string& from, const std::string& to, uint64_t total,
                          uint64_t& done, const std::function<void(uint64_t, uint64_t)>& progress) {
  struct nfs_stat_64 st {};
  int rc = nfs_lstat64(ctx(), from.c_str(), &st);
  if (rc != 0) {
    throw NfsError(rc, "cannot stat " + from + " on the NFS export", *context_);
  }
  const int mode = static_cast<int>(st.nfs_mode & 07777);
  const int uid = static_cast<int>(st.nfs_uid);
  const int gid = static_cast<int>(st.nfs_gid);
  // Paths are resolved from the export root on every call, and the server follows symlinks in
  // the middle of a path: a directory swapped for a symlink during the copy would lead it out
  // of the volume. Each step re-checks that `from` is still the directory it listed.
  auto same_directory = [&] {
    struct nfs_stat_64 now {};
    return nfs_lstat64(ctx(), from.c_str(), &now) == 0 && S_ISDIR(now.nfs_mode) &&
           now.nfs_ino == st.nfs_ino && now.nfs_dev == st.nfs_dev;
  };
  if (S_ISDIR(st.nfs_mode)) {
    MakeDirectory(to, 0700, 0, 0);  // opened up once its contents are in
    for (const auto& name : List(from)) {
      if (!same_directory()) {
        throw Error(ErrorCode::kConflict, from + " was replaced during the copy; copy aborted");
      }
      CopyNode(from + "/" + name, to + "/" + name, total, done, progress);
    }
    if ((rc = nfs_chmod(ctx(), to.c_str(), mode)) != 0 ||
        (rc = nfs_chown(ctx(), to.c_str(), uid, gid)) != 0) {
      throw NfsError(rc, "cannot set the owner and mode of " + to, *context_);
    }
    return;
  }
  if (S_ISLNK(st.nfs_mode)) {
    char target[4096] = {};
    if ((rc = nfs_readlink(ctx(), from.c_str(), target, sizeof(target) - 1)) != 0 ||
        (rc = nfs_symlink(ctx(), target, to.c_str())) != 0) {
      throw NfsError(rc, "cannot copy the symlink " + from, *context_);
    }
    return;
  }
  if (!S_ISREG(st.nfs_mode)) {
    return;  // sockets, fifos and devices are not data
  }
  nfsfh* in_raw = nullptr;
  if ((rc = nfs_open(ctx(), from.c_str(), O_RDONLY, &in_raw)) != 0) {
    throw NfsError(rc, "cannot open " + from + " on the NFS export", *context_);
  }
  NfsFile in(ctx(), in_raw);
  struct nfs_stat_64 opened {};
  if (nfs_fstat64(ctx(), in.get(), &opened) != 0 || opened.nfs_ino != st.nfs_ino ||
      opened.nfs_dev != st.nfs_dev) {
    // The name now leads elsewhere (a file swapped for a symlink after the lstat).
    throw Error(ErrorCode::kConflict, from + " was replaced during the copy; copy aborted");
  }
  nfsfh* out_raw = nullptr;
  if ((rc = nfs_create(ctx(), to.c_str(), O_WRONLY | O_EXCL, 0600, &out_raw)) != 0) {
    throw NfsError(rc, "cannot create " + to + " on the NFS export", *context_);
  }
  NfsFile out(ctx(), out_raw);
  std::vector<char> buf(1 << 20);
  uint64_t offset = 0;
  for (;;) {
    int n = nfs_pread(ctx(), in.get(), offset, buf.size(), buf.data());
    if (n < 0) {
      throw NfsError(n, "cannot read " + from + " on the NFS export", *context_);
    }
    if (n == 0) {
      break;
    }
    for (int written = 0; written < n;) {
      int w = nfs_pwrite(ctx(), out.get(), offset + static_cast<uint64_t>(written),
                         static_cast<uint64_t>(n - written), buf.data() + written);
      if (w <= 0) {
        throw NfsError(w, "cannot write " + to + " on the NFS export", *context_);
      }
      written += w;
    }
    offset += static_cast<uint64_t>(n);
    done += static_cast<uint64_t>(n);
    if (progress) {
      progress(done, total);
    }
  }
  if ((rc = nfs_fsync(ctx(), out.get())) != 0 || (rc = nfs_chmod(ctx(), to.c_str(), mode)) != 0 ||
      (rc = nfs_chown(ctx(), to.c_str(), uid, gid)) != 0) {
    throw NfsError(rc, "cannot finish " + to + " on the NFS export", *context_);
  }
}

}  // namespace berth::nfs
