// Hole 3: a client that swaps a directory for a symlink while berth deletes or copies a volume's
// directory on the NFS export. Paths resolved from the export root follow a symlink in their
// middle, so the walk used to continue in whatever the symlink named: another volume. The walks
// now go by file handle; a swap aborts them, and nothing outside the volume is touched.
#include <gtest/gtest.h>
#include <nfsc/libnfs.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "common/error.h"
#include "common/subprocess.h"
#include "engine/config.h"
#include "engine/engine.h"
#include "tests/integration/engine/lab.h"
#include "tests/integration/security/security.h"
#include "tests/support/berthd_process.h"

namespace berth::testing {
namespace {

// The hostile client: its own libnfs connection, as a container on another host would have.
class HostileClient {
 public:
  HostileClient()
      : context_(nfs::NfsContext::Connect({LabNfsUrl(), std::chrono::milliseconds(10000)})) {}

  // `dir` becomes a symlink to `target`; what it held moves to `dir`.moved.
  void SwapForSymlink(const std::string& dir, const std::string& target) {
    ASSERT_EQ(nfs_rename(context_->get(), dir.c_str(), (dir + ".moved").c_str()), 0)
        << context_->LastError();
    ASSERT_EQ(nfs_symlink(context_->get(), target.c_str(), dir.c_str()), 0)
        << context_->LastError();
  }
  // The same, but quietly: for a loop that races a walk which may already have removed `dir`.
  void TrySwapForSymlink(const std::string& dir, const std::string& target) {
    if (nfs_rename(context_->get(), dir.c_str(), (dir + ".moved").c_str()) == 0) {
      nfs_symlink(context_->get(), target.c_str(), dir.c_str());
    }
  }

 private:
  std::unique_ptr<nfs::NfsContext> context_;
};

// A victim directory with a file, and an attacker directory whose subdirectory `d` holds the
// same names: a delete that follows d once it is a symlink to the victim removes victim files.
struct Scene {
  std::string victim = "/" + UniqueName("swap-victim");
  std::string attacker = "/" + UniqueName("swap-attacker");
  std::unique_ptr<nfs::ExportTree> tree = LabExport();

  Scene() {
    tree->MakeDirectories(victim + "/keep");
    tree->WriteFile(victim + "/keep/data", "precious");
    tree->MakeDirectories(attacker + "/d/keep");
    tree->WriteFile(attacker + "/d/keep/data", "bait");
  }
  ~Scene() {
    auto cleanup = LabExport();
    for (const auto& dir : {victim, attacker, attacker + "-copy"}) {
      try {
        cleanup->RemoveTree(dir);
      } catch (const Error& e) {
        ADD_FAILURE() << "cleanup of " << dir << ": " << e.what();
      }
    }
  }
  // The symlink target, relative to the attacker directory that holds d: the victim directory.
  std::string VictimFromD() const { return ".." + victim; }
  // The hostile move: right after berth's walk lists attacker/d, `client` swaps it for a symlink
  // to the victim; `swapped` says that it happened.
  void SwapDWhenListed(HostileClient& client, bool& swapped) {
    tree->SetListedHookForTesting([this, &client, &swapped](const std::string& path) {
      if (path == attacker + "/d" && !swapped) {
        swapped = true;
        client.SwapForSymlink(path, VictimFromD());
      }
    });
  }
  void ExpectVictimIntact() {
    EXPECT_EQ(LabExport()->ReadFile(victim + "/keep/data").value_or("<gone>"), "precious");
  }
};

TEST(SymlinkSwap, ADirectorySwappedMidDeleteAbortsTheDeleteAndLeavesTheOtherVolume) {
  Scene scene;
  HostileClient client;
  bool swapped = false;
  scene.SwapDWhenListed(client, swapped);
  try {
    scene.tree->RemoveTree(scene.attacker);
    ADD_FAILURE() << "the delete went on after its directory was swapped for a symlink";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kConflict) << e.what();
    EXPECT_NE(std::string(e.what()).find(scene.attacker + "/d was replaced during the delete"),
              std::string::npos)
        << e.what();
  }
  EXPECT_TRUE(swapped) << "the walk never listed " << scene.attacker << "/d";
  scene.ExpectVictimIntact();
  // What the walk emptied was the directory it listed, wherever it was moved to.
  EXPECT_FALSE(LabExport()->Exists(scene.attacker + "/d.moved/keep/data"));
}

TEST(SymlinkSwap, ADirectorySwappedMidCopyAbortsTheCopyAndCopiesNothingOfTheOtherVolume) {
  Scene scene;
  HostileClient client;
  bool swapped = false;
  scene.SwapDWhenListed(client, swapped);
  try {
    scene.tree->CopyTree(scene.attacker, scene.attacker + "-copy", nullptr);
    ADD_FAILURE() << "the copy went on after its directory was swapped for a symlink";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kConflict) << e.what();
  }
  EXPECT_TRUE(swapped);
  // Reads went by handle: what reached the copy is the attacker's own file, never the victim's.
  auto copied = LabExport()->ReadFile(scene.attacker + "-copy/d/keep/data");
  EXPECT_NE(copied.value_or(""), "precious");
  scene.ExpectVictimIntact();
}

