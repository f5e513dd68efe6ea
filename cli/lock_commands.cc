// berthctl lock ls|break VOLUME.
#include <spdlog/spdlog.h>

#include <iostream>

#include "cli/context.h"
#include "cli/output.h"
#include "common/error.h"

namespace berth::cli {

namespace {

struct LockArgs {
  std::string volume;
  bool fence = false;
  bool yes = false;
};

nlohmann::json HolderJson(const engine::HolderInfo& h) {
  return {{"host_id", h.host_id}, {"client", h.client}, {"address", h.address}};
}

}  // namespace

void AddLockCommands(CLI::App& app, Context& ctx) {
  auto* lock = app.add_subcommand("lock", "the single-writer lock: ls, break");
  lock->require_subcommand(1);
  auto a = std::make_shared<LockArgs>();

  auto* ls = lock->add_subcommand("ls", "who holds a volume, and which clients have it open");
  ls->add_option("volume", a->volume, "volume name")->required();
  ls->callback([&ctx, a] {
    ctx.run = [&ctx, a] {
      auto state = ctx.engine().Locks(a->volume);
      if (ctx.json) {
        nlohmann::json holders = nlohmann::json::array();
        for (const auto& h : state.holders) {
          holders.push_back(HolderJson(h));
        }
        PrintJson({{"volume", a->volume}, {"holders", holders}, {"watchers", state.watchers}});
        return;
      }
      std::vector<std::vector<std::string>> rows;
      for (const auto& h : state.holders) {
        rows.push_back(
            {"holder", h.host_id.empty() ? "(not berth)" : h.host_id, h.client, h.address});
      }
      for (const auto& w : state.watchers) {
        rows.push_back({"watcher", "", "", w});
      }
      PrintTable({"ROLE", "HOST", "CLIENT", "ADDRESS"}, rows);
    };
  });

  auto* brk = lock->add_subcommand(
      "break",
      "break a dead host's lock. With --fence (the safe way) its Ceph clients are blocklisted "
      "first, so it can never write again even if it comes back");
  brk->add_option("volume", a->volume, "volume name")->required();
  brk->add_flag("--fence", a->fence, "blocklist the holder and its mapper clients first");
  brk->add_flag("-y,--yes", a->yes, "do not ask for confirmation");
  brk->callback([&ctx, a] {
    ctx.run = [&ctx, a] {
      auto holders = ctx.engine().Locks(a->volume).holders;
      if (holders.empty()) {
        throw Error(ErrorCode::kNotFound, "volume " + a->volume + " is not locked");
      }
      Confirm("Break the lock of volume " + a->volume + " held by host " +
                  (holders[0].host_id.empty() ? "unknown" : holders[0].host_id) +
                  (a->fence ? " after fencing it"
                            : " WITHOUT fencing (if that host is alive it may still write)"),
              a->yes);
      auto broken = ctx.engine().BreakLock(a->volume, a->fence, holders);
      if (ctx.json) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& h : broken) {
          out.push_back(HolderJson(h));
        }
        PrintJson({{"volume", a->volume}, {"fenced", a->fence}, {"broken", out}});
      } else {
        for (const auto& h : broken) {
          std::cout << "broke the lock of " << a->volume << " held by "
                    << (h.host_id.empty() ? "unknown host" : "host " + h.host_id) << " ("
                    << h.client << " at " << h.address << ")" << (a->fence ? ", fenced" : "")
                    << "\n";
        }
      }
    };
  });
}

}  // namespace berth::cli
