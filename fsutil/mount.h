// mount(2) and umount2(2), with mount options parsed the way mount(8) does.
#pragma once

#include <string>
#include <vector>

namespace berth::fsutil {

struct MountOptions {
  unsigned long flags = 0;  // MS_RDONLY, MS_NOATIME, ...
  std::string data;         // filesystem-specific options, comma-separated
};

// Splits "ro,noatime,discard" into mount(2) flags and a data string. Throws kInvalidArgument
// for empty items and for options that change mount propagation or remount (bind, move, ...).
MountOptions ParseMountOptions(const std::vector<std::string>& options);

// Mounts `source` on `target` (created if missing) as `fstype`.
void Mount(const std::string& source, const std::string& target, const std::string& fstype,
           const std::vector<std::string>& options);

// Bind-mounts `source` on `target`, read-only if asked: a bind mount takes MS_RDONLY only on a
// remount, so that is a second step, undone when it fails. A missing target is made like the
// source: a directory for a directory (a volume's mount handed to a pod directory), an empty
// file otherwise (a block device handed to a pod as a device file).
void BindMount(const std::string& source, const std::string& target, bool read_only);

// Unmounts `target`. A target that is not mounted is not an error. EBUSY is retried for a
// short while (a process may be leaving the directory) and then reported as kBusy.
void Unmount(const std::string& target);

// Writes the filesystem mounted at `mount_point` to its device and flushes the device (syncfs),
// as an unmount would, leaving it mounted.
void SyncFilesystem(const std::string& mount_point);

}  // namespace berth::fsutil
