// leases ls | release: who holds which job lease (docs/coordination.md), and
// an operator's way to end the lease of a holder that died.
#include "cli.h"
#include "output.h"

namespace prodigy::cli {
namespace {

Json LeaseJson(const Lease& lease) {
  return Json{{"key", lease.key},
              {"holder", lease.holder},
              {"token", lease.token},
              {"expires_at", FormatTimestamp(lease.expires_at_ns)}};
}

// "12.3 s" until the lease ends.
std::string Remaining(int64_t expires_at_ns) {
  const double seconds = static_cast<double>(expires_at_ns - NowNs()) / 1e9;
  return seconds <= 0 ? std::string("ending") : fmt::format("{:.1f} s", seconds);
}

int RunLs(Context& ctx) {
  Leases leases(ctx.Store());
  const std::vector<Lease> held = leases.List();
  if (ctx.json()) {
    Json items = Json::array();
    for (const Lease& lease : held) items.push_back(LeaseJson(lease));
    PrintJson(Json{{"backend", std::string(leases.backend())}, {"leases", items}});
    return kExitOk;
  }
  if (held.empty()) {
    ctx.Note("no leases are held (through the {})", leases.backend());
    return kExitOk;
  }
  Table table({"KEY", "HOLDER", "TOKEN", "EXPIRES_AT", "LEFT"}, ctx.stdout_tty());
  for (const Lease& lease : held) {
    table.Add({lease.key, lease.holder, std::to_string(lease.token), FormatTimestamp(lease.expires_at_ns),
               Remaining(lease.expires_at_ns)});
  }
  return kExitOk;
}

int RunRelease(Context& ctx) {
  const std::string key = ctx.positional()[0];
  if (!ctx.Flag("force")) {
    throw UsageError(fmt::format(
        "releasing the lease {} of another process needs --force (its holder may still be working; "
        "a holder that is still alive will find its next state write refused)",
        key));
  }
  Leases leases(ctx.Store());
  const std::optional<Lease> ended = leases.ForceRelease(key);
  if (ctx.json()) {
    PrintJson(Json{
        {"key", key}, {"released", ended.has_value()}, {"lease", ended ? LeaseJson(*ended) : Json(nullptr)}});
  } else if (ended) {
    ctx.Note("ended the lease {} of {} (token {}); the next holder gets a higher token", key, ended->holder,
             ended->token);
  } else {
    ctx.Note("no lease holds {}; nothing changed", key);
  }
  return kExitOk;
}

}  // namespace

std::vector<Command> LeaseCommands() {
  return {
      Command{
          .name = "leases ls",
          .summary = "list the job leases held now: holder, fencing token, until when",
          .details = "Leases go through Redis when redis_url (or PRODIGY_REDIS_URL) is configured, else\n"
                     "through the repository's database. Expiry times are estimates from this machine's\n"
                     "clock; --json prints {\"backend\", \"leases\": [{key, holder, token, expires_at}]}.",
          .examples = {"prodigy-store leases ls", "prodigy-store --json leases ls"},
          .run = RunLs,
      },
      Command{
          .name = "leases release",
          .args = "KEY",
          .summary = "end the lease on KEY held by another process (--force)",
          .details = "For a holder that died without releasing its lease (otherwise the lease ends by\n"
                     "itself when its TTL runs out). The next holder gets a higher fencing token, so\n"
                     "state writes of the old holder are refused from then on.",
          .examples = {"prodigy-store leases release mapreduce-20250920_170312 --force"},
          .min_args = 1,
          .max_args = 1,
          .options =
              [](cxxopts::Options& o) {
                o.add_options()("force", "end the lease even though another process holds it");
              },
          .run = RunRelease,
      },
  };
}

}  // namespace prodigy::cli
