// berth-flex run as kubelet and kube-controller-manager run it, against the lab's Ceph and
// nfs-ganesha: pod start and restart, a pod moving to another node, secrets, read-only,
// online expansion, NFS, and bad input.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <functional>

#include "common/error.h"
#include "common/files.h"
#include "common/strings.h"
#include "common/subprocess.h"
#include "engine/engine.h"
#include "fsutil/mountinfo.h"
#include "tests/integration/engine/lab.h"
#include "tests/integration/flex/kubelet.h"
#include "tests/support/berthd_process.h"

namespace berth::testing {
namespace {

using Json = nlohmann::json;

std::string ReadFile(const std::string& path) { return ReadFileIfExists(path).value_or(""); }

bool Eventually(const std::function<bool()>& condition, int seconds = 30) {
  for (int i = 0; i < seconds * 10; ++i) {
    if (condition()) {
      return true;
    }
    ::usleep(100'000);
  }
  return condition();
}

std::string Base64(const std::string& text) {
  auto result = RunCommand({"sh", "-c", "printf %s \"$0\" | base64 -w0", text});
  return result.out;
}

class FlexTest : public ::testing::Test {
 protected:
  void TearDown() override {
    node1_.RunInCgroups({});  // the calls below run as the test does
    // In reverse: pods first, then global mounts, then detach, then the volumes.
    for (auto it = cleanups_.rbegin(); it != cleanups_.rend(); ++it) {
      (*it)();
    }
    for (const auto& name : volumes_) {
      engine::Engine engine(node1_.config());
      ReleaseAndRemove(engine, name);
    }
    EXPECT_TRUE(LoopsUnder(node1_.base()).empty());
    EXPECT_TRUE(LoopsUnder(node2_.base()).empty());
  }

  // The options kubelet passes for a berth/rbd volume `image` (PV `pv`).
  std::map<std::string, std::string> RbdOptions(const std::string& image, const std::string& pv,
                                                const std::string& fstype = "ext4") {
    return {{"kubernetes.io/fsType", fstype},
            {"kubernetes.io/readwrite", "rw"},
            {"kubernetes.io/pvOrVolumeName", pv},
            {"image", image},
            {"size", fstype == "xfs" ? "300Mi" : "64Mi"},
            {"create", "true"}};
  }

  // attach (controller), waitforattach, mountdevice, mount (node): a pod starting.
  void StartPod(const Node& node, const std::string& pod, const std::string& pv,
                const std::map<std::string, std::string>& options) {
    const std::string json = Options(options);
    auto attach = node.Rbd({"attach", json, node.host_id()});
    ASSERT_EQ(attach.status(), "Success") << attach.message();
    auto wait = node.Rbd({"waitforattach", attach.json.value("device", ""), json});
    ASSERT_EQ(wait.status(), "Success") << wait.message();
    cleanups_.push_back([&node, pv] { node.Rbd({"detach", pv, node.host_id()}); });
    const std::string global = node.DeviceMountPath(pv);
    MakeDirectories(global, 0750);
    auto mountdevice = node.Rbd({"mountdevice", global, wait.json.value("device", ""), json});
    ASSERT_EQ(mountdevice.status(), "Success") << mountdevice.message();
    cleanups_.push_back([&node, global] { node.Rbd({"unmountdevice", global}); });
    MountPod(node, pod, pv, options);
  }

  void MountPod(const Node& node, const std::string& pod, const std::string& pv,
                std::map<std::string, std::string> options) {
    options["kubernetes.io/pod.name"] = pod;
    options["kubernetes.io/pod.uid"] = pod + "-uid";
    const std::string dir = node.PodDir(pod, pv);
    MakeDirectories(dir, 0750);
    auto mount = node.Rbd({"mount", dir, Options(options)});
    ASSERT_EQ(mount.status(), "Success") << mount.message();
    cleanups_.push_back([&node, dir] { node.Rbd({"unmount", dir}); });
  }

  // unmount, unmountdevice (node) and detach (controller): the pod is gone.
  void StopPod(const Node& node, const std::string& pod, const std::string& pv) {
    auto unmount = node.Rbd({"unmount", node.PodDir(pod, pv)});
    ASSERT_EQ(unmount.status(), "Success") << unmount.message();
    auto unmountdevice = node.Rbd({"unmountdevice", node.DeviceMountPath(pv)});
    ASSERT_EQ(unmountdevice.status(), "Success") << unmountdevice.message();
    auto detach = node.Rbd({"detach", pv, node.host_id()});
    ASSERT_EQ(detach.status(), "Success") << detach.message();
  }

  engine::VolumeRecord Record(const std::string& name) {
    return engine::Engine(node1_.config()).Get(name).record;
  }

  Node node1_{"node-1"};
  Node node2_{"node-2"};
  std::vector<std::function<void()>> cleanups_;
  std::vector<std::string> volumes_;
};

// With the node's berthd running, the calls run in it (one Ceph session for every pod on the
// node); a pod's data is back after a restart.
TEST_F(FlexTest, WithTheNodesBerthdRunningTheNodesCallsRunInIt) {
  const std::string socket = node1_.base() + "/berthd.sock";
  node1_.UseBerthdSocket(socket);
  BerthdProcess berthd(BERTH_BERTHD_PATH, node1_.config_path(), socket,
                       node1_.base() + "/berthd.log");
  const std::string name = UniqueName("flex-berthd");
  volumes_.push_back(name);
  StartPod(node1_, "p1", name, RbdOptions(name, name));
  const std::string data = "written through berthd's attach of " + name;
  WriteFileAtomically(node1_.PodDir("p1", name) + "/data", data);
  StopPod(node1_, "p1", name);
  StartPod(node1_, "p2", name, RbdOptions(name, name));
  EXPECT_EQ(ReadFile(node1_.PodDir("p2", name) + "/data"), data);
  StopPod(node1_, "p2", name);

  const std::string served = berthd.LogText();
  for (const std::string verb :
       {"attach", "waitforattach", "mountdevice", "mount", "unmount", "unmountdevice", "detach"}) {
    EXPECT_NE(served.find("flex rbd: " + verb + " -> Success"), std::string::npos)
        << verb << " did not run in berthd: " << served;
  }
  const std::string flex_log = ReadFile(node1_.log_path());
  EXPECT_NE(flex_log.find("mountdevice handed to berthd at " + socket), std::string::npos)
      << flex_log;
  EXPECT_EQ(flex_log.find("running it here"), std::string::npos) << flex_log;
}

// A berthd serves only calls for its own config file: another's calls (another installation on
// the host, or a config naming the wrong socket) run in berth-flex as without a berthd.
TEST_F(FlexTest, ABerthdOfAnotherConfigLeavesTheCallsToBerthFlex) {
  const std::string socket = node1_.base() + "/berthd.sock";
  node1_.UseBerthdSocket(socket);
  node2_.UseBerthdSocket(socket);
  BerthdProcess berthd(BERTH_BERTHD_PATH, node1_.config_path(), socket,
                       node1_.base() + "/berthd.log");
  const std::string name = UniqueName("flex-other");
  volumes_.push_back(name);
  StartPod(node2_, "p1", name, RbdOptions(name, name));
  StopPod(node2_, "p1", name);
  EXPECT_EQ(berthd.LogText().find("flex rbd:"), std::string::npos) << berthd.LogText();
  EXPECT_NE(ReadFile(node2_.log_path()).find("does not serve this call (409"), std::string::npos)
      << ReadFile(node2_.log_path());
}

// One adopt policy for every door (docs/architecture.md): an RBD image that no volume owns is
// adopted only when the options name it, never for being named like the volume. Docker's side
// is integration.engine.CreateTest.ForeignImageIsNotTakenOverWithoutImageOption.
TEST_F(FlexTest, AnImageNamedLikeTheVolumeIsAdoptedOnlyWhenTheOptionsNameIt) {
  const std::string name = UniqueName("flex-foreign");
  LabCluster cluster;
  cluster.CreateImage(name, 64 << 20);
  cluster.WriteImage(name, 0, "foreign data");
  const engine::Config config = node1_.config();
  cleanups_.push_back([config, name] {
    engine::Engine engine(config);
    try {
      engine.Get(name);
      ReleaseAndRemove(engine, name);  // an adopted image is kept: removed below
    } catch (const Error&) {
    }
    LabCluster().RemoveImage(name);
  });
  // kubelet names the volume after the PV, which is named like the image; no option `image`.
  auto options = RbdOptions(name, name);
  options.erase("image");
  auto refused = node1_.Rbd({"attach", Options(options), node1_.host_id()});
  EXPECT_EQ(refused.status(), "Failure");
  EXPECT_NE(refused.message().find("image=" + name + " to adopt it"), std::string::npos)
      << refused.message();
  EXPECT_THROW(engine::Engine(config).Get(name), Error) << "a volume was registered";
  EXPECT_EQ(cluster.ReadImage(name).substr(0, 12), "foreign data");

  options["image"] = name;
  auto adopted = node1_.Rbd({"attach", Options(options), node1_.host_id()});
  ASSERT_EQ(adopted.status(), "Success") << adopted.message();
  EXPECT_TRUE(Record(name).spec.adopted);
  EXPECT_EQ(Record(name).spec.size_bytes, 64u << 20) << "an adopted image keeps its own size";
}

TEST_F(FlexTest, InitReportsCapabilitiesWithoutAConfig) {
  Node node("node-init");
  auto rbd = node.Rbd({"init"});
  EXPECT_EQ(rbd.status(), "Success");
  EXPECT_EQ(rbd.json["capabilities"]["attach"], true);
  EXPECT_EQ(rbd.json["capabilities"]["fsGroup"], false);
  EXPECT_EQ(rbd.json["capabilities"]["supportsMetrics"], true);
  auto nfs = node.Nfs({"init"});
  EXPECT_EQ(nfs.json["capabilities"]["attach"], false);
  auto rbd_node = node.RbdNode({"init"});
  EXPECT_EQ(rbd_node.status(), "Success");
  EXPECT_EQ(rbd_node.json["capabilities"]["attach"], false);
  // init must answer even where the config is unreadable (a fresh controller host).
  std::filesystem::remove(node.config_path());
  EXPECT_EQ(node.Rbd({"init"}).status(), "Success");
}

TEST_F(FlexTest, PodStartsAndRestartsOnOneNodeWithoutAFormat) {
  const std::string name = UniqueName("flex-pod");
  volumes_.push_back(name);
  const auto options = RbdOptions(name, "pv-" + name);
  ASSERT_NO_FATAL_FAILURE(StartPod(node1_, "pod-a", "pv-" + name, options));
  const std::string dir = node1_.PodDir("pod-a", "pv-" + name);
  WriteRandomFile(dir + "/data", 8);
  const std::string sum = Sha256(dir + "/data");
  const auto formatted_at = Record(name).formatted_at;
  EXPECT_FALSE(formatted_at.empty());

  // The container restarts: kubelet unmounts the pod directory and mounts it again.
  ASSERT_EQ(node1_.Rbd({"unmount", dir}).status(), "Success");
  EXPECT_FALSE(IsMounted(dir));
  ASSERT_NO_FATAL_FAILURE(MountPod(node1_, "pod-a", "pv-" + name, options));
  EXPECT_EQ(Sha256(dir + "/data"), sum);

  // The whole node flow again (kubelet restarted the pod after the volume was unstaged).
  ASSERT_NO_FATAL_FAILURE(StopPod(node1_, "pod-a", "pv-" + name));
  EXPECT_FALSE(IsMounted(node1_.DeviceMountPath("pv-" + name)));
  EXPECT_TRUE(LoopsUnder(node1_.base()).empty());
  ASSERT_NO_FATAL_FAILURE(StartPod(node1_, "pod-b", "pv-" + name, options));
  EXPECT_EQ(Sha256(node1_.PodDir("pod-b", "pv-" + name) + "/data"), sum);
  EXPECT_EQ(Record(name).formatted_at, formatted_at) << "the volume was formatted again";
  EXPECT_EQ(ReadFile(node1_.log_path()).find("after formatting"),
            ReadFile(node1_.log_path()).rfind("after formatting"))
      << "more than one format in the log";
}

TEST_F(FlexTest, PodMovesToAnotherNodeWithItsData) {
  const std::string name = UniqueName("flex-move");
  const std::string pv = "pv-" + name;
  volumes_.push_back(name);
  const auto options = RbdOptions(name, pv);
  ASSERT_NO_FATAL_FAILURE(StartPod(node1_, "pod-1", pv, options));
  WriteRandomFile(node1_.PodDir("pod-1", pv) + "/data", 8);
  const std::string sum = Sha256(node1_.PodDir("pod-1", pv) + "/data");

  // While node 1 holds it, node 2 cannot attach it read-write, and is told who holds it.
  const std::string json = Options(options);
  auto refused = node2_.Rbd({"waitforattach", "berth:" + name, json});
  EXPECT_EQ(refused.status(), "Failure");
  EXPECT_NE(refused.message().find("host node-1"), std::string::npos) << refused.message();
  EXPECT_TRUE(LoopsUnder(node2_.base()).empty());

  ASSERT_NO_FATAL_FAILURE(StopPod(node1_, "pod-1", pv));
  ASSERT_NO_FATAL_FAILURE(StartPod(node2_, "pod-1", pv, options));
  EXPECT_EQ(Sha256(node2_.PodDir("pod-1", pv) + "/data"), sum);
  auto holders = engine::Engine(node1_.config()).Get(name).holders;
  ASSERT_EQ(holders.size(), 1u);
  EXPECT_EQ(holders[0].host_id, node2_.host_id());
}

// berth/rbd-node, on a cluster whose kube-controller-manager runs no flex driver: kubelet calls
// only `mount` and `unmount` (a non-attachable driver), and nothing runs on the controller. The
// same checks as the attachable driver's: a pod starts (created, formatted once), a second pod
// shares the node's mount, the pod restarts with its data, another node is refused while this
// one holds the volume (by either driver), and the pod moves there with its data.
TEST_F(FlexTest, NodeOnlyDriverStartsRestartsMovesAndRefusesWithoutAController) {
  const std::string name = UniqueName("flex-node");
  const std::string pv = "pv-" + name;
  volumes_.push_back(name);
  const auto options = RbdOptions(name, pv);
  auto mount = [&](const Node& node, const std::string& pod) {
    auto o = options;
    o["kubernetes.io/pod.name"] = pod;
    o["kubernetes.io/pod.uid"] = pod + "-uid";
    const std::string dir = node.PodDir(pod, pv, "rbd-node");
    MakeDirectories(dir, 0750);
    auto reply = node.RbdNode({"mount", dir, Options(o)});
    if (reply.status() == "Success") {
      cleanups_.push_back([&node, dir] { node.RbdNode({"unmount", dir}); });
    }
    return reply;
  };
  auto unmount = [&](const Node& node, const std::string& pod) {
    return node.RbdNode({"unmount", node.PodDir(pod, pv, "rbd-node")}).status();
  };
  auto holder = [&]() -> std::string {
    auto holders = engine::Engine(node1_.config()).Get(name).holders;
    return holders.size() == 1 ? holders[0].host_id : std::to_string(holders.size()) + " holders";
  };

  // The controller's calls are not this driver's: nothing is created or attached by them.
  EXPECT_EQ(node1_.RbdNode({"attach", Options(options), "node-1"}).status(), "Not supported");
  EXPECT_EQ(node1_.RbdNode({"waitforattach", "berth:" + name, Options(options)}).status(),
            "Not supported");
  EXPECT_THROW(engine::Engine(node1_.config()).Get(name), Error);

  // The pod starts: created, locked, mapped, formatted, mounted, bind-mounted.
  auto first = mount(node1_, "pod-a");
  ASSERT_EQ(first.status(), "Success") << first.message();
  const std::string dir = node1_.PodDir("pod-a", pv, "rbd-node");
  WriteRandomFile(dir + "/data", 8);
  const std::string sum = Sha256(dir + "/data");
  const auto formatted_at = Record(name).formatted_at;
  EXPECT_FALSE(formatted_at.empty());
  EXPECT_EQ(holder(), node1_.host_id());

  // A second pod on the node shares the one mount.
  ASSERT_EQ(mount(node1_, "pod-b").status(), "Success");
  EXPECT_EQ(Sha256(node1_.PodDir("pod-b", pv, "rbd-node") + "/data"), sum);

  // Another node is refused while node 1 holds it, through either driver, and is left clean.
  auto refused = mount(node2_, "pod-c");
  EXPECT_EQ(refused.status(), "Failure");
  EXPECT_NE(refused.message().find("host node-1"), std::string::npos) << refused.message();
  auto refused_rbd = node2_.Rbd({"waitforattach", "berth:" + name, Options(options)});
  EXPECT_EQ(refused_rbd.status(), "Failure");
  EXPECT_FALSE(IsMounted(node2_.PodDir("pod-c", pv, "rbd-node")));
  EXPECT_TRUE(LoopsUnder(node2_.base()).empty());

  // The pods restart: the last unmount detaches and unlocks; the next mount finds the data.
  ASSERT_EQ(unmount(node1_, "pod-b"), "Success");
  EXPECT_TRUE(IsMounted(dir)) << "one pod's unmount took the other's volume";
  EXPECT_EQ(holder(), node1_.host_id());
  ASSERT_EQ(unmount(node1_, "pod-a"), "Success");
  EXPECT_FALSE(IsMounted(dir));
  EXPECT_TRUE(LoopsUnder(node1_.base()).empty());
  EXPECT_EQ(holder(), "0 holders");
  ASSERT_EQ(mount(node1_, "pod-a").status(), "Success");
  EXPECT_EQ(Sha256(dir + "/data"), sum);

  // The pod moves to node 2: same filesystem, no format, node 2 holds the lock.
  ASSERT_EQ(unmount(node1_, "pod-a"), "Success");
  auto moved = mount(node2_, "pod-a");
  ASSERT_EQ(moved.status(), "Success") << moved.message();
  EXPECT_EQ(Sha256(node2_.PodDir("pod-a", pv, "rbd-node") + "/data"), sum);
  EXPECT_EQ(holder(), node2_.host_id());
  EXPECT_EQ(Record(name).formatted_at, formatted_at) << "the volume was formatted again";
  ASSERT_EQ(unmount(node2_, "pod-a"), "Success");
  EXPECT_TRUE(LoopsUnder(node2_.base()).empty());
}

// systemd stops kubelet.service, on a restart or an upgrade, by killing every process in its
// cgroup (KillMode=control-group). berth-flex runs in that cgroup; the mappers it starts must not,
// or a kubelet restart would cut every pod's I/O. The control: a process detached from a call in
// that cgroup only by setsid and a fork (as berth-flex's mappers once were) dies with it.
TEST_F(FlexTest, MappersOutliveTheKillOfKubeletsCgroup) {
  ServiceCgroup kubelet("berth-test-kubelet-" + ProcessToken());
  ASSERT_FALSE(kubelet.procs_files().empty()) << "no cgroup hierarchy to stand in for kubelet's";
  node1_.RunInCgroups(kubelet.procs_files());
  const std::string name = UniqueName("flex-cgroup");
  const std::string pv = "pv-" + name;
  volumes_.push_back(name);
  ASSERT_NO_FATAL_FAILURE(StartPod(node1_, "pod-1", pv, RbdOptions(name, pv)));
  const std::string state = node1_.config().state_dir + "/volumes/" + name + ".json";
  const auto mapper = Json::parse(ReadFile(state)).at("attachment").value("pid", -1);
  ASSERT_GT(mapper, 0) << ReadFile(state);

  std::string script;
  for (const auto& file : kubelet.procs_files()) {
    script += "echo $$ > " + file + "; ";
  }
  const std::string control_pid = node1_.base() + "/control.pid";
  ASSERT_EQ(RunCommand({"sh", "-c",
                        script + "setsid -f sh -c 'echo $$ > \"$0\"; exec sleep 600' \"$0\" "
                                 "</dev/null >/dev/null 2>&1",
                        control_pid})
                .exit_code,
            0);
  ASSERT_TRUE(Eventually([&] { return !ReadFile(control_pid).empty(); }));
  const pid_t control = std::stoi(ReadFile(control_pid));

  // The pod's container: appends a line and fsyncs it, over and over; any error ends it.
  const std::string data = node1_.PodDir("pod-1", pv) + "/data";
  const pid_t writer = SpawnDetached(
      {"sh", "-c",
       "i=0; while [ $i -lt 1000000 ]; do echo $i >> \"$0\" && sync \"$0\" || exit 1; "
       "i=$((i+1)); done",
       data},
      node1_.base() + "/writer.log");
  auto lines = [&] { return Split(ReadFile(data), '\n').size(); };
  ASSERT_TRUE(Eventually([&] { return lines() > 20; })) << ReadFile(node1_.base() + "/writer.log");

  EXPECT_GE(kubelet.KillAll(), 1) << "nothing was left in kubelet's cgroup to kill";
  EXPECT_FALSE(ProcessAlive(control)) << "the control process outlived the cgroup kill";
  EXPECT_TRUE(ProcessAlive(mapper)) << "the mapper died with kubelet's cgroup";
  const size_t at_kill = lines();
  EXPECT_TRUE(Eventually([&] { return lines() > at_kill + 20; }))
      << "the writer stopped after the kill: " << ReadFile(node1_.base() + "/writer.log");
  EXPECT_TRUE(ProcessAlive(writer)) << ReadFile(node1_.base() + "/writer.log");
  ::kill(writer, SIGKILL);
  EXPECT_TRUE(Eventually([&] { return !ProcessAlive(writer); }));
  ASSERT_NO_FATAL_FAILURE(StopPod(node1_, "pod-1", pv));
}

TEST_F(FlexTest, ReadOnlyMountsReadOnly) {
  const std::string name = UniqueName("flex-ro");
  const std::string pv = "pv-" + name;
  volumes_.push_back(name);
  auto options = RbdOptions(name, pv);
  // Made and filled read-write first, as a pod would.
  ASSERT_NO_FATAL_FAILURE(StartPod(node1_, "writer", pv, options));
  WriteRandomFile(node1_.PodDir("writer", pv) + "/data", 1);
  ASSERT_NO_FATAL_FAILURE(StopPod(node1_, "writer", pv));
  cleanups_.clear();

  options["kubernetes.io/readwrite"] = "ro";
  ASSERT_NO_FATAL_FAILURE(StartPod(node2_, "reader", pv, options));
  const std::string dir = node2_.PodDir("reader", pv);
  auto entry = fsutil::FindMount(fsutil::ReadMountInfo(), dir);
  ASSERT_TRUE(entry.has_value());
  EXPECT_NE(("," + entry->options + ",").find(",ro,"), std::string::npos) << entry->options;
  const int fd = ::open((dir + "/new").c_str(), O_WRONLY | O_CREAT, 0644);
  EXPECT_EQ(fd, -1);
  EXPECT_EQ(errno, EROFS);
  EXPECT_TRUE(PathExists(dir + "/data"));
  // Read-only takes no lock: node 1 could still attach it read-write.
  EXPECT_TRUE(engine::Engine(node1_.config()).Get(name).holders.empty());
}

TEST_F(FlexTest, FsGroupIsSetOnTheFreshRootOnly) {
  const std::string name = UniqueName("flex-fsgroup");
  const std::string pv = "pv-" + name;
  volumes_.push_back(name);
  auto options = RbdOptions(name, pv);
  options["kubernetes.io/mounterArgs.FsGroup"] = "4321";
  ASSERT_NO_FATAL_FAILURE(StartPod(node1_, "pod-1", pv, options));
  const std::string dir = node1_.PodDir("pod-1", pv);
  struct stat st {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_gid, 4321u);
  EXPECT_EQ(st.st_mode & 07777, 02775u);
  WriteRandomFile(dir + "/data", 1);  // owned by root:4321 through the setgid root
  // A second pod with another fsGroup changes nothing: the root is no longer fresh.
  options["kubernetes.io/mounterArgs.FsGroup"] = "999";
  ASSERT_NO_FATAL_FAILURE(MountPod(node1_, "pod-2", pv, options));
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_gid, 4321u);
}

// The tenant model of docs/kubernetes.md ("Secrets"), with the Ceph users docs/operations.md
// makes: the tenant's user owns its pool; the node's user owns only berth's own objects there.
// attach, waitforattach and mountdevice (no secret) create and map nothing; `mount` creates,
// locks and maps with the tenant's key; `unmount` (no secret) unmaps and unlocks with the node's
// user, which can never read the tenant's image. The key is left in no file.
TEST_F(FlexTest, TenantVolumesUseTheTenantsKeyAndLeaveNoTrace) {
  const std::string name = UniqueName("flex-secret");
  const std::string pv = "pv-" + name;
  const std::string pool = UniqueName("tenant-pool");
  const std::string tenant = "flex-tenant-" + ProcessToken();
  const std::string node_user = "flex-node-" + ProcessToken();
  const std::string conf = LabDir() + "/ceph.conf";
  const std::string admin_keyring = LabDir() + "/keyrings/client.admin.keyring";
  auto as_admin = [conf, admin_keyring](const std::string& tool, std::vector<std::string> args) {
    std::vector<std::string> argv = {tool, "-c", conf, "--id", "admin", "--keyring", admin_keyring};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, std::chrono::minutes(1));
  };
  cleanups_.push_back([as_admin, pool, tenant, node_user] {
    as_admin("ceph", {"auth", "rm", "client." + tenant});
    as_admin("ceph", {"auth", "rm", "client." + node_user});
    as_admin("ceph", {"osd", "pool", "rm", pool, pool, "--yes-i-really-really-mean-it"});
  });
  auto created = as_admin("ceph", {"osd", "pool", "create", pool, "8"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  auto init = as_admin("rbd", {"pool", "init", pool});
  ASSERT_EQ(init.exit_code, 0) << init.err;
  // The users exactly as docs/operations.md makes them (the registry pool is the lab's).
  const std::string registry_pool = node1_.config().backends.at("rbd").settings.at("pool");
  auto tenant_key = as_admin(
      "ceph",
      {"auth", "get-or-create-key", "client." + tenant, "mon", "profile rbd", "osd",
       "profile rbd pool=" + pool + ", allow rwx pool=" + registry_pool + " object_prefix berth."});
  ASSERT_EQ(tenant_key.exit_code, 0) << tenant_key.err;
  const std::string key = Trim(tenant_key.out);
  const std::string node_keyring = node1_.base() + "/node-user.keyring";
  auto node_key =
      as_admin("ceph", {"auth", "get-or-create", "client." + node_user, "mon", "profile rbd", "osd",
                        "profile rbd pool=" + registry_pool + ", allow rwx object_prefix berth.",
                        "-o", node_keyring});
  ASSERT_EQ(node_key.exit_code, 0) << node_key.err;
  node1_.UseCephUser(node_user, node_keyring);
  // Checked and removed as the lab's admin: the lab's user has no rights on the tenant's pool.
  engine::Config admin = node1_.config();
  admin.backends.at("rbd").settings["user"] = "admin";
  admin.backends.at("rbd").settings["keyring"] = admin_keyring;
  cleanups_.push_back([admin, name] {
    engine::Engine engine(admin);
    ReleaseAndRemove(engine, name);
  });
  auto images = [&] { return Trim(as_admin("rbd", {"ls", pool}).out); };

  auto options = RbdOptions(name, pv);
  options["user"] = tenant;
  options["pool"] = pool;
  // kubelet passes secrets to `mount` only, base64 of each Secret data value.
  auto with_key = [&](const std::string& k) {
    auto o = options;
    o["kubernetes.io/secret/key"] = Base64(k);
    return o;
  };
  // The calls without the secret create, lock and map nothing, with nobody's key.
  const std::string json = Options(options);
  ASSERT_EQ(node1_.Rbd({"attach", json, "node-1"}).status(), "Success");
  EXPECT_EQ(node1_.Rbd({"isattached", json, "node-1"}).json.value("attached", false), true);
  auto wait = node1_.Rbd({"waitforattach", "berth:" + name, json});
  ASSERT_EQ(wait.status(), "Success") << wait.message();
  const std::string global = node1_.DeviceMountPath(pv);
  MakeDirectories(global, 0750);
  ASSERT_EQ(node1_.Rbd({"mountdevice", global, wait.json.value("device", ""), json}).status(),
            "Success");
  EXPECT_FALSE(IsMounted(global));
  EXPECT_EQ(images(), "") << "a call without the tenant's key created its image";
  EXPECT_THROW(engine::Engine(admin).Get(name), Error);
  EXPECT_TRUE(LoopsUnder(node1_.base()).empty());

  const std::string dir = node1_.PodDir("pod-1", pv);
  MakeDirectories(dir, 0750);
  // A wrong key fails in `mount` and leaves nothing behind: the secret is what is used. (The
  // secret is the key's last 16 bytes; the first ones are its type and creation time.)
  std::string wrong = key;
  wrong[key.size() - 6] = wrong[key.size() - 6] == 'A' ? 'B' : 'A';
  auto refused = node1_.Rbd({"mount", dir, Options(with_key(wrong))});
  EXPECT_EQ(refused.status(), "Failure");
  EXPECT_FALSE(IsMounted(dir));
  EXPECT_TRUE(LoopsUnder(node1_.base()).empty());
  // Without the key at all, the error says what is missing.
  auto missing = node1_.Rbd({"mount", dir, json});
  EXPECT_NE(missing.message().find("secret"), std::string::npos) << missing.message();
  // A secret whose userID names another user is refused.
  auto other = with_key(key);
  other["kubernetes.io/secret/userID"] = Base64("someone-else");
  EXPECT_NE(node1_.Rbd({"mount", dir, Options(other)}).message().find("differs from option user"),
            std::string::npos);

  auto mount = node1_.Rbd({"mount", dir, Options(with_key(key))});
  ASSERT_EQ(mount.status(), "Success") << mount.message();
  cleanups_.push_back([this, dir] { node1_.Rbd({"unmount", dir}); });
  EXPECT_EQ(images(), name) << "mount did not create the image in the tenant's pool";
  WriteRandomFile(dir + "/data", 2);
  const std::string sum = Sha256(dir + "/data");
  // The node's user cannot read the tenant's image, only berth's objects beside it.
  auto peek = RunCommand(
      {"rbd", "-c", conf, "--id", node_user, "--keyring", node_keyring, "info", pool + "/" + name},
      std::chrono::minutes(1));
  EXPECT_NE(peek.exit_code, 0) << "the node's user can read the tenant's image: " << peek.out;
  // No secret reaches expandvolume, so it refuses, saying how to grow the volume instead.
  auto grow = node1_.Rbd({"expandvolume", json, global, "134217728", "67108864"});
  EXPECT_EQ(grow.status(), "Failure");
  EXPECT_NE(grow.message().find("berthctl resize"), std::string::npos) << grow.message();

  // unmount, with the node's user: unmapped, unlocked.
  ASSERT_EQ(node1_.Rbd({"unmount", dir}).status(), "Success");
  EXPECT_FALSE(IsMounted(dir));
  EXPECT_TRUE(LoopsUnder(node1_.base()).empty());
  EXPECT_TRUE(engine::Engine(admin).Get(name).holders.empty()) << "the lock outlived the pod";
  ASSERT_EQ(node1_.Rbd({"unmountdevice", global}).status(), "Success");
  ASSERT_EQ(node1_.Rbd({"detach", pv, "node-1"}).status(), "Success");

  ASSERT_EQ(node1_.Rbd({"mount", dir, Options(with_key(key))}).status(), "Success");
  EXPECT_EQ(Sha256(dir + "/data"), sum);
  ASSERT_EQ(node1_.Rbd({"unmount", dir}).status(), "Success");

  // The key is in no log, state file or leftover key file of this node.
  auto grep = RunCommand({"grep", "-rlF", key, node1_.base()});
  EXPECT_EQ(grep.exit_code, 1) << "key found in: " << grep.out;
  auto grep64 = RunCommand({"grep", "-rlF", Base64(key), node1_.base()});
  EXPECT_EQ(grep64.exit_code, 1) << "base64 key found in: " << grep64.out;
  EXPECT_FALSE(ReadFile(node1_.log_path()).empty());
}

TEST_F(FlexTest, ExpansionGrowsMountedExt4AndXfs) {
  for (const std::string fstype : {"ext4", "xfs"}) {
    SCOPED_TRACE(fstype);
    const std::string name = UniqueName("flex-grow-" + fstype);
    const std::string pv = "pv-" + name;
    volumes_.push_back(name);
    const auto options = RbdOptions(name, pv, fstype);
    ASSERT_NO_FATAL_FAILURE(StartPod(node1_, "pod", pv, options));
    const std::string dir = node1_.PodDir("pod", pv);
    WriteRandomFile(dir + "/data", 4);
    const std::string sum = Sha256(dir + "/data");
    const uint64_t before = FilesystemBytes(dir);
    const uint64_t old_size = Record(name).spec.size_bytes;
    const uint64_t new_size = old_size * 2;
    const std::string json = Options(options);
    const std::string global = node1_.DeviceMountPath(pv);

    auto shrink = node1_.Rbd(
        {"expandvolume", json, global, std::to_string(old_size / 2), std::to_string(old_size)});
    EXPECT_EQ(shrink.status(), "Failure");
    EXPECT_NE(shrink.message().find("never shrinks"), std::string::npos) << shrink.message();

    auto volume = node1_.Rbd(
        {"expandvolume", json, global, std::to_string(new_size), std::to_string(old_size)});
    ASSERT_EQ(volume.status(), "Success") << volume.message();
    EXPECT_EQ(volume.json.value("volumeNewSize", uint64_t{0}), new_size);
    EXPECT_EQ(Record(name).spec.size_bytes, new_size);
    auto fs = node1_.Rbd({"expandfs", json, "/dev/unused", global, std::to_string(new_size),
                          std::to_string(old_size)});
    if (fs.status() == "Success") {
      EXPECT_GT(FilesystemBytes(dir), before + (old_size * 3) / 4);
    } else {
      // Only ext4, and only where the kernel refuses online resize (no CAP_SYS_RESOURCE, as
      // in some containers): then it grows before the next mount, and says so.
      ASSERT_EQ(fstype, "ext4") << fs.message();
      EXPECT_NE(fs.message().find("CAP_SYS_RESOURCE"), std::string::npos) << fs.message();
      EXPECT_EQ(FilesystemBytes(dir), before);
      ASSERT_NO_FATAL_FAILURE(StopPod(node1_, "pod", pv));
      ASSERT_NO_FATAL_FAILURE(StartPod(node1_, "pod", pv, options));
      EXPECT_GT(FilesystemBytes(dir), before + (old_size * 3) / 4);
      EXPECT_FALSE(Record(name).grow_pending);
    }
    EXPECT_EQ(Sha256(dir + "/data"), sum);
  }
}

TEST_F(FlexTest, NfsVolumeFollowsThePod) {
  const std::string name = UniqueName("flex-nfs");
  volumes_.push_back(name);
  const std::string json = Options({{"kubernetes.io/fsType", ""},
                                    {"kubernetes.io/readwrite", "rw"},
                                    {"kubernetes.io/pvOrVolumeName", name},
                                    {"create", "true"}});
  const std::string pod1 = node1_.base() + "/kubelet/pods/p1/volumes/berth~nfs/" + name;
  const std::string pod2 = node1_.base() + "/kubelet/pods/p2/volumes/berth~nfs/" + name;
  EXPECT_EQ(node1_.Nfs({"init"}).json["capabilities"]["attach"], false);
  EXPECT_EQ(node1_.Nfs({"attach", json, "node-1"}).status(), "Not supported");
  auto mount = node1_.Nfs({"mount", pod1, json});
  ASSERT_EQ(mount.status(), "Success") << mount.message();
  cleanups_.push_back([this, pod1] { node1_.Nfs({"unmount", pod1}); });
  WriteRandomFile(pod1 + "/data", 2);
  const std::string sum = Sha256(pod1 + "/data");
  ASSERT_EQ(node1_.Nfs({"unmount", pod1}).status(), "Success");
  EXPECT_FALSE(IsMounted(pod1));

  ASSERT_EQ(node2_.Nfs({"mount", pod2, json}).status(), "Success");
  cleanups_.push_back([this, pod2] { node2_.Nfs({"unmount", pod2}); });
  EXPECT_EQ(Sha256(pod2 + "/data"), sum);
  ASSERT_EQ(node2_.Nfs({"unmount", pod2}).status(), "Success");
  EXPECT_FALSE(IsMounted(pod2));
  EXPECT_FALSE(engine::Engine(node2_.config()).Get(name).local.has_value());
}

TEST_F(FlexTest, BadInputFailsClearlyAndChangesNothing) {
  LabCluster cluster;
  const auto images = cluster.Images();
  const std::string name = UniqueName("flex-bad");
  const std::string dir = node1_.PodDir("pod", name);
  MakeDirectories(dir, 0750);
  auto good = RbdOptions(name, "pv-" + name);

  struct Case {
    std::string what;
    std::string driver;
    std::vector<std::string> args;
    std::string status;
    std::string says;
  };
  auto with = [&](const std::string& key, const std::string& value) {
    auto o = good;
    if (value.empty()) {
      o.erase(key);
    } else {
      o[key] = value;
    }
    return Options(o);
  };
  const std::vector<Case> cases = {
      {"malformed JSON", "rbd", {"attach", "{\"image\": ", "node-1"}, "Failure", "not valid JSON"},
      {"JSON array", "rbd", {"mount", dir, "[1]"}, "Failure", "JSON object"},
      {"no volume named", "rbd", {"waitforattach", "x", "{}"}, "Failure", "no volume named"},
      {"bad size", "rbd", {"attach", with("size", "12XB"), "node-1"}, "Failure", "size"},
      {"zero size", "rbd", {"mount", dir, with("size", "0")}, "Failure", "size"},
      {"unknown option",
       "rbd",
       {"attach", with("colour", "red"), "node-1"},
       "Failure",
       "unknown option 'colour'"},
      {"missing volume, no create",
       "rbd",
       {"waitforattach", "x", with("create", "")},
       "Failure",
       "create"},
      {"bad readwrite",
       "rbd",
       {"attach", with("kubernetes.io/readwrite", "rx"), "node-1"},
       "Failure",
       "ro or rw"},
      {"unknown driver", "lvm", {"init"}, "Failure", "unknown driver 'lvm'"},
      {"unknown verb", "rbd", {"snapshot", "{}"}, "Not supported", "not supported"},
      {"nfs has no attach", "nfs", {"waitforattach", "x", "{}"}, "Not supported", "nfs"},
      {"wrong argument count", "rbd", {"mountdevice", "/x"}, "Failure", "usage"},
      {"relative path", "rbd", {"unmount", "pods/x"}, "Failure", "absolute"},
      {"bad expand size",
       "rbd",
       {"expandvolume", with("size", "64Mi"), "/x", "big", "1"},
       "Failure",
       "whole number"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    FlexReply reply;
    if (c.driver == "lvm") {
      // An executable named after no driver, as a mis-installed copy would be.
      const std::string path = node1_.base() + "/volume-plugins/berth~lvm/lvm";
      MakeDirectories(std::filesystem::path(path).parent_path(), 0755);
      std::filesystem::create_symlink(BERTH_FLEX_PATH, path);
      reply = node1_.Call("lvm", c.args);
    } else {
      reply = node1_.Call(c.driver, c.args);
    }
    EXPECT_EQ(reply.status(), c.status) << reply.json.dump();
    EXPECT_NE(reply.message().find(c.says), std::string::npos) << reply.message();
  }
  EXPECT_EQ(cluster.Images(), images) << "bad input created or removed an image";
  EXPECT_THROW(engine::Engine(node1_.config()).Get(name), Error);
  EXPECT_FALSE(IsMounted(dir));
  EXPECT_TRUE(std::filesystem::is_empty(node1_.config().state_dir + "/volumes"));
}

}  // namespace
}  // namespace berth::testing
