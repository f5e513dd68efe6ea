// Loop devices driven through ioctls on /dev/loop-control and /dev/loopN.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace berth::fsutil {

// Attaches `backing_file` to a free loop device (LOOP_CTL_GET_FREE + LOOP_CONFIGURE, retried
// when another process races for the same device) and returns its path, e.g. "/dev/loop3".
// The backing file is opened with O_DIRECT off and the device gets a 4 KiB-aligned size.
std::string AttachLoop(const std::string& backing_file, bool read_only);

// Detaches `device` and waits until the kernel has released the backing file
// (/sys/block/loopN/loop/backing_file is gone), because FUSE files behind loop devices cannot
// be unmounted before that. A device that is not attached is not an error.
void DetachLoop(const std::string& device);

// Makes `device` take the current size of its backing file (LOOP_SET_CAPACITY), after the
// file grew. Returns the device's new size in bytes.
uint64_t RefreshLoopCapacity(const std::string& device);

// The loop device currently backed by `backing_file`, if any.
std::optional<std::string> FindLoopByBackingFile(const std::string& backing_file);

// The backing file of `device`, or nullopt when it is not attached.
std::optional<std::string> LoopBackingFile(const std::string& device);

}  // namespace berth::fsutil
