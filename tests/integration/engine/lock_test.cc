// Single writer: a second host cannot attach a volume read-write while the first holds it, and
// the refusal names the first host. Read-only attaches work alongside.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fcntl.h>
#include <cerrno>

#include "common/error.h"
#include "common/files.h"
#include "engine/engine.h"
#include "tests/integration/engine/lab.h"

namespace berth::testing {
namespace {

TEST(LockTest, SecondHostIsRefusedReadWriteButMayReadOnly) {
  engine::Engine host_a(LabConfig("host-a"));
  engine::Engine host_b(LabConfig("host-b"));
  const std::string name = UniqueName("lock");
  host_a.Create(name, {{"size", "64M"}});
  struct Cleanup {
    engine::Engine& a;
    engine::Engine& b;
    std::string n;
    ~Cleanup() {
      try {
        auto info = b.Get(n);
        if (info.local) {
          for (const auto& [ref, count] : info.local->refs) {
            b.Unmount(n, ref);
          }
        }
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
      }
      ReleaseAndRemove(a, n);
    }
  } cleanup{host_a, host_b, name};

  auto a_mount = host_a.Mount(name, "a-1");
  WriteFileAtomically(a_mount.mount_path + "/from-a", "written on host-a\n");

  try {
    host_b.Mount(name, "b-1");
    FAIL() << "host-b must not attach read-write while host-a holds the volume";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kBusy);
    const std::string message = e.what();
    EXPECT_NE(message.find("host host-a"), std::string::npos) << message;
    EXPECT_NE(message.find("lock owner client."), std::string::npos) << message;
  }
  EXPECT_FALSE(host_b.Get(name).local.has_value()) << "the refused attach left nothing behind";
  EXPECT_TRUE(LoopsUnder(host_b.config().state_dir).empty());
  // rbd-fuse starts while the lock is asked for: the refusal stopped it and its mount.
  EXPECT_TRUE(RbdFuseUnder(host_b.config().state_dir).empty());
  EXPECT_FALSE(IsMounted(host_b.config().state_dir + "/attach/" + name + "/fuse"));

  auto b_mount = host_b.Mount(name, "b-ro", /*read_only=*/true);
  ASSERT_TRUE(IsMounted(b_mount.mount_path));
  const std::string probe = b_mount.mount_path + "/write-attempt";
  int fd = ::open(probe.c_str(), O_CREAT | O_WRONLY, 0600);
  EXPECT_EQ(fd, -1) << "a read-only attach must not be writable";
  EXPECT_EQ(errno, EROFS);
  if (fd >= 0) {
    ::close(fd);
  }
  EXPECT_TRUE(PathExists(b_mount.mount_path + "/lost+found"));
  host_b.Unmount(name, "b-ro");

  // Once host-a lets go, host-b takes the volume read-write and finds host-a's data.
  host_a.Unmount(name, "a-1");
  auto b_rw = host_b.Mount(name, "b-2");
  EXPECT_FALSE(b_rw.formatted);
  EXPECT_EQ(ReadFileIfExists(b_rw.mount_path + "/from-a").value_or(""), "written on host-a\n");
  host_b.Unmount(name, "b-2");
}

}  // namespace
}  // namespace berth::testing
