// backup --to TARGET [--keep N], backup ls TARGET, restore --from PATH [--force]:
// snapshots of a repository's database in a folder or an S3 bucket (docs/backup.md).
#include "cli.h"
#include "output.h"
#include "prodigy/backup.h"

namespace prodigy::cli {
namespace {

// The manifest's fields and where it is.
Json BackupJson(const BackupInfo& b) {
  Json j = Json::parse(BackupManifestJson(b));
  j["location"] = b.location;
  return j;
}

std::string CountsLine(const TableCounts& c) {
  return fmt::format("events {}, dlq_items {}, job_states {}, sessions {}, workflow_checkpoints {}", c.events,
                     c.dlq_items, c.job_states, c.sessions, c.workflow_checkpoints);
}

int RunBackup(Context& ctx) {
  const auto to = ctx.Str("to");
  if (!to) throw UsageError("missing --to DIR (a folder, or s3://bucket/prefix)");
  BackupOptions options;
  options.keep = static_cast<int>(ctx.Count("keep").value_or(0));
  const BackupResult r = CreateBackup(ctx.Store(), *to, options);
  if (ctx.json()) {
    Json j = BackupJson(r.backup);
    j["pruned"] = r.pruned;
    PrintJson(j);
    return kExitOk;
  }
  std::printf("backup %s\n", r.backup.location.c_str());
  KeyValues kv;
  kv.Add("  rows", CountsLine(r.backup.counts));
  kv.Add("  size",
         fmt::format("{} ({} compressed)", HumanBytes(r.backup.db_bytes), HumanBytes(r.backup.file_bytes)));
  kv.Add("  schema", std::to_string(r.backup.schema_version));
  if (!r.pruned.empty())
    kv.Add("  pruned",
           fmt::format("{} (--keep {})", Plural(static_cast<int64_t>(r.pruned.size()), "older backup"),
                       options.keep));
  kv.Print();
  return kExitOk;
}

int RunBackupLs(Context& ctx) {
  const std::string& target = ctx.positional().at(0);
  const std::string repo = ctx.Location().name;
  const std::vector<BackupInfo> all = ListBackups(target, repo);
  if (ctx.json()) {
    Json j = Json::array();
    for (const BackupInfo& b : all) j.push_back(BackupJson(b));
    PrintJson(j);
    return kExitOk;
  }
  if (all.empty()) {
    ctx.Note("no backups of repository {} in {}", repo, target);
    return kExitOk;
  }
  Table table({"NAME", "CREATED", "SCHEMA", "EVENTS", "DOCUMENTS", "SIZE"}, ctx.stdout_tty());
  for (const BackupInfo& b : all) {
    const int64_t documents =
        b.counts.dlq_items + b.counts.job_states + b.counts.sessions + b.counts.workflow_checkpoints;
    table.Add({b.name, b.created_at, std::to_string(b.schema_version), std::to_string(b.counts.events),
               std::to_string(documents), HumanBytes(b.file_bytes)});
  }
  return kExitOk;
}

int RunRestore(Context& ctx) {
  const auto from = ctx.Str("from");
  if (!from) throw UsageError("missing --from PATH (a backup's manifest, or a folder / s3:// target)");
  RestoreOptions options;
  options.force = ctx.Flag("force");
  StorageConfig config = ctx.Config();
  config.migration = MigrationPolicy::kOff;
  // The store is not opened here: an open connection of our own would be
  // one more holder of the file being replaced.
  const RestoreResult r = RestoreBackup(ctx.RepoPath(), config, *from, options);
  if (ctx.json()) {
    PrintJson(Json{{"restored", BackupJson(r.backup)},
                   {"db_path", r.db_path.string()},
                   {"moved_aside", r.moved_aside ? Json(r.moved_aside->string()) : Json(nullptr)}});
    return kExitOk;
  }
  std::printf("restored %s\n", r.backup.location.c_str());
  KeyValues kv;
  kv.Add("  into", r.db_path.string());
  kv.Add("  rows", CountsLine(r.backup.counts));
  kv.Add("  taken", r.backup.created_at);
  kv.Add("  previous database", r.moved_aside ? r.moved_aside->string() + " (kept)" : std::string("none"));
  kv.Add("  mirrors", "rewritten from the restored database");
  kv.Print();
  return kExitOk;
}

}  // namespace

std::vector<Command> BackupCommands() {
  return {
      Command{
          .name = "backup",
          .summary = "take a consistent, compressed backup of the repository's database",
          .details = "Copies the database with SQLite's online backup API while other processes keep\n"
                     "writing, checks the copy with PRAGMA integrity_check, gzips it and stores it as\n"
                     "TARGET/<repo>/<time>-<database id>.db.gz; the manifest (.manifest.json: schema\n"
                     "version, row counts, SHA-256, database id, time) is written last, so an\n"
                     "interrupted backup is never listed. TARGET is a folder or, in a build with\n"
                     "-Ds3=enabled, s3://bucket/prefix (AWS_* variables). See docs/backup.md.\n"
                     "List them with 'backup ls TARGET'.",
          .examples = {"prodigy-store backup --to /mnt/backups",
                       "prodigy-store backup --to /mnt/backups --keep 7",
                       "prodigy-store backup --to s3://my-bucket/prodigy"},
          .options =
              [](cxxopts::Options& o) {
                o.add_options()("to", "where to store it: a folder or s3://bucket/prefix",
                                cxxopts::value<std::string>(), "TARGET")(
                    "keep", "then remove this repository's oldest backups there, keeping N",
                    cxxopts::value<std::string>(), "N");
              },
          .run = RunBackup,
      },
      Command{
          .name = "backup ls",
          .args = "TARGET",
          .summary = "list the repository's complete backups in a folder or S3 prefix",
          .details = "Only backups whose manifest was written are listed, oldest first.",
          .examples = {"prodigy-store backup ls /mnt/backups", "prodigy-store --json backup ls /mnt/backups"},
          .min_args = 1,
          .max_args = 1,
          .run = RunBackupLs,
      },
      Command{
          .name = "restore",
          .summary = "replace the repository's database by a verified backup",
          .details = "PATH is a backup's .manifest.json (or .db.gz), or a folder / s3:// target, meaning\n"
                     "this repository's newest backup there. The backup's SHA-256, integrity, schema\n"
                     "version and repository are verified first; then the current database is moved\n"
                     "aside (prodigy.db.before-restore-<time>, never deleted), the backup is put in\n"
                     "place and the mirror files are rewritten. Refused while another process has the\n"
                     "database open (stop Prodigy first), unless --force.",
          .examples =
              {"prodigy-store restore --from /mnt/backups",
               "prodigy-store restore --from /mnt/backups/my-repo/20261202T004000.123Z-42.manifest.json"},
          .options =
              [](cxxopts::Options& o) {
                o.add_options()("from", "a backup's manifest, or a folder / s3:// target (its newest backup)",
                                cxxopts::value<std::string>(),
                                "PATH")("force", "restore even while other processes have the database open");
              },
          .run = RunRestore,
      },
  };
}

}  // namespace prodigy::cli
