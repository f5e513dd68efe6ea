#include "engine/volume_status.h"

#include <gtest/gtest.h>

#include "engine/engine.h"

namespace berth::engine {
namespace {

// Get (docker volume inspect) of a volume whose attach is in progress: its state has no
// attachment yet, which must not turn into an internal error (found by the load test).
TEST(VolumeStatus, AttachInProgressHasNoDeviceYet) {
  VolumeInfo info;
  info.record.spec.name = "v";
  info.local = HostVolumeState{};
  info.local->name = "v";
  info.local->attachment = Attachment{};
  const auto status = VolumeStatus(info, "host-1");
  EXPECT_EQ(status["attached_here"]["device"], "");
  EXPECT_EQ(status["attached_here"]["mapper"], "");
  EXPECT_EQ(status["attached_here"]["host"], "host-1");

  info.local->attachment = {"/dev/loop3", {{"mapper", "fuse"}}};
  EXPECT_EQ(VolumeStatus(info, "host-1")["attached_here"]["device"], "/dev/loop3");
}

}  // namespace
}  // namespace berth::engine
