// berthctl snapshot create|ls|rm|rollback|clone VOLUME@SNAP.
#include <iostream>

#include "cli/context.h"
#include "cli/output.h"
#include "common/error.h"

namespace berth::cli {

std::pair<std::string, std::string> SplitSnapshotSpec(const std::string& spec) {
  const auto at = spec.find('@');
  if (at == std::string::npos || at == 0 || at + 1 == spec.size() ||
      spec.find('@', at + 1) != std::string::npos) {
    throw Error(ErrorCode::kInvalidArgument,
                "'" + spec + "' is not VOLUME@SNAPSHOT (for example db@before-upgrade)");
  }
  return {spec.substr(0, at), spec.substr(at + 1)};
}

namespace {

struct SnapshotArgs {
  std::string spec;
  std::string volume;
  std::string clone;
  bool yes = false;
  bool flatten = false;
};

nlohmann::json SnapshotJson(const engine::SnapshotInfo& s) {
  return {{"name", s.name},
          {"size_bytes", s.size},
          {"used_bytes", s.used_bytes},
          {"created", FormatTime(s.created)},
          {"protected", s.is_protected}};
}

}  // namespace

void AddSnapshotCommands(CLI::App& app, Context& ctx) {
  auto* snapshot = app.add_subcommand(
      "snapshot", "snapshots: create, ls, rm, rollback, clone (RBD; NFS by copy)");
  snapshot->require_subcommand(1);
  auto a = std::make_shared<SnapshotArgs>();

  auto* create = snapshot->add_subcommand(
      "create", "snapshot a volume; a filesystem mounted here is frozen for the instant");
  create->add_option("spec", a->spec, "VOLUME@SNAPSHOT")->required();
  create->callback([&ctx, a] {
    ctx.run = [&ctx, a] {
      auto [volume, snap] = SplitSnapshotSpec(a->spec);
      {
        ProgressReporter progress("snapshot " + a->spec);  // NFS copies report; RBD is instant
        ctx.engine().CreateSnapshot(volume, snap, std::ref(progress));
      }
      ctx.json ? PrintJson({{"volume", volume}, {"snapshot", snap}, {"created", true}})
               : void(std::cout << a->spec << "\n");
    };
  });

  auto* ls = snapshot->add_subcommand("ls", "list a volume's snapshots");
  ls->add_option("volume", a->volume, "volume name")->required();
  ls->callback([&ctx, a] {
    ctx.run = [&ctx, a] {
      auto snaps = ctx.engine().ListSnapshots(a->volume);
      if (ctx.json) {
        nlohmann::json doc = nlohmann::json::array();
        for (const auto& s : snaps) {
          doc.push_back(SnapshotJson(s));
        }
        PrintJson(doc);
        return;
      }
      std::vector<std::vector<std::string>> rows;
      rows.reserve(snaps.size());
      for (const auto& s : snaps) {
        rows.push_back({s.name, engine::FormatSize(s.size), engine::FormatSize(s.used_bytes),
                        FormatTime(s.created), s.is_protected ? "yes" : "no"});
      }
      PrintTable({"SNAPSHOT", "SIZE", "USED", "CREATED", "PROTECTED"}, rows);
    };
  });

  auto* rm = snapshot->add_subcommand("rm", "remove a snapshot (not while clones depend on it)");
  rm->add_option("spec", a->spec, "VOLUME@SNAPSHOT")->required();
  rm->callback([&ctx, a] {
    ctx.run = [&ctx, a] {
      auto [volume, snap] = SplitSnapshotSpec(a->spec);
      ctx.engine().RemoveSnapshot(volume, snap);
      ctx.json ? PrintJson({{"volume", volume}, {"snapshot", snap}, {"removed", true}})
               : void(std::cout << a->spec << "\n");
    };
  });

  auto* rollback = snapshot->add_subcommand(
      "rollback", "rewrite a volume with a snapshot's data; refused while it is attached anywhere");
  rollback->add_option("spec", a->spec, "VOLUME@SNAPSHOT")->required();
  rollback->add_flag("-y,--yes", a->yes, "do not ask for confirmation");
  rollback->callback([&ctx, a] {
    ctx.run = [&ctx, a] {
      auto [volume, snap] = SplitSnapshotSpec(a->spec);
      Confirm("Roll volume " + volume + " back to " + snap +
                  "? Everything written since the snapshot is lost",
              a->yes);
      {
        ProgressReporter progress("rollback " + a->spec);
        ctx.engine().Rollback(volume, snap, std::ref(progress));
        progress.Done();
      }
      ctx.json ? PrintJson({{"volume", volume}, {"snapshot", snap}, {"rolled_back", true}})
               : void(std::cout << volume << " rolled back to " << snap << "\n");
    };
  });

  auto* clone = snapshot->add_subcommand("clone", "a new volume from a snapshot");
  clone->add_option("spec", a->spec, "VOLUME@SNAPSHOT")->required();
  clone->add_option("new_volume", a->clone, "name of the new volume")->required();
  clone->add_flag("--flatten", a->flatten,
                  "copy all data so the clone no longer depends on the snapshot");
  clone->callback([&ctx, a] {
    ctx.run = [&ctx, a] {
      auto [volume, snap] = SplitSnapshotSpec(a->spec);
      {
        ProgressReporter progress("flatten " + a->clone);
        ctx.engine().Clone(volume, snap, a->clone, a->flatten, std::ref(progress));
        if (a->flatten) {
          progress.Done();
        }
      }
      ctx.json ? PrintJson({{"volume", a->clone}, {"from", a->spec}, {"flattened", a->flatten}})
               : void(std::cout << a->clone << "\n");
    };
  });
}

}  // namespace berth::cli
