// berthctl host forget HOST_ID.
#include <iostream>

#include "cli/context.h"
#include "cli/output.h"

namespace berth::cli {

void AddHostCommands(CLI::App& app, Context& ctx) {
  auto* host = app.add_subcommand("host", "this cluster's record of berth installations: forget");
  host->require_subcommand(1);
  struct Args {
    std::string host_id;
    bool yes = false;
  };
  auto a = std::make_shared<Args>();
  auto* forget = host->add_subcommand(
      "forget",
      "forget which berth installation a host id belongs to, so that a reinstalled host (a new "
      "state dir under the same host id) may attach again. Only for an installation that is "
      "gone for good: two live ones with one host id could write one volume at once. Forgets the "
      "host id on every backend: the Ceph pools and the NFS exports");
  forget->add_option("host_id", a->host_id, "the host id the refusal named")->required();
  forget->add_flag("-y,--yes", a->yes, "do not ask for confirmation");
  forget->callback([&ctx, a] {
    ctx.run = [&ctx, a] {
      Confirm("Forget the berth installation of host id " + a->host_id +
                  " (only if it is gone for good)",
              a->yes);
      ctx.engine().ForgetHost(a->host_id);
      ctx.json ? PrintJson({{"host_id", a->host_id}, {"forgotten", true}})
               : void(std::cout << "forgot the installation of host id " << a->host_id << "\n");
    };
  });
}

}  // namespace berth::cli
