#include "backends/nfs/export_tree.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>

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

void ExportTree::WriteFile(const std::string& path, const std::string& content) {
  const std::string temp = path + ".tmp";
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
  Rename(temp, path);
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
  if (!IsDirectory(path)) {
    RemoveFile(path);
    return;
  }
  for (const auto& name : List(path)) {
    RemoveTree(path + "/" + name);
  }
  int rc = nfs_rmdir(ctx(), path.c_str());
  if (rc != 0 && rc != -ENOENT) {
    throw NfsError(rc, "cannot remove directory " + path + " on the NFS export", *context_);
  }
}

}  // namespace berth::nfs
