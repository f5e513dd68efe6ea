// berthctl volume ls|inspect|create|rm|resize|mount|unmount, and the top-level shortcuts.
#include <iostream>

#include "cli/context.h"
#include "cli/output.h"
#include "common/error.h"
#include "engine/volume_status.h"

namespace berth::cli {

namespace {

engine::Options ParseOptionList(const std::vector<std::string>& items) {
  engine::Options options;
  for (const auto& item : items) {
    auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw Error(ErrorCode::kInvalidArgument, "option '" + item + "' must look like key=value");
    }
    options[item.substr(0, eq)] = item.substr(eq + 1);
  }
  return options;
}

struct VolumeArgs {
  std::string name;
  std::vector<std::string> options;
  std::string ref = "berthctl";
  std::string size;
};

// Registers the volume commands under `parent` (the `volume` command, or the top level).
void Register(CLI::App& parent, Context& ctx, const std::shared_ptr<VolumeArgs>& a) {
  auto* ls = parent.add_subcommand("ls", "list volumes");
  ls->callback([&ctx] {
    ctx.run = [&ctx] {
      auto volumes = ctx.engine().List();
      if (ctx.json) {
        nlohmann::json doc = nlohmann::json::array();
        for (const auto& info : volumes) {
          doc.push_back(engine::VolumeStatus(info, ctx.engine().config().host_id));
        }
        PrintJson(doc);
        return;
      }
      std::vector<std::vector<std::string>> rows;
      for (const auto& info : volumes) {
        const auto& spec = info.record.spec;
        rows.push_back(
            {spec.name, spec.backend, engine::FormatSize(spec.size_bytes),
             spec.backend == "nfs" ? "-" : spec.fstype,
             info.local && !info.local->mount_path.empty() ? info.local->mount_path : "-"});
      }
      PrintTable({"NAME", "BACKEND", "SIZE", "FSTYPE", "MOUNTED HERE"}, rows);
    };
  });

  auto* inspect = parent.add_subcommand("inspect", "show a volume: spec, holders, mounts");
  inspect->add_option("name", a->name, "volume name")->required();
  inspect->callback([&ctx, a] {
    ctx.run = [&ctx, a] {
      PrintJson(engine::VolumeStatus(ctx.engine().Get(a->name), ctx.engine().config().host_id));
    };
  });

  auto* create = parent.add_subcommand("create", "create a volume (idempotent)");
  create->add_option("name", a->name, "volume name")->required();
  create->add_option("-o,--opt", a->options,
                     "option key=value: size, fstype, mkfs_options, mount_options, read_only, "
                     "suid, backend, pool, image, features, object_size, subdir, uid, gid, "
                     "mode, on_remove");
  create->callback([&ctx, a] {
    ctx.run = [&ctx, a] {
      ctx.engine().Create(a->name, ParseOptionList(a->options));
      ctx.json ? PrintJson({{"name", a->name}, {"created", true}})
               : void(std::cout << a->name << "\n");
    };
  });

  auto* rm = parent.add_subcommand("rm", "remove a volume and its storage");
  rm->add_option("name", a->name, "volume name")->required();
  rm->callback([&ctx, a] {
    ctx.run = [&ctx, a] {
      ctx.engine().Remove(a->name);
      ctx.json ? PrintJson({{"name", a->name}, {"removed", true}})
               : void(std::cout << a->name << "\n");
    };
  });

  auto* resize = parent.add_subcommand(
      "resize", "grow a volume, and its filesystem online when it is mounted on this host");
  resize->add_option("name", a->name, "volume name")->required();
  resize->add_option("size", a->size, "new size, e.g. 20G (never smaller than now)")->required();
  resize->callback([&ctx, a] {
    ctx.run = [&ctx, a] {
      const uint64_t bytes = engine::ParseSize(a->size);
      ctx.engine().Resize(a->name, bytes);
      if (ctx.json) {
        PrintJson({{"name", a->name}, {"size_bytes", bytes}});
      } else {
        std::cout << a->name << " is " << engine::FormatSize(bytes) << "\n";
      }
    };
  });

  auto* mount = parent.add_subcommand("mount", "attach and mount a volume on this host");
  mount->add_option("name", a->name, "volume name")->required();
  mount->add_option("--ref", a->ref, "reference id to count this mount under")
      ->capture_default_str();
  mount->callback([&ctx, a] {
    ctx.run = [&ctx, a] {
      auto result = ctx.engine().Mount(a->name, a->ref);
      ctx.json ? PrintJson({{"name", a->name}, {"mountpoint", result.mount_path}})
               : void(std::cout << result.mount_path << "\n");
    };
  });

  auto* unmount = parent.add_subcommand("unmount", "drop a mount reference; the last detaches");
  unmount->add_option("name", a->name, "volume name")->required();
  unmount->add_option("--ref", a->ref, "reference id")->capture_default_str();
  unmount->callback([&ctx, a] {
    ctx.run = [&ctx, a] {
      ctx.engine().Unmount(a->name, a->ref);
      if (ctx.json) {
        PrintJson({{"name", a->name}, {"unmounted", true}});
      }
    };
  });
}

}  // namespace

void AddVolumeCommands(CLI::App& app, Context& ctx) {
  auto* volume =
      app.add_subcommand("volume", "volumes: ls, inspect, create, rm, resize, mount, unmount");
  volume->require_subcommand(1);
  Register(*volume, ctx, std::make_shared<VolumeArgs>());
  // The same commands at the top level (berthctl ls, berthctl create ...), as before.
  Register(app, ctx, std::make_shared<VolumeArgs>());
}

}  // namespace berth::cli
