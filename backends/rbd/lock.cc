#include "backends/rbd/lock.h"

#include <spdlog/spdlog.h>

#include "common/error.h"
#include "common/strings.h"

namespace berth::rbd {

namespace {

constexpr std::string_view kCookiePrefix = "berth host=";
constexpr std::string_view kInstanceSeparator = " instance=";
constexpr std::string_view kVolumeSeparator = " volume=";
constexpr const char* kLockName = "berth";

// librados returns each list as NUL-separated strings in one buffer.
std::vector<std::string> SplitNul(const std::vector<char>& buf, size_t len) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i < len && i < buf.size(); ++i) {
    if (buf[i] == '\0') {
      out.emplace_back(buf.data() + start, i - start);
      start = i + 1;
    }
  }
  return out;
}

Error HeldElsewhere(const std::string& volume, const LockHolder& holder) {
  std::string host = holder.host_id.empty() ? "an unknown host (lock not taken by berth)"
                                            : "host " + holder.host_id;
  return Error(ErrorCode::kBusy, "volume " + volume + " is attached read-write on " + host +
                                     " (lock owner " + holder.client + " at " + holder.address +
                                     "); stop it there, or if that host is down, fence it and "
                                     "break the lock: berthctl lock break --fence " +
                                     volume);
}

}  // namespace

std::string LockObject(const std::string& image) { return "berth.lock." + image; }

std::string LockCookie(const LockOwner& owner) {
  std::string cookie = std::string(kCookiePrefix) + owner.host_id;
  if (!owner.instance_id.empty()) {
    cookie += std::string(kInstanceSeparator) + owner.instance_id + std::string(kVolumeSeparator) +
              owner.volume;
  }
  return cookie;
}

std::optional<LockOwner> OwnerFromCookie(const std::string& cookie) {
  if (cookie.rfind(kCookiePrefix, 0) != 0) {
    return std::nullopt;
  }
  LockOwner owner;
  owner.host_id = cookie.substr(kCookiePrefix.size());
  if (const auto at = owner.host_id.find(kInstanceSeparator); at != std::string::npos) {
    owner.instance_id = owner.host_id.substr(at + kInstanceSeparator.size());
    owner.host_id.resize(at);
    if (const auto v = owner.instance_id.find(kVolumeSeparator); v != std::string::npos) {
      owner.volume = owner.instance_id.substr(v + kVolumeSeparator.size());
      owner.instance_id.resize(v);
    }
  }
  return owner;
}

bool IsOwnLock(const LockHolder& holder, const LockOwner& owner) {
  return !holder.host_id.empty() && holder.host_id == owner.host_id &&
         (holder.instance_id.empty() ||
          (holder.instance_id == owner.instance_id && holder.volume == owner.volume));
}

std::vector<LockHolder> ListLockHolders(const IoCtx& io, const std::string& image) {
  const std::string object = LockObject(image);
  size_t tag_len = 0, clients_len = 0, cookies_len = 0, addrs_len = 0;
  std::vector<char> tag, clients, cookies, addrs;
  int exclusive = 0;
  for (;;) {
    tag.resize(tag_len);
    clients.resize(clients_len);
    cookies.resize(cookies_len);
    addrs.resize(addrs_len);
    ssize_t r = rados_list_lockers(io.get(), object.c_str(), kLockName, &exclusive, tag.data(),
                                   &tag_len, clients.data(), &clients_len, cookies.data(),
                                   &cookies_len, addrs.data(), &addrs_len);
    if (r == -ERANGE) {
      continue;  // the lengths now hold what is needed
    }
    if (r == -ENOENT || r == 0) {
      return {};
    }
    if (r < 0) {
      throw ErrnoError(static_cast<int>(r), "cannot list the berth lock of RBD image " + image);
    }
    auto c = SplitNul(clients, clients_len);
    auto k = SplitNul(cookies, cookies_len);
    auto a = SplitNul(addrs, addrs_len);
    std::vector<LockHolder> holders;
    for (size_t i = 0; i < c.size() && i < k.size() && i < a.size(); ++i) {
      const auto owner = OwnerFromCookie(k[i]).value_or(LockOwner{});
      holders.push_back({c[i], k[i], a[i], owner.host_id, owner.instance_id, owner.volume});
    }
    return holders;
  }
}

