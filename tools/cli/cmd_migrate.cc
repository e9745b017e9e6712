// migrate, import, export --legacy: the legacy importer (prodigy/migrate.h).
// `migrate` never opens the store itself: Migrate() decides whether there is
// anything to import, and a dry run writes nothing at all.
#include "cli.h"
#include "output.h"
#include "progress.h"

namespace prodigy::cli {
namespace {

namespace fs = std::filesystem;

Json ReportJson(const MigrationReport& r, bool dry_run) {
  Json roots = Json::array();
  for (const auto& p : r.legacy_roots) roots.push_back(p.string());
  Json sources = Json::array();
  for (const LegacySource& s : r.sources) {
    sources.push_back({{"path", s.path.string()},
                       {"rel_path", s.rel_path},
                       {"kind", s.kind},
                       {"job_id", s.job_id},
                       {"bytes", s.bytes},
                       {"sha256", s.sha256},
                       {"rows", s.rows},
                       {"unparsed", s.unparsed},
                       {"action", s.action},
                       {"would_delete", s.would_delete},
                       {"deleted", s.deleted},
                       {"error", s.error},
                       {"note", s.note}});
  }
  return Json{{"dry_run", dry_run},     {"legacy_roots", roots},  {"sources", sources},
              {"imported", r.imported}, {"verified", r.verified}, {"removed", r.removed},
              {"kept", r.kept},         {"failed", r.failed},     {"ok", r.ok()}};
}

void PrintReport(const Context& ctx, const MigrationReport& r, bool dry_run) {
  if (ctx.json()) {
    PrintJson(ReportJson(r, dry_run));
    return;
  }
  if (!r.sources.empty()) {
    // The action goes last: notes about quirks can be long.
    Table table(
        {"SOURCE", "KIND", "JOB", "BYTES", "ROWS", "UNPARSED", dry_run ? "DELETE" : "DELETED", "ACTION"},
        ctx.stdout_tty());
    for (const LegacySource& s : r.sources) {
      std::string action = s.action;
      if (!s.error.empty()) action += " (" + s.error + ")";
      if (!s.note.empty()) action += " [" + s.note + "]";
      table.Add({s.rel_path.empty() ? s.path.string() : s.rel_path, s.kind, s.job_id.empty() ? "-" : s.job_id,
                 std::to_string(s.bytes), std::to_string(s.rows), std::to_string(s.unparsed),
                 (dry_run ? s.would_delete : s.deleted) ? "yes" : "no", action});
    }
  }
  if (!r.legacy_roots.empty()) {
    std::string roots;
    for (const auto& p : r.legacy_roots) roots += (roots.empty() ? "" : ", ") + p.string();
    std::printf("legacy roots: %s\n", roots.c_str());
  }
  if (dry_run) {
    int64_t deletable = 0;
    uint64_t bytes = 0;
    for (const LegacySource& s : r.sources) {
      deletable += s.would_delete;
      bytes += s.bytes;
    }
    std::printf("dry run: %s (%s) in %s; %lld would be deleted after verification; nothing was written\n",
                Plural(static_cast<int64_t>(r.sources.size()), "source").c_str(),
                HumanBytes(static_cast<int64_t>(bytes)).c_str(),
                Plural(static_cast<int64_t>(r.legacy_roots.size()), "legacy root").c_str(),
                static_cast<long long>(deletable));
  } else {
    std::printf("imported %lld, verified %lld, removed %lld, kept %lld, failed %lld\n",
                static_cast<long long>(r.imported), static_cast<long long>(r.verified),
                static_cast<long long>(r.removed), static_cast<long long>(r.kept),
                static_cast<long long>(r.failed));
  }
}

// The importer's user-facing lines go with the report: stdout for people,
// stderr when stdout carries --json.
MigrationOptions Options(const Context& ctx, Progress& progress) {
  MigrationOptions options;
  options.on_message = [&ctx, &progress](std::string_view line) {
    progress.Clear();  // a message never lands in the middle of a progress line
    if (ctx.json()) {
      ctx.Note("{}", line);
    } else {
      std::fwrite(line.data(), 1, line.size(), stdout);
      std::fputc('\n', stdout);
      std::fflush(stdout);
    }
  };
  options.on_phase = [&progress](std::string_view phase, uint64_t total) {
    progress.Phase(std::string(phase), ProgressUnit::kBytes, static_cast<int64_t>(total));
  };
  options.on_progress = [&progress](uint64_t done, uint64_t total) {
    progress.Update(static_cast<int64_t>(done), static_cast<int64_t>(total));
  };
  return options;
}

// Prints the report, then fails with exit 3 when a source did not verify.
int Finish(const Context& ctx, const MigrationReport& report, bool dry_run) {
  PrintReport(ctx, report, dry_run);
  ThrowIfFailed(report);
  return kExitOk;
}

int RunMigrate(Context& ctx) {
  const bool dry_run = ctx.Flag("dry-run");
  const auto roots = LegacyRoots(ctx);
  if (roots.empty()) {
    if (ctx.json())
      PrintJson(ReportJson(MigrationReport{}, dry_run));
    else
      std::printf("no legacy Prodigy data found for %s\n", ctx.Location().canonical_path.c_str());
    return kExitOk;
  }
  Progress progress(ctx.show_progress(), "", ProgressUnit::kBytes);
  MigrationOptions options = Options(ctx, progress);
  options.dry_run = dry_run;
  options.keep_originals = ctx.Flag("keep-originals");
  const MigrationReport report = Migrate(ctx.RepoPath(), ctx.LocalConfig(), options);
  progress.Finish();
  if (!dry_run) ctx.NoteSyncAfterImport();
  return Finish(ctx, report, dry_run);
}

int RunImport(Context& ctx) {
  std::vector<fs::path> paths;
  for (const std::string& p : ctx.positional()) {
    std::error_code ec;
    if (!fs::exists(fs::symlink_status(p, ec))) {
      throw Error::NotFound(fmt::format("{} does not exist; nothing was imported", p));
    }
    paths.push_back(fs::absolute(p));
  }
  Progress progress(ctx.show_progress(), "", ProgressUnit::kBytes);
  const MigrationOptions options = Options(ctx, progress);
  GlobalStorage local = GlobalStorage::OpenWithConfig(ctx.RepoPath(), ctx.LocalConfig());
  const MigrationReport report = ImportPaths(local, paths, options);
  progress.Finish();
  ctx.NoteSyncAfterImport();
  return Finish(ctx, report, false);
}

}  // namespace

std::vector<fs::path> LegacyRoots(Context& ctx) { return FindLegacyRoots(ctx.RepoPath(), ctx.Config()); }

int RunExportLegacy(Context& ctx, const fs::path& dir) {
  const std::vector<ExportedFile> files = ExportLegacy(ctx.Store(), dir);
  int64_t mismatched = 0;
  for (const ExportedFile& f : files) mismatched += !f.matches_original;
  if (ctx.json()) {
    Json list = Json::array();
    for (const ExportedFile& f : files) {
      list.push_back({{"path", f.path.string()},
                      {"original", f.original.string()},
                      {"bytes", f.bytes},
                      {"sha256", f.sha256},
                      {"matches_original", f.matches_original},
                      {"error", f.error}});
    }
    PrintJson(Json{{"dir", dir.string()}, {"files", list}, {"mismatched", mismatched}});
  } else {
    Table table({"BYTES", "MATCHES", "FILE", "ORIGINAL"}, ctx.stdout_tty());
    for (const ExportedFile& f : files) {
      table.Add({std::to_string(f.bytes), f.matches_original ? "yes" : "NO: " + f.error, f.path.string(),
                 f.original.string()});
    }
  }
  if (!ctx.json() && files.empty()) ctx.Note("no imported legacy files to rebuild");
  if (mismatched > 0) {
    throw Error::VerificationFailed(
        fmt::format("{} of {} rebuilt files differ from their originals (their rows changed since the "
                    "import); the others are byte-exact",
                    mismatched, files.size()));
  }
  return kExitOk;
}

std::vector<Command> MigrateCommands() {
  return {
      Command{
          .name = "migrate",
          .summary = "import this repository's legacy Prodigy data, verify it, then remove the originals",
          .details = "Sources: <repo>/.prodigy, .prodigy_migrated, .mmm and the global\n"
                     "<root>/{events,dlq,state}/<repo>/ layout. Each file is imported in one\n"
                     "transaction, verified (row counts and a byte-exact rebuild with the same\n"
                     "SHA-256) and only then deleted. --dry-run prints the plan and writes nothing,\n"
                     "not even an empty database. Exit 3 when a source did not verify (it is kept).",
          .examples = {"prodigy-store migrate --dry-run", "prodigy-store migrate --keep-originals"},
          .options =
              [](cxxopts::Options& o) {
                o.add_options()("dry-run", "show every source and what would happen; write nothing")(
                    "keep-originals", "import and verify, but delete nothing");
              },
          .run = RunMigrate,
      },
      Command{
          .name = "import",
          .args = "PATH...",
          .summary = "import Prodigy-format files or folders (verified; the inputs are never deleted)",
          .examples = {"prodigy-store import ~/backup/.prodigy",
                       "prodigy-store import events-20250920_170312.jsonl"},
          .min_args = 1,
          .max_args = -1,
          .run = RunImport,
      },
  };
}

}  // namespace prodigy::cli
