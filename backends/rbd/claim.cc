#include "backends/rbd/claim.h"

#include <vector>

#include "common/error.h"

namespace berth::rbd {

namespace {

constexpr size_t kMaxHolder = 1024;

}  // namespace

std::string ImageClaim(const std::string& image) { return "berth.owner." + image; }

std::string HostClaim(const std::string& host_id) { return "berth.host." + host_id; }

std::optional<std::string> ClaimHolder(const IoCtx& io, const std::string& object) {
  std::vector<char> buf(kMaxHolder);
  const int r = rados_read(io.get(), object.c_str(), buf.data(), buf.size(), 0);
  if (r == -ENOENT) {
    return std::nullopt;
  }
  if (r < 0) {
    throw ErrnoError(r, "cannot read the claim " + object);
  }
  return std::string(buf.data(), static_cast<size_t>(r));
}

std::string Claim(const IoCtx& io, const std::string& object, const std::string& holder) {
  if (holder.empty() || holder.size() > kMaxHolder) {
    throw Error(ErrorCode::kInternal, "the holder of claim " + object + " is malformed");
  }
  // Read first: a claim is made once and then found on every attach, and a refused exclusive
  // create costs the OSD a logged write where a read costs a read.
  if (auto current = ClaimHolder(io, object)) {
    return *current;
  }
  for (int attempt = 0; attempt < 3; ++attempt) {
    WriteOp write;
    rados_write_op_create(write.op, LIBRADOS_CREATE_EXCLUSIVE, nullptr);
    rados_write_op_write_full(write.op, holder.data(), holder.size());
    const int r = rados_write_op_operate(write.op, io.get(), object.c_str(), nullptr, 0);
    if (r == 0) {
      return holder;
    }
    if (r != -EEXIST) {
      throw ErrnoError(r, "cannot write the claim " + object);
    }
    if (auto current = ClaimHolder(io, object)) {
      return *current;
    }
    // Released between our create and our read: claim again.
  }
  throw Error(ErrorCode::kBusy, "the claim " + object + " is being made and released; retry");
}

void ReleaseClaim(const IoCtx& io, const std::string& object, const std::string& holder) {
  const auto current = ClaimHolder(io, object);
  if (current && *current == holder) {
    ForgetClaim(io, object);
  }
}

void ForgetClaim(const IoCtx& io, const std::string& object) {
  const int r = rados_remove(io.get(), object.c_str());
  if (r < 0 && r != -ENOENT) {
    throw ErrnoError(r, "cannot remove the claim " + object);
  }
}

}  // namespace berth::rbd
