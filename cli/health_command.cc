// berthctl health [--fix].
#include <iostream>

#include "cli/context.h"
#include "cli/output.h"

namespace berth::cli {

void AddHealthCommand(CLI::App& app, Context& ctx, int& exit_code) {
  auto* health = app.add_subcommand(
      "health",
      "check the backends, the mappers, and this host's state files against its mounts and "
      "mappings; exit 7 when problems remain");
  auto fix = std::make_shared<bool>(false);
  health->add_flag("--fix", *fix, "clean up the orphans that are provably unused");
  health->callback([&ctx, &exit_code, fix] {
    ctx.run = [&ctx, &exit_code, fix] {
      auto checks = ctx.engine().Health(*fix);
      int problems = 0;
      for (const auto& c : checks) {
        problems += (!c.ok && !c.fixed) ? 1 : 0;
      }
      if (ctx.json) {
        nlohmann::json doc = nlohmann::json::array();
        for (const auto& c : checks) {
          doc.push_back(
              {{"check", c.check}, {"ok", c.ok}, {"detail", c.detail}, {"fixed", c.fixed}});
        }
        PrintJson({{"checks", doc}, {"problems", problems}});
      } else {
        std::vector<std::vector<std::string>> rows;
        rows.reserve(checks.size());
        for (const auto& c : checks) {
          rows.push_back({c.check, c.ok ? "ok" : (c.fixed ? "fixed" : "PROBLEM"), c.detail});
        }
        PrintTable({"CHECK", "STATUS", "DETAIL"}, rows);
      }
      exit_code = problems == 0 ? 0 : 7;
    };
  });
}

}  // namespace berth::cli
