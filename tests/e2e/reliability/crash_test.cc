// berthd killed after each step of Create, Mount, Unmount and Remove (the fault points of
// common/fault.h), then restarted: its start-up reconcile and Docker's retry must leave no
// double format, no leaked mapping, mount or lock, and the data intact.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "common/files.h"
#include "engine/engine.h"
#include "tests/e2e/docker/docker_lab.h"
#include "tests/e2e/reliability/crash_host.h"
#include "tests/integration/engine/lab.h"

namespace berth::e2e {
namespace {

using nlohmann::json;

enum class Operation { kCreate, kMount, kUnmount, kRemove };

Operation OperationOf(const std::string& point) {
  const std::string op = point.substr(0, point.find('.'));
  if (op == "create") return Operation::kCreate;
  if (op == "mount" || op == "attach") return Operation::kMount;
  if (op == "unmount" || op == "detach") return Operation::kUnmount;
  return Operation::kRemove;
}

// Ten runs per step; fewer in the slower sanitizer build (BERTH_CRASH_REPEATS_DEFAULT).
int Repeats() {
  const char* text = std::getenv("BERTH_CRASH_REPEATS");
  return text != nullptr ? std::atoi(text) : BERTH_CRASH_REPEATS_DEFAULT;
}

json Named(const std::string& name) { return {{"Name", name}}; }

class Crash : public ::testing::TestWithParam<std::string> {
 protected:
  Crash() : observer_(testing::LabConfig("observer")) {}

  // Nothing of `name` is left on the host: no mount, mapping, state file or lock.
  void ExpectReleased(CrashHost& host, const std::string& name) {
    EXPECT_TRUE(Eventually([&] {
      return !VolumeMounted(name) && !VolumeMapped(name) && !host.HasState(name);
    })) << "volume "
        << name << " is still mounted, mapped or recorded on " << host.host_id();
    EXPECT_TRUE(observer_.Locks(name).holders.empty()) << "volume " << name << " is still locked";
  }

  // Docker's next container using the volume: write, unmount, mount again, read back.
  void ExpectUsable(CrashHost& host, const std::string& name) {
    const std::string path = host.CallOk("Mount", Ref(name, "c2")).value("Mountpoint", "");
    ASSERT_FALSE(path.empty());
    testing::WriteRandomFile(path + "/after", 1);
    const std::string sum = testing::Sha256(path + "/after");
    host.CallOk("Unmount", Ref(name, "c2"));
    ExpectReleased(host, name);
    const std::string again = host.CallOk("Mount", Ref(name, "c3")).value("Mountpoint", "");
    EXPECT_EQ(testing::Sha256(again + "/after"), sum);
    host.CallOk("Unmount", Ref(name, "c3"));
    ExpectReleased(host, name);
  }

  void RunOnce(CrashHost& host, const std::string& point);

  engine::Engine observer_;
};

void Crash::RunOnce(CrashHost& host, const std::string& point) {
  const std::string name = UniqueVolume("crash");
  const json create = {{"Name", name}, {"Opts", {{"size", "64M"}}}};
  testing::Cleanups cleanups;
  cleanups.Add([&] {
    if (!::testing::Test::HasFailure()) {
      return;
    }
    // Whatever happened, leave nothing behind: a berthd without fault removes the volume.
    host.Stop();
    host.Start();
    for (const char* id : {"c1", "c2", "c3"}) {
      host.Call("Unmount", Ref(name, id));
    }
    Eventually([&] { return !VolumeMapped(name); });
    host.Call("Remove", Named(name));
  });

  host.Start(point);
  switch (OperationOf(point)) {
    case Operation::kCreate: {
      EXPECT_TRUE(host.Call("Create", create).contains("transport"));
      ASSERT_TRUE(host.DiedAtFault());
      host.Start();
      host.CallOk("Create", create);  // Docker's retry
      ExpectUsable(host, name);
      break;
    }
    case Operation::kMount: {
      host.CallOk("Create", create);
      EXPECT_TRUE(host.Call("Mount", Ref(name, "c1")).contains("transport"));
      ASSERT_TRUE(host.DiedAtFault());
      host.Start();
      if (point == "mount.referenced") {
        // The reference was recorded before the reply was lost: it may be in use, so the
        // restarted berthd keeps it mounted until its Unmount.
        const std::string path = host.CallOk("Path", Named(name)).value("Mountpoint", "");
        EXPECT_TRUE(testing::IsMounted(path)) << "an adopted reference was unmounted";
        host.CallOk("Unmount", Ref(name, "c1"));
      }
      ExpectReleased(host, name);
      ExpectUsable(host, name);
      break;
    }
    case Operation::kUnmount: {
      host.CallOk("Create", create);
      const std::string path = host.CallOk("Mount", Ref(name, "c1")).value("Mountpoint", "");
      testing::WriteRandomFile(path + "/before", 2);
      const std::string sum = testing::Sha256(path + "/before");
      host.Call("Unmount", Ref(name, "c1"));  // dies before or after its reply
      ASSERT_TRUE(host.DiedAtFault());
      host.Start();
      ExpectReleased(host, name);
      const std::string again = host.CallOk("Mount", Ref(name, "c2")).value("Mountpoint", "");
      EXPECT_EQ(testing::Sha256(again + "/before"), sum) << "data lost across the crash";
      host.CallOk("Unmount", Ref(name, "c2"));
      ExpectReleased(host, name);
      break;
    }
    case Operation::kRemove: {
      host.CallOk("Create", create);
      host.CallOk("Mount", Ref(name, "c1"));
      host.CallOk("Unmount", Ref(name, "c1"));
      ExpectReleased(host, name);
      EXPECT_TRUE(host.Call("Remove", Named(name)).contains("transport"));
      ASSERT_TRUE(host.DiedAtFault());
      host.Start();
      host.CallOk("Remove", Named(name));  // Docker's retry completes it
      EXPECT_FALSE(host.Call("Get", Named(name)).contains("Volume"))
          << "the volume outlived Remove";
      for (const auto& image : testing::LabCluster().Images()) {
        EXPECT_NE(image, name) << "the image outlived its volume";
      }
      host.Stop();
      return;  // nothing left to format or check
    }
  }
  EXPECT_EQ(host.FormatCount(name), 1) << "volume " << name << " was formatted more than once";
  host.CallOk("Remove", Named(name));
  host.Stop();
}

TEST_P(Crash, KilledAtEachStepLosesNothing) {
  std::string host_id = "crash-" + GetParam() + "-" + testing::ProcessToken();
  for (auto& c : host_id) {
    c = c == '.' ? '-' : c;
  }
  CrashHost host(host_id);
  for (int i = 0; i < Repeats(); ++i) {
    SCOPED_TRACE("run " + std::to_string(i + 1) + " killed at " + GetParam());
    RunOnce(host, GetParam());
    if (HasFailure()) {
      break;  // one failing run says it; ten would only repeat it
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Steps, Crash,
                         ::testing::Values("create.registered", "create.storage", "mount.intent",
                                           "attach.locked", "attach.mapped", "mount.attached",
                                           "mount.formatted", "mount.recorded", "mount.mounted",
                                           "mount.referenced", "unmount.unmounted",
                                           "unmount.pending", "detach.unmapped", "detach.released",
                                           "remove.image_deleted", "remove.storage_deleted"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (auto& c : name) {
                             c = c == '.' ? '_' : c;
                           }
                           return name;
                         });

}  // namespace
}  // namespace berth::e2e
