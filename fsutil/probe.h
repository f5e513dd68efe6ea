// What is on a block device, as libblkid sees it. Never guessed from magic bytes here.
#pragma once

#include <cstdint>
#include <string>

namespace berth::fsutil {

struct ProbeResult {
  enum class Kind {
    kBlank,           // libblkid found no signature of any kind
    kFilesystem,      // a filesystem: type is "ext4", "xfs", ...
    kPartitionTable,  // type is the table type: "dos", "gpt", ...
    kOther,           // crypto (LUKS), RAID members and any other non-filesystem signature
  };
  Kind kind = Kind::kBlank;
  std::string type;   // blkid TYPE or PTTYPE; empty when blank
  std::string usage;  // blkid USAGE: "filesystem", "crypto", "raid", "other"
  std::string uuid;
  uint64_t device_bytes = 0;
};

// Probes `device` (a block device or an image file). A device that cannot be opened or read,
// a zero-sized device, or an ambiguous result (several signatures) is an Error, never kBlank:
// callers decide to format on kBlank, so only a clean "nothing there" may produce it.
ProbeResult Probe(const std::string& device);

// Asks the kernel to start reading, on the open device or file `fd`, the regions Probe reads (its
// first and last MiB: filesystem superblocks at the start, RAID and other signatures at the end),
// and returns at once. Through a mapper whose every cold read is a network round trip (rbd-fuse +
// loop), the probe's dozen small reads, one after another, then find their pages on the way or
// cached. A block device's pages stay cached only while someone has it open: Probe prefetches
// on the descriptor it probes with. Best effort: errors are ignored.
void PrefetchProbeRegions(int fd);

// "ext4 filesystem", "dos partition table", "crypto_LUKS (crypto) signature"...
std::string Describe(const ProbeResult& result);

}  // namespace berth::fsutil
