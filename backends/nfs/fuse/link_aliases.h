// The names this mount handed out for files with more than one link, by file id.
//
// libfuse's path API gives every name its own kernel inode, so after a link, unlink or rename
// through one name the kernel still trusts the link count and ctime it cached for the others
// (for the attribute timeout). The mount drops those from the kernel's cache; this tells it
// which names to drop.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace berth::nfs {

class LinkAliases {
 public:
  explicit LinkAliases(size_t capacity = 4096) : capacity_(capacity) {}

  // `path` names `fileid`, which has `nlink` links; only hard-linked files are kept.
  void Note(uint64_t fileid, uint32_t nlink, const std::string& path);
  // Every name noted for `fileid`; it is forgotten.
  std::vector<std::string> Take(uint64_t fileid);
  bool empty() const;

 private:
  const size_t capacity_;
  mutable std::mutex mutex_;
  std::map<uint64_t, std::set<std::string>> names_;
  size_t count_ = 0;
};

}  // namespace berth::nfs