TEST(SymlinkSwap, APathWithASymlinkInTheMiddleIsNeverWalked) {
  Scene scene;
  HostileClient client;
  client.SwapForSymlink(scene.attacker + "/d", scene.VictimFromD());
  // attacker/d/keep names the victim's directory through the symlink.
  try {
    scene.tree->RemoveTree(scene.attacker + "/d/keep");
    ADD_FAILURE() << "a delete walked through a symlink";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kConflict) << e.what();
    EXPECT_NE(std::string(e.what()).find("a symlink"), std::string::npos) << e.what();
  }
  EXPECT_THROW(scene.tree->TreeBytes(scene.attacker + "/d/keep"), Error);
  scene.ExpectVictimIntact();
  // A symlink at the end of the path is removed itself, not followed.
  scene.tree->RemoveTree(scene.attacker + "/d");
  EXPECT_FALSE(scene.tree->Exists(scene.attacker + "/d"));
  scene.ExpectVictimIntact();
}

// Through the front door: `berthctl volume rm` of an on_remove=delete NFS volume while a client
// on another host keeps swapping its directories for symlinks into another volume.
TEST(SymlinkSwap, BerthctlRmRacingAHostileClientNeverDeletesAnotherVolume) {
  const std::string config_path =
      WriteBerthdConfig(LabDir() + "/" + UniqueName("swap-host"), "swap");
  engine::Engine engine(engine::LoadConfig(config_path));
  const std::string victim = UniqueName("swap-kept");
  const std::string attacker = UniqueName("swap-rm");
  engine.Create(victim, {{"backend", "nfs"}});
  engine.Create(attacker, {{"backend", "nfs"}, {"on_remove", "delete"}});
  Defer remove_victim([&] {
    try {
      engine.Remove(victim);
      LabExport()->RemoveTree("/" + victim);  // an NFS volume's directory outlives it by default
    } catch (const Error& e) {
      ADD_FAILURE() << "cleanup: " << e.what();
    }
  });
  auto tree = LabExport();
  constexpr int kDirs = 60;
  for (int i = 0; i < kDirs; ++i) {
    tree->MakeDirectories("/" + victim + "/d" + std::to_string(i));
    tree->WriteFile("/" + victim + "/d" + std::to_string(i) + "/data", "precious");
    tree->MakeDirectories("/" + attacker + "/d" + std::to_string(i));
    tree->WriteFile("/" + attacker + "/d" + std::to_string(i) + "/data", "bait");
  }

  std::atomic<bool> stop{false};
  std::thread hostile([&] {
    HostileClient client;
    while (!stop) {
      for (int i = 0; i < kDirs && !stop; ++i) {
        const std::string dir = "/" + attacker + "/d" + std::to_string(i);
        client.TrySwapForSymlink(dir, "../" + victim + "/d" + std::to_string(i));
      }
    }
  });
  const auto rm =
      RunCommand({BERTH_BERTHCTL_PATH, "--config", config_path, "volume", "rm", attacker},
                 std::chrono::minutes(2));
  stop = true;
  hostile.join();
  if (rm.exit_code != 0) {
    EXPECT_NE(rm.err.find("during the delete; delete aborted"), std::string::npos) << rm.err;
    tree->RemoveTree("/" + attacker);  // what the hostile client left; berth's own walk
    engine.Remove(attacker);
  }
  for (int i = 0; i < kDirs; ++i) {
    EXPECT_EQ(tree->ReadFile("/" + victim + "/d" + std::to_string(i) + "/data").value_or("<gone>"),
              "precious")
        << "d" << i;
  }
}

}  // namespace
}  // namespace berth::testing