bool AcquireLock(const IoCtx& io, const std::string& image, const std::string& volume,
                 const LockOwner& owner) {
  const std::string object = LockObject(image);
  const std::string cookie = LockCookie(owner);
  for (int attempt = 0; attempt < 2; ++attempt) {
    const auto holders = ListLockHolders(io, image);
    for (const auto& holder : holders) {
      if (IsOwnLock(holder, owner)) {
        continue;
      }
      if (holder.host_id == owner.host_id && holder.instance_id == owner.instance_id) {
        throw Error(ErrorCode::kConflict,
                    "RBD image " + image + " is attached read-write on this host as volume " +
                        holder.volume + "; volume " + volume + " cannot attach it too");
      }
      if (holder.host_id == owner.host_id) {
        throw Error(ErrorCode::kConflict,
                    "volume " + volume +
                        " is attached read-write by another berth installation "
                        "that uses this host id (" +
                        owner.host_id + ", instance " + holder.instance_id + "; this is instance " +
                        owner.instance_id +
                        "): two installations share a host id, say a cloned /etc/machine-id, or "
                        "berth-flex beside the managed plugin with another state dir. Give each "
                        "its own \"host_id\" in berth.json, or let them share one state dir");
      }
      throw HeldElsewhere(volume, holder);
    }
    if (!holders.empty()) {
      return false;  // ours already, perhaps from an earlier berthd with this state dir
    }
    const std::string description = "berth volume " + volume;
    int r = rados_lock_exclusive(io.get(), object.c_str(), kLockName, cookie.c_str(),
                                 description.c_str(), nullptr, 0);
    if (r == 0) {
      return true;
    }
    if (r == -EEXIST) {
      return false;
    }
    if (r != -EBUSY) {
      throw ErrnoError(r, "cannot lock RBD image " + image);
    }
    // Another host won the race between our list and our lock: list again to name it.
  }
  throw Error(ErrorCode::kBusy, "volume " + volume + " is being locked by another host; retry");
}

void ReleaseLock(const IoCtx& io, const std::string& image, const LockOwner& owner) {
  for (const auto& holder : ListLockHolders(io, image)) {
    if (IsOwnLock(holder, owner)) {
      BreakLock(io, image, holder);
    }
  }
}

void BreakLock(const IoCtx& io, const std::string& image, const LockHolder& holder) {
  const std::string object = LockObject(image);
  int r = rados_break_lock(io.get(), object.c_str(), kLockName, holder.client.c_str(),
                           holder.cookie.c_str());
  if (r < 0 && r != -ENOENT) {
    throw ErrnoError(
        r, "cannot release the berth lock of RBD image " + image + " held by " + holder.client);
  }
  spdlog::debug("released lock on {} held by {} ({})", image, holder.client, holder.cookie);
}

namespace {
constexpr const char* kMappersAttr = "berth.mappers";
}  // namespace

void RecordMappers(const IoCtx& io, const std::string& image, const std::string& host_id,
                   const std::vector<std::string>& addresses) {
  std::string value = host_id;
  for (const auto& address : addresses) {
    value += "\n" + address;
  }
  int r =
      rados_setxattr(io.get(), LockObject(image).c_str(), kMappersAttr, value.data(), value.size());
  if (r < 0) {
    throw ErrnoError(r, "cannot record the mappers of RBD image " + image);
  }
}

std::vector<std::string> RecordedMappers(const IoCtx& io, const std::string& image,
                                         const std::string& host_id) {
  std::vector<char> buf(4096);
  int r = rados_getxattr(io.get(), LockObject(image).c_str(), kMappersAttr, buf.data(), buf.size());
  if (r == -ENOENT || r == -ENODATA) {
    return {};
  }
  if (r < 0) {
    throw ErrnoError(r, "cannot read the mappers of RBD image " + image);
  }
  std::vector<std::string> lines =
      Split(std::string_view(buf.data(), static_cast<size_t>(r)), '\n');
  if (lines.empty() || lines.front() != host_id) {
    return {};
  }
  lines.erase(lines.begin());
  return lines;
}

void RemoveLockObject(const IoCtx& io, const std::string& image) {
  int r = rados_remove(io.get(), LockObject(image).c_str());
  if (r < 0 && r != -ENOENT) {
    throw ErrnoError(r, "cannot remove the berth lock object of RBD image " + image);
  }
}

}  // namespace berth::rbd
