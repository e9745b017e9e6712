// check [--repair]: the database's integrity, the import ledger and the
// mirror files' parity with the database. Exit 3 when anything is wrong;
// --repair rewrites the mirrors (the database is the truth) and checks again.
#include "cli.h"
#include "output.h"
#include "prodigy/backup.h"
#include "progress.h"

namespace prodigy::cli {
namespace {

constexpr size_t kShownProblems = 50;

struct Section {
  std::string name;
  std::string status;                                         // "ok", "skipped: ...", "N problems"
  std::vector<std::pair<std::string, std::string>> problems;  // (what, problem)
  Json extra = Json::object();
};

Json SectionJson(const Section& s) {
  Json problems = Json::array();
  for (const auto& [what, problem] : s.problems) problems.push_back({{"path", what}, {"problem", problem}});
  Json j{{"status", s.status}, {"ok", s.problems.empty()}, {"problems", problems}};
  for (auto it = s.extra.begin(); it != s.extra.end(); ++it) j[it.key()] = it.value();
  return j;
}

void Conclude(Section& s, const std::string& ok_status) {
  if (s.problems.empty())
    s.status = ok_status;
  else
    s.status = Plural(static_cast<int64_t>(s.problems.size()), "problem");
}

// A damaged or foreign database is a finding of the check, not a failure of it.
bool IsDatabaseFinding(const Error& e) {
  return e.code() == ErrorCode::kCorruption || e.code() == ErrorCode::kTooNew;
}

Json RecoveryJson(const RecoveryReport& r) {
  Json kinds = Json::object();
  for (const RecoveryKindReport& k : r.kinds) {
    kinds[k.kind] = Json{{"from_database", k.from_database},
                         {"from_mirrors", k.from_mirrors},
                         {"mirror_newer", k.mirror_newer},
                         {"rejected", k.rejected}};
  }
  return Json{{"needed", r.needed},
              {"damaged_copy", r.needed ? Json(r.damaged_copy.string()) : Json(nullptr)},
              {"kinds", kinds},
              {"ledger_rows", r.ledger_rows},
              {"problems", r.problems}};
}

void PrintRecovery(const RecoveryReport& r) {
  std::printf(
      "recovery   the database was damaged and has been rebuilt from what was readable plus the "
      "mirror files\n  - damaged file kept as %s\n",
      r.damaged_copy.c_str());
  for (const RecoveryKindReport& k : r.kinds) {
    std::printf(
        "  - %s: %lld from the database, %lld only in the mirror files, %lld newer in the mirror "
        "files, %lld rejected\n",
        k.kind.c_str(), static_cast<long long>(k.from_database), static_cast<long long>(k.from_mirrors),
        static_cast<long long>(k.mirror_newer), static_cast<long long>(k.rejected));
  }
  std::printf("  - import ledger: %lld rows read back\n", static_cast<long long>(r.ledger_rows));
  for (size_t i = 0; i < r.problems.size() && i < kShownProblems; ++i) {
    std::printf("  - %s\n", r.problems[i].c_str());
  }
  if (r.problems.size() > kShownProblems) {
    std::printf("  ... and %zu more (--json lists all)\n", r.problems.size() - kShownProblems);
  }
}

int RunCheck(Context& ctx) {
  const bool repair = ctx.Flag("repair");
  const RepositoryLocation& loc = ctx.Location();
  const bool on_server = EngineOf(ctx.Config()) == Engine::kPostgres;
  if (on_server && repair) {
    throw UsageError(
        "check --repair rebuilds a damaged local SQLite database; a PostgreSQL store is repaired "
        "with the server's own tools and backups (docs/postgres.md)");
  }
  if (!loc.exists && !on_server) {
    throw Error::NotFound(fmt::format("repository {} has no database to check ({} does not exist)",
                                      loc.canonical_path.string(), loc.db_path.string()));
  }
  StorageConfig config = ctx.Config();
  config.migration = MigrationPolicy::kOff;  // a check changes no data
  config.create_repository = false;
  // The database file, or the server and repository once opened.
  std::string where = on_server ? RedactStorageUrl(config.storage_url) : loc.db_path.string();
  // A damaged database is rebuilt first; the checks below then judge the result.
  std::optional<RecoveryReport> recovery;
  if (repair) recovery = RecoverDatabase(ctx.RepoPath(), config, ctx.Flag("force"));
  Progress progress(ctx.show_progress(), "checking", ProgressUnit::kSteps, 3);
  std::vector<Section> sections;

  Section db{"integrity"};
  std::optional<GlobalStorage> store;
  try {
    progress.SetDetail("(opening)");
    progress.Update(0, 3);
    store = GlobalStorage::OpenWithConfig(ctx.RepoPath(), config);
    where = store->Where();
    progress.SetDetail("(integrity)");
    progress.Update(0, 3);
    for (const std::string& line : store->CheckIntegrity()) db.problems.emplace_back(where, line);
  } catch (const Error& e) {
    if (!IsDatabaseFinding(e)) throw;
    db.problems.emplace_back(where, e.message());
  }
  Conclude(db,
           on_server ? "ok (the repository's seq counter covers its events)" : "ok (PRAGMA integrity_check)");
  sections.push_back(std::move(db));

  Section ledger{"ledger"};
  Section mirrors{"mirrors"};
  if (!store || !sections[0].problems.empty()) {
    // Nothing more can be trusted from a damaged file.
    ledger.status = "skipped: the database is not usable";
    mirrors.status = "skipped: the database is not usable";
  } else {
    try {
      progress.SetDetail("(import ledger)");
      progress.Update(1, 3);
      const auto imports = ListImports(*store);
      int64_t removed = 0;
      for (const ImportRecord& r : imports) removed += r.status == "removed";
      // Sources pruned on purpose after the import (retention, purges, newer
      // writes) cannot be rebuilt exactly any more; that is expected, not damage.
      int64_t pruned = 0;
      for (const ImportProblem& p : CheckImports(*store)) {
        if (p.changed_after_import)
          ++pruned;
        else
          ledger.problems.emplace_back(p.path.string(), p.problem);
      }
      ledger.extra =
          Json{{"imports", imports.size()}, {"originals_removed", removed}, {"changed_after_import", pruned}};
      Conclude(
          ledger,
          imports.empty()
              ? std::string("ok (nothing was imported)")
              : fmt::format("ok ({} imports re-proved from the database; {} originals removed{}{})",
                            imports.size() - pruned, removed,
                            removed < static_cast<int64_t>(imports.size()) ? ", the others still match" : "",
                            pruned ? fmt::format("; {} changed on purpose since the import "
                                                 "(retention, purges, newer writes)",
                                                 pruned)
                                   : std::string()));
    } catch (const Error& e) {
      if (!IsDatabaseFinding(e)) throw;
      ledger.problems.emplace_back(where, e.message());
      Conclude(ledger, "");
    }
    if (on_server) {
      mirrors.status = "skipped: a PostgreSQL store keeps no mirror files ('export --mirrors' writes them)";
    } else if (!config.mirrors) {
      mirrors.status = "skipped: mirrors are disabled in the config";
    } else {
      progress.SetDetail("(mirrors)");
      progress.Update(2, 3);
      auto found = store->CheckMirrors();
      int64_t repaired = 0;
      if (repair && !found.empty()) {
        store->RegenerateMirrors();
        repaired = static_cast<int64_t>(found.size());
        found = store->CheckMirrors();
      }
      for (const MirrorProblem& p : found) mirrors.problems.emplace_back(p.path, p.problem);
      mirrors.extra = Json{{"repaired", repaired}};
      Conclude(mirrors, repaired
                            ? fmt::format("ok ({} repaired from the database)", Plural(repaired, "problem"))
                            : std::string("ok (every file matches the database)"));
    }
  }
  sections.push_back(std::move(ledger));
  sections.push_back(std::move(mirrors));
  progress.SetDetail("");
  progress.Update(3, 3);
  progress.Finish();

  bool ok = true;
  for (const Section& s : sections) ok = ok && s.problems.empty();
  if (ctx.json()) {
    Json j{{"db_path", where}, {"ok", ok}, {"repair", repair}};
    if (recovery) j["recovery"] = RecoveryJson(*recovery);
    for (const Section& s : sections) j[s.name] = SectionJson(s);
    PrintJson(j);
  } else {
    std::printf("database   %s\n", where.c_str());
    if (recovery && recovery->needed) PrintRecovery(*recovery);
    for (const Section& s : sections) {
      std::printf("%-10s %s\n", s.name.c_str(), s.status.c_str());
      for (size_t i = 0; i < s.problems.size() && i < kShownProblems; ++i) {
        std::printf("  - %s: %s\n", s.problems[i].first.c_str(), s.problems[i].second.c_str());
      }
      if (s.problems.size() > kShownProblems) {
        std::printf("  ... and %zu more (--json lists all)\n", s.problems.size() - kShownProblems);
      }
    }
  }
  if (ok) return kExitOk;
  std::fflush(stdout);
  std::string hint;
  if (!sections[0].problems.empty()) {
    hint =
        "the database is damaged: run 'prodigy-store check --repair' to rebuild it from what is still "
        "readable plus the mirror files (the damaged file is kept), or 'prodigy-store restore --from "
        "BACKUP_DIR' (docs/backup.md)";
  } else if (!sections[2].problems.empty()) {
    hint = "run 'prodigy-store check --repair' to rewrite the mirrors from the database";
  } else {
    hint = "the import ledger does not match; see the problems above";
  }
  std::fprintf(stderr, "prodigy-store: check found problems; %s\n", hint.c_str());
  return kExitVerification;
}

}  // namespace

std::vector<Command> CheckCommands() {
  return {Command{
      .name = "check",
      .summary = "verify the database, the import ledger and the mirror files",
      .details = "Runs PRAGMA integrity_check, re-proves every legacy import from the database\n"
                 "(and that originals not removed still match), and compares every mirror file\n"
                 "with what the database holds. Exit 3 when anything is wrong. --repair first\n"
                 "rebuilds a damaged database from what is still readable plus the mirror files\n"
                 "(the damaged file is kept in damaged-<time>/; docs/backup.md), then rewrites the\n"
                 "mirror files from the database (the database is the truth) and checks again.",
      .examples = {"prodigy-store check", "prodigy-store check --repair"},
      .options =
          [](cxxopts::Options& o) {
            o.add_options()("repair",
                            "rebuild a damaged database, then rewrite the mirrors from the database")(
                "force", "with --repair: rebuild even while other processes have the database open");
          },
      .run = RunCheck,
  }};
}

}  // namespace prodigy::cli
