#include "fsutil/probe.h"

#include <blkid/blkid.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <optional>
#include <type_traits>

#include "common/error.h"
#include "common/fd.h"

namespace berth::fsutil {

namespace {

struct ProbeDeleter {
  void operator()(blkid_probe probe) const { blkid_free_probe(probe); }
};
using ProbePtr = std::unique_ptr<std::remove_pointer_t<blkid_probe>, ProbeDeleter>;

std::optional<std::string> LookupValue(blkid_probe probe, const char* name) {
  const char* data = nullptr;
  size_t len = 0;
  if (blkid_probe_lookup_value(probe, name, &data, &len) != 0 || data == nullptr) {
    return std::nullopt;
  }
  // libblkid counts the terminating NUL in `len`.
  std::string value(data, len);
  while (!value.empty() && value.back() == '\0') {
    value.pop_back();
  }
  return value;
}

// What PrefetchProbeRegions reads at each end; and the most one readahead request reads on a
// FUSE file (its default window), so each region is asked for in pieces that size.
constexpr off_t kProbeRegion = off_t{1} << 20;
constexpr off_t kReadaheadPiece = off_t{128} << 10;

// Asks for [from, to) of `fd` in readahead-sized pieces; the kernel starts them all and returns.
void ReadAhead(int fd, off_t from, off_t to) {
  for (off_t at = from; at < to; at += kReadaheadPiece) {
    ::posix_fadvise(fd, at, std::min(kReadaheadPiece, to - at), POSIX_FADV_WILLNEED);
  }
}

}  // namespace

void PrefetchProbeRegions(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return;
  }
  off_t size = st.st_size;
  uint64_t device_bytes = 0;
  if (S_ISBLK(st.st_mode) && ::ioctl(fd, BLKGETSIZE64, &device_bytes) == 0) {
    size = static_cast<off_t>(device_bytes);
  }
  if (size <= 0) {
    return;
  }
  ReadAhead(fd, 0, std::min(size, kProbeRegion));
  if (size > kProbeRegion) {
    ReadAhead(fd, std::max(kProbeRegion, size - kProbeRegion), size);
  }
}

ProbeResult Probe(const std::string& device) {
  const UniqueFd fd(::open(device.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) {
    const int err = errno;
    throw ErrnoError(-err, "cannot open " + device + " to look for existing data");
  }
  PrefetchProbeRegions(fd.get());
  ProbePtr probe(blkid_new_probe());
  if (!probe) {
    throw Error(ErrorCode::kInternal, "cannot set up libblkid to probe " + device);
  }
  errno = 0;
  if (blkid_probe_set_device(probe.get(), fd.get(), 0, 0) != 0) {
    const int err = errno != 0 ? errno : EIO;
    throw ErrnoError(-err, "libblkid cannot read " + device + " to look for existing data");
  }

  if (blkid_probe_enable_superblocks(probe.get(), 1) != 0 ||
      // BADCSUM: a filesystem whose superblock checksum is damaged is still someone's data; without
      // this flag libblkid ignores it and the device would look blank.
      blkid_probe_set_superblocks_flags(probe.get(), BLKID_SUBLKS_TYPE | BLKID_SUBLKS_USAGE |
                                                         BLKID_SUBLKS_UUID |
                                                         BLKID_SUBLKS_BADCSUM) != 0 ||
      blkid_probe_enable_partitions(probe.get(), 1) != 0 ||
      blkid_probe_set_partitions_flags(probe.get(), BLKID_PARTS_MAGIC) != 0) {
    throw Error(ErrorCode::kInternal, "cannot set up libblkid to probe " + device);
  }

  ProbeResult result;
  const blkid_loff_t size = blkid_probe_get_size(probe.get());
  if (size <= 0) {
    throw Error(ErrorCode::kConflict,
                device +
                    " has a size of 0 bytes; the image or mapping behind it is empty or not "
                    "ready, so berth cannot tell whether it holds data");
  }
  result.device_bytes = static_cast<uint64_t>(size);

  const int rc = blkid_do_safeprobe(probe.get());
  if (rc == -2) {
    throw Error(ErrorCode::kConflict,
                device +
                    " carries several conflicting signatures (libblkid: ambiguous); berth "
                    "will neither format nor mount it. Inspect it with `wipefs -n " +
                    device + "` and remove the stale signature by hand");
  }
  if (rc < 0) {
    const int err = errno != 0 ? errno : EIO;
    throw ErrnoError(-err, "libblkid cannot read " + device + " to look for existing data");
  }
  if (rc == 1) {
    return result;
  }

  const auto type = LookupValue(probe.get(), "TYPE");
  const auto pttype = LookupValue(probe.get(), "PTTYPE");
  result.usage = LookupValue(probe.get(), "USAGE").value_or("");
  result.uuid = LookupValue(probe.get(), "UUID").value_or("");

  // A partition table wins over a whole-device superblock: libblkid already resolves the known
  // benign overlaps (a FAT boot sector is not an MBR), so both at once means the device's
  // history is unclear and it must not be mounted as a plain filesystem.
  if (pttype && !pttype->empty()) {
    result.kind = ProbeResult::Kind::kPartitionTable;
    result.type = *pttype;
    if (result.usage.empty()) {
      result.usage = "partition table";
    }
  } else if (type && !type->empty()) {
    result.type = *type;
    result.kind =
        result.usage == "filesystem" ? ProbeResult::Kind::kFilesystem : ProbeResult::Kind::kOther;
  } else {
    // safeprobe reported a match but left no type: still a signature, never blank.
    result.kind = ProbeResult::Kind::kOther;
    result.type = "unknown";
  }
  return result;
}

std::string Describe(const ProbeResult& result) {
  switch (result.kind) {
    case ProbeResult::Kind::kBlank:
      return "no signature (blank)";
    case ProbeResult::Kind::kFilesystem:
      return result.type + " filesystem";
    case ProbeResult::Kind::kPartitionTable:
      return result.type + " partition table";
    case ProbeResult::Kind::kOther:
      return result.type + " (" + (result.usage.empty() ? "unknown" : result.usage) + ") signature";
  }
  return "unknown signature";
}

}  // namespace berth::fsutil
