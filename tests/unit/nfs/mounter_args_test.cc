// The exact mount(2) source and options of the kernel mounter, and the berth-nfs-fuse command.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "backends/nfs/mounters/fuse.h"
#include "backends/nfs/mounters/kernel.h"
#include "common/error.h"

namespace berth::nfs {
namespace {

using ::testing::ElementsAre;

NfsMountRequest Request() {
  NfsMountRequest r;
  r.server = "nfs.example";
  r.export_path = "/export";
  r.directory = "/db";
  r.nfs_port = 2049;
  r.mount_port = 20048;
  r.version = 3;
  r.options = {"noatime"};
  r.timeout_ms = 10000;
  r.mount_point = "/var/lib/berth/mounts/db";
  r.work_dir = "/var/lib/berth/attach/db";
  return r;
}

TEST(KernelMounter, V3SourceAndOptionsCarryTheResolvedAddressAndPorts) {
  auto args = KernelMounter::Args(Request(), "10.1.2.3");
  EXPECT_EQ(args.source, "nfs.example:/export/db");
  EXPECT_EQ(args.fstype, "nfs");
  EXPECT_THAT(args.options,
              ElementsAre("noatime", "addr=10.1.2.3", "vers=3", "proto=tcp", "port=2049",
                          "mountport=20048", "mountproto=tcp", "timeo=100", "nodev", "nosuid"));
}

TEST(KernelMounter, V4ReadOnlyHasNoMountPort) {
  auto request = Request();
  request.version = 4;
  request.read_only = true;
  request.options.clear();
  auto args = KernelMounter::Args(request, "10.1.2.3");
  EXPECT_EQ(args.fstype, "nfs4");
  EXPECT_THAT(args.options, ElementsAre("addr=10.1.2.3", "vers=4", "proto=tcp", "port=2049",
                                        "timeo=100", "nodev", "nosuid", "ro"));
}

TEST(KernelMounter, BerthsOwnOptionsComeLastSoTheyWin) {
  // The kernel takes the last of a repeated option: a user's rw, vers or addr placed before
  // berth's never overrides read-only, the version, the address or nosuid.
  auto request = Request();
  request.read_only = true;
  request.options = {"rw", "suid", "noatime"};
  const auto options = KernelMounter::Args(request, "10.1.2.3").options;
  ASSERT_GE(options.size(), 3u);
  EXPECT_EQ(options.back(), "ro");
  EXPECT_EQ(options[options.size() - 2], "nosuid");
  EXPECT_EQ(options.front(), "rw");

  request.allow_suid = true;
  request.read_only = false;
  EXPECT_THAT(KernelMounter::Args(request, "10.1.2.3").options,
              ElementsAre("rw", "suid", "noatime", "addr=10.1.2.3", "vers=3", "proto=tcp",
                          "port=2049", "mountport=20048", "mountproto=tcp", "timeo=100", "nodev"));
}

TEST(FuseMounter, CommandNamesTheVolumeDirectoryAndPorts) {
  EXPECT_EQ(FuseMounter::Url(Request()),
            "nfs://nfs.example/export/db?nfsport=2049&mountport=20048");
  auto request = Request();
  request.read_only = true;
  EXPECT_THAT(
      FuseMounter::Command(request, "/usr/bin/berth-nfs-fuse"),
      ElementsAre("/usr/bin/berth-nfs-fuse", "--url",
                  "nfs://nfs.example/export/db?nfsport=2049&mountport=20048", "--timeout-ms",
                  "10000", "--read-only", "--log", "/var/lib/berth/attach/db/berth-nfs-fuse.log",
                  "/var/lib/berth/mounts/db"));
}

TEST(NfsMounter, UnknownMounterIsRefused) {
  try {
    MakeNfsMounter("smb");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("smb"), std::string::npos);
  }
}

}  // namespace
}  // namespace berth::nfs
