// sync: copy this repository's store to or from a PostgreSQL server.
#include "cli.h"
#include "output.h"
#include "progress.h"

namespace prodigy::cli {
namespace {

int RunSync(Context& ctx) {
  const auto to = ctx.Str("to");
  const auto from = ctx.Str("from");
  if (to.has_value() == from.has_value()) throw UsageError("give exactly one of --to URL and --from URL");
  SyncOptions options;
  options.url = to ? *to : *from;
  options.replace = ctx.Flag("replace");
  // The same progress line as the other long commands: the table being copied
  // (or verified) and its rows so far, on a terminal only.
  Progress progress(ctx.show_progress(), to ? "sync --to" : "sync --from", ProgressUnit::kRows);
  options.progress = [&progress](std::string_view table, int64_t rows) {
    progress.SetDetail(fmt::format("({})", table));
    progress.Update(rows);
  };
  const SyncReport report = to ? SyncToServer(ctx.RepoPath(), ctx.Config(), options)
                               : SyncFromServer(ctx.RepoPath(), ctx.Config(), options);
  progress.Finish();
  if (ctx.json()) {
    Json tables = Json::array();
    for (const SyncTable& t : report.tables) {
      tables.push_back({{"table", t.table}, {"rows", t.rows}, {"sha256", t.sha256}});
    }
    PrintJson(Json{{"direction", to ? "to" : "from"},
                   {"server", report.server},
                   {"repository_key", report.repository_key},
                   {"tables", tables}});
    return kExitOk;
  }
  std::printf("%s %s (repository key '%s'), verified on both sides:\n", to ? "copied to" : "copied from",
              report.server.c_str(), report.repository_key.c_str());
  for (const SyncTable& t : report.tables) {
    std::printf("  %-22s %10lld rows  sha256 %s\n", t.table.c_str(), static_cast<long long>(t.rows),
                t.sha256.c_str());
  }
  if (to) {
    ctx.Note("use it: export PRODIGY_STORAGE_URL='{}' (and the same repository_key on every machine)",
             report.server);
  }
  return kExitOk;
}

}  // namespace

std::vector<Command> SyncCommands() {
  return {Command{
      .name = "sync",
      .summary = "copy this repository's store to or from a PostgreSQL server, verified",
      .details = "--to URL copies the local SQLite store to the server, --from URL copies the\n"
                 "server's copy into the local store. One transaction on each side; row counts\n"
                 "and SHA-256 over every table's rows are compared on both sides before anything\n"
                 "commits. Data of another origin (on the server: another store's copy under the\n"
                 "same repository key; locally: a non-empty store) is only overwritten with\n"
                 "--replace. Needs a build with -Dpostgres=enabled.",
      .examples = {"prodigy-store sync --to postgresql://prodigy@db.example/prodigy",
                   "prodigy-store sync --from 'host=db.example dbname=prodigy' --replace"},
      .options =
          [](cxxopts::Options& o) {
            o.add_options()("to", "copy the local store to this server", cxxopts::value<std::string>(),
                            "URL")("from", "copy from this server into the local store",
                                   cxxopts::value<std::string>(),
                                   "URL")("replace", "overwrite data of another origin");
          },
      .run = RunSync,
  }};
}

}  // namespace prodigy::cli
