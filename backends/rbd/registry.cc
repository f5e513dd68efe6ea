#include "backends/rbd/registry.h"

#include "common/error.h"

namespace berth::rbd {

namespace {

// One omap request returns up to this many entries; the OSD's own cap is 131072.
constexpr uint64_t kListBatch = 100000;

struct OmapIter {
  rados_omap_iter_t iter = nullptr;
  ~OmapIter() {
    if (iter != nullptr) {
      rados_omap_get_end(iter);
    }
  }
};

// Reads entries after `start_after` into `out`; returns whether more remain.
bool ReadBatch(const IoCtx& io, const std::string& start_after, const char* const* keys,
               size_t num_keys, std::map<std::string, std::string>& out) {
  ReadOp read;
  OmapIter it;
  unsigned char more = 0;
  int prval = 0;
  if (keys != nullptr) {
    rados_read_op_omap_get_vals_by_keys(read.op, keys, num_keys, &it.iter, &prval);
  } else {
    rados_read_op_omap_get_vals2(read.op, start_after.c_str(), "", kListBatch, &it.iter, &more,
                                 &prval);
  }
  int r = rados_read_op_operate(read.op, io.get(), kRegistryObject, 0);
  if (r == -ENOENT) {
    return false;  // no volume was ever created in this pool
  }
  if (r < 0 || prval < 0) {
    throw ErrnoError(r < 0 ? r : prval, "cannot read the berth registry");
  }
  for (;;) {
    char* key = nullptr;
    char* val = nullptr;
    size_t key_len = 0;
    size_t val_len = 0;
    r = rados_omap_get_next2(it.iter, &key, &val, &key_len, &val_len);
    if (r < 0) {
      throw ErrnoError(r, "cannot iterate the berth registry");
    }
    if (key == nullptr) {
      break;
    }
    out.emplace(std::string(key, key_len), std::string(val, val_len));
  }
  return more != 0;
}

}  // namespace

std::optional<std::string> Registry::Get(const std::string& name) const {
  std::map<std::string, std::string> found;
  const char* keys[] = {name.c_str()};
  ReadBatch(io_, "", keys, 1, found);
  auto it = found.find(name);
  if (it == found.end()) {
    return std::nullopt;
  }
  return it->second;
}

std::map<std::string, std::string> Registry::List() const {
  std::map<std::string, std::string> out;
  std::string after;
  while (ReadBatch(io_, after, nullptr, 0, out)) {
    after = out.rbegin()->first;
  }
  return out;
}

namespace {

// Runs `write` on the registry object. -ECANCELED (a comparison failed) and, with
// `missing_is_conflict`, -ENOENT are conflicts: false. Other errors throw.
bool Operate(const IoCtx& io, WriteOp& write, const std::string& what, bool missing_is_conflict) {
  const int r = rados_write_op_operate(write.op, io.get(), kRegistryObject, nullptr, 0);
  if (r == -ECANCELED || (missing_is_conflict && r == -ENOENT)) {
    return false;
  }
  if (r < 0) {
    throw ErrnoError(r, "cannot " + what + " in the berth registry");
  }
  return true;
}

}  // namespace

bool Registry::PutNew(const std::string& name, const std::string& value) const {
  WriteOp write;
  rados_write_op_create(write.op, LIBRADOS_CREATE_IDEMPOTENT, nullptr);
  const char* keys[] = {name.c_str()};
  const char* vals[] = {value.data()};
  const size_t lens[] = {value.size()};
  // An absent key compares as an empty value, and no entry is ever empty.
  int prval = 0;
  rados_write_op_omap_cmp(write.op, name.c_str(), LIBRADOS_CMPXATTR_OP_EQ, "", 0, &prval);
  rados_write_op_omap_set(write.op, keys, vals, lens, 1);
  return Operate(io_, write, "register volume " + name, false);
}

bool Registry::Replace(const std::string& name, const std::string& expected,
                       const std::string& value) const {
  WriteOp write;
  const char* keys[] = {name.c_str()};
  const char* vals[] = {value.data()};
  const size_t lens[] = {value.size()};
  int prval = 0;
  rados_write_op_omap_cmp(write.op, name.c_str(), LIBRADOS_CMPXATTR_OP_EQ, expected.data(),
                          expected.size(), &prval);
  rados_write_op_omap_set(write.op, keys, vals, lens, 1);
  return Operate(io_, write, "update volume " + name, true);
}

bool Registry::Remove(const std::string& name, const std::optional<std::string>& expected) const {
  WriteOp write;
  const char* keys[] = {name.c_str()};
  int prval = 0;
  if (expected) {
    rados_write_op_omap_cmp(write.op, name.c_str(), LIBRADOS_CMPXATTR_OP_EQ, expected->data(),
                            expected->size(), &prval);
  }
  rados_write_op_omap_rm_keys(write.op, keys, 1);
  const int r = rados_write_op_operate(write.op, io_.get(), kRegistryObject, nullptr, 0);
  if (r == -ENOENT) {
    return !expected;  // no registry object: nothing to remove, or not what was expected
  }
  if (r == -ECANCELED) {
    return false;
  }
  if (r < 0) {
    throw ErrnoError(r, "cannot remove volume " + name + " from the berth registry");
  }
  return true;
}

}  // namespace berth::rbd
