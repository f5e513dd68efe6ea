// The linger: after its last Docker unmount, a read-write volume stays mounted, synced and locked
// for config linger_seconds, so that a container restarted on this host gets it back with no
// map, probe or fsck. It never stands in anyone's way: every operation that needs the volume
// unused ends it first (here, or by a release request to the host that keeps it), the scheduler
// ends it when its time is up, and a restarted berthd's reconcile releases it.
#include <spdlog/spdlog.h>

#include <chrono>

#include "common/error.h"
#include "common/fault.h"
#include "engine/engine.h"
#include "engine/volume_lock.h"

namespace berth::engine {

namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void Engine::RunDetached(std::function<void()> work) {
  if (detach_executor_) {
    detach_executor_(std::move(work));
  } else {
    work();  // no linger without an executor: only the scheduler's call comes here
  }
}

bool Engine::StartLinger(HostVolumeState& state) {
  // Release requests arrive on a backend thread, which must never tear down itself: they need
  // the detach executor.
  if (config_.linger_seconds <= 0 || !linger_scheduler_ || !detach_executor_ || state.read_only ||
      state.staged || state.phase != Phase::kMounted || state.attachment.device.empty()) {
    return false;
  }
  const auto backend_it = backends_.find(state.backend);
  if (backend_it == backends_.end() || backend_it->second->locks() == nullptr) {
    return false;
  }
  const std::string name = state.name;
  try {
    // Serving first: once it lingers, a host that needs the volume must be able to ask for it.
    backend_it->second->locks()->ServeReleaseRequests(
        name, state.attachment, [this, name](const std::string& asker, ReleaseReply reply) {
          RunDetached([this, name, asker, reply = std::move(reply)] {
            const ReleaseAnswer answer = AnswerReleaseRequest(name, asker);
            reply(answer);
            if (answer.released) {
              StopServingReleaseRequests(name);  // after the answer: an unwatch drops it
            }
          });
        });
    // What an unmount would write, written now: the data is on the storage from here on.
    host_->SyncFilesystem(state.mount_path);
  } catch (const Error& e) {
    spdlog::warn("volume {}: not lingering ({}); detaching it now", name, e.what());
    return false;
  }
  state.MoveTo(Phase::kLingering);
  state.linger_until_ms = NowMs() + int64_t{config_.linger_seconds} * 1000;
  states_.Save(state);
  FaultPoint("unmount.lingering");
  linger_scheduler_(std::chrono::seconds(config_.linger_seconds),
                    [this, name] { RunDetached([this, name] { EndExpiredLinger(name); }); });
  return true;
}

bool Engine::EndLingerHere(const std::string& name, const std::string& why) {
  auto state = states_.Load(name);
  if (!state || state->phase != Phase::kLingering) {
    return false;
  }
  auto found = Find(name);
  if (!found) {
    throw Error(ErrorCode::kNotFound, "volume " + name +
                                          " lingers on this host but is missing from the registry; "
                                          "unmount " +
                                          state->mount_path + " by hand");
  }
  TearDown(*found->second, found->first, *state);
  spdlog::info("volume {}: linger ended ({}); unmounted and detached", name, why);
  return true;
}

void Engine::ReleaseUnused(Backend& backend, const VolumeRecord& record) {
  const std::string& name = record.spec.name;
  EndLingerHere(name, "an operation needs it unused");
  auto* locks = backend.locks();
  if (locks == nullptr) {
    return;
  }
  for (const auto& holder : locks->Holders(record)) {
    if (!holder.host_id.empty() && holder.host_id != config_.host_id) {
      locks->AskHoldersToRelease(record);  // what they answer shows in the holders read next
      return;
    }
  }
}

void Engine::EndExpiredLinger(const std::string& name) {
  try {
    VolumeLock lock(config_.state_dir, name, "end linger", BusyWait());
    auto state = states_.Load(name);
    if (state && state->phase == Phase::kMounted) {
      return;  // reused: its next linger has a timer of its own, and keeps serving requests
    }
    if (state && state->phase == Phase::kLingering && NowMs() < state->linger_until_ms) {
      return;  // a later linger: its own timer ends it
    }
    if (state && state->phase == Phase::kLingering) {
      EndLingerHere(name, "its time is up");
    }
    StopServingReleaseRequests(name);
  } catch (const std::exception& e) {
    spdlog::error(
        "volume {}: ending its linger failed: {}; the next mount or berthd start "
        "retries it",
        name, e.what());
  }
}

ReleaseAnswer Engine::AnswerReleaseRequest(const std::string& name, const std::string& asker) {
  const std::string here = "host " + config_.host_id;
  try {
    VolumeLock lock(config_.state_dir, name, "release request", BusyWait());
    const auto state = states_.Load(name);
    if (!state) {
      return {true, "not attached on " + here};
    }
    if (EndLingerHere(name, "asked by " + asker)) {
      return {true, "released by " + here + ", where it lingered unused"};
    }
    if (state->staged) {
      return {false, "attached for Kubernetes on " + here};
    }
    return {false, "in use on " + here + " by " + std::to_string(state->TotalRefs()) + " mount(s)"};
  } catch (const std::exception& e) {
    spdlog::error("volume {}: cannot release it for {}: {}", name, asker, e.what());
    return {false, here + " could not release it: " + e.what()};
  }
}

void Engine::EndLingers() {
  for (const auto& name : states_.Names()) {
    try {
      VolumeLock lock(config_.state_dir, name, "end linger", BusyWait());
      if (EndLingerHere(name, "berthd is stopping")) {
        StopServingReleaseRequests(name);
      }
    } catch (const std::exception& e) {
      spdlog::error("volume {}: ending its linger failed: {}; the next berthd start retries it",
                    name, e.what());
    }
  }
}

void Engine::StopServingReleaseRequests(const std::string& name) {
  for (auto& [backend_name, backend] : backends_) {
    if (auto* locks = backend->locks()) {
      locks->StopServingReleaseRequests(name);
    }
  }
}

}  // namespace berth::engine
