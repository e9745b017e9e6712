// Migration of legacy Prodigy data into the store, and its restoration.
//
// Prodigy (releases 0.1.1-0.1.8 and the unreleased consolidation window) kept
// its runtime data in per-repository folders (<repo>/.prodigy/,
// <repo>/.prodigy_migrated/, <repo>/.mmm/) and in a global layout
// (<root>/events/<repo>/, <root>/dlq/<repo>/, <root>/state/<repo>/). The
// importer moves every file of those layouts into the repository's database
// and proves that nothing was lost before it removes anything:
//
//   1. Discover: every source file, its kind, size and SHA-256.
//   2. Import each source in ONE write transaction (a crash leaves either the
//      whole source or nothing), streaming with bounded memory. Every line and
//      document is kept verbatim; lines that are blank, torn, foreign, invalid
//      JSON or invalid UTF-8 become rows of `unparsed_lines` with the reason.
//   3. Verify each source: the rows in the database equal the rows parsed, the
//      source's exact bytes rebuilt from the database have the original's
//      SHA-256, and the original is unchanged (size, mtime, inode, re-hash).
//   4. Delete only verified originals and the folders that this left empty.
//      Files the importer does not know (config.yml, workflow.yml, context/,
//      metrics/, worktrees, ...) are never touched; symlinks are never followed.
//
// Re-running is always safe: the import ledger (table `import_sources`) knows
// what was imported, so a re-run after a crash or error imports each source at
// most once and finishes the verification and deletion. See
// docs/migration-guide.md for layouts, quirks and the job ids chosen.
//
// Errors: per-source problems (an unreadable file, a file that changed while
// being read, a verification mismatch) do not throw: the source is kept and
// reported (LegacySource::error), the rest proceeds, and report.ok() is false.
// Problems that stop the whole run (the database cannot be written, the disk
// is full) throw prodigy::Error before anything is deleted.
#ifndef PRODIGY_MIGRATE_H_
#define PRODIGY_MIGRATE_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "prodigy/config.h"
#include "prodigy/storage.h"

namespace prodigy {

struct LegacySource {
  std::filesystem::path path;  // absolute path of the file
  // Relative path that `export --legacy` recreates: ".prodigy/..." for a
  // repository's folders, "events/<repo>/..." etc. for the global layout.
  std::string rel_path;
  // "events" (JSONL, including rotated plain-text *.jsonl.gz), "events_archive"
  // (real gzip), "dlq_item", "dlq_index", "job_state", "job_state_meta",
  // "session", "workflow_checkpoint"; never imported: "orphan_tmp",
  // "symlink", "special", "unknown".
  std::string kind;
  std::string job_id;  // the job / log the rows go to (events, DLQ, state)
  uint64_t bytes = 0;
  std::string sha256;
  int64_t rows = 0;           // typed rows it yields
  int64_t unparsed = 0;       // lines/documents kept as unparsed rows
  std::string action;         // "import", "already imported", "kept: <reason>"
  bool would_delete = false;  // dry run: would be removed after verification
  bool deleted = false;
  std::string error;  // why this source was kept, when it failed
  std::string note;   // quirks met (stale metadata path, superseded duplicate, ...)
};

struct MigrationOptions {
  bool dry_run = false;         // write nothing anywhere, not even an empty database
  bool keep_originals = false;  // import and verify, delete nothing
  // The user-facing lines ("Migrating local storage to global storage...").
  std::function<void(std::string_view)> on_message;
  // A run goes through phases: "scanning" (the dry run reads every source),
  // "importing", "verifying" (every source is read again) and "removing
  // originals". on_phase is called as each one starts, with its total bytes;
  // on_progress then counts that phase's bytes from 0 to `total`.
  std::function<void(std::string_view phase, uint64_t total)> on_phase;
  std::function<void(uint64_t done, uint64_t total)> on_progress;
};

struct MigrationReport {
  std::vector<std::filesystem::path> legacy_roots;
  std::vector<LegacySource> sources;
  int64_t imported = 0;  // sources imported by this run
  int64_t verified = 0;  // sources verified by this run (including earlier imports)
  int64_t removed = 0;   // originals deleted
  int64_t kept = 0;  // sources left in place on purpose (keep_originals, symlinks, temp files, unknown files)
  int64_t failed = 0;  // sources that could not be imported or did not verify (left in place)
  bool ok() const { return failed == 0; }  // nothing failed verification
};

// Throws Error(kVerificationFailed) naming the failed sources when !report.ok()
// (the CLI exits 3 on it); does nothing otherwise.
void ThrowIfFailed(const MigrationReport& report);

// Legacy folders that exist and hold Prodigy data for this repository. Cheap
// (a few stat calls and one directory listing; it runs on every open). Writes
// nothing. `<root>` is config.storage_dir and `<repo>` the last component of
// the canonical repository path.
std::vector<std::filesystem::path> FindLegacyRoots(const std::filesystem::path& repo_path,
                                                   const StorageConfig& config);

// The dry run: every source with its kind, bytes, SHA-256, rows and what would
// happen to it. Reads every source; writes nothing anywhere (no database is
// created; an existing one is only read to see what was already imported).
MigrationReport PlanMigration(const std::filesystem::path& repo_path, const StorageConfig& config);

// Migrates the repository's legacy data (options.dry_run: same as
// PlanMigration). Opens (creating) the store only when there is something to
// import. Two processes migrating the same repository at once import it once
// (an flock on <root>/<repo>/.migrate.lock).
MigrationReport Migrate(const std::filesystem::path& repo_path, const StorageConfig& config,
                        const MigrationOptions& options = {});

// `prodigy-store import PATH...`: Prodigy-format files or folders (a .prodigy
// folder, events/<repo>/<log>/, a DLQ job folder, single files). Same import
// and verification as Migrate; never deletes the inputs.
MigrationReport ImportPaths(GlobalStorage& storage, const std::vector<std::filesystem::path>& paths,
                            const MigrationOptions& options = {});

struct ExportedFile {
  std::filesystem::path path;      // the file written under DIR
  std::filesystem::path original;  // where the original was found
  uint64_t bytes = 0;
  std::string sha256;
  // The rebuilt file has the original's SHA-256. False when rows of the import
  // were changed or deleted since (e.g. a DLQ item removed, events cleaned).
  bool matches_original = false;
  std::string error;  // what could not be rebuilt, when not matching
};

// `export --legacy DIR`: rebuilds the original file of every import byte for
// byte under DIR/<rel_path> (DIR is created; existing files are replaced).
std::vector<ExportedFile> ExportLegacy(GlobalStorage& storage, const std::filesystem::path& dir);

// One row of the import ledger.
struct ImportRecord {
  int64_t id = 0;
  std::filesystem::path path;
  std::string rel_path;
  std::string kind;
  std::string job_id;
  uint64_t bytes = 0;
  std::string sha256;
  int64_t rows = 0;
  int64_t unparsed = 0;
  std::string status;  // "imported", "verified" or "removed" (the original was deleted)
  std::string imported_at;
  std::string verified_at;
  std::string removed_at;
  std::string note;
};
std::vector<ImportRecord> ListImports(GlobalStorage& storage);

// For `check`: re-proves every import from the database (rows and rebuilt
// SHA-256) and, where the original was not removed, that it still matches.
struct ImportProblem {
  int64_t source_id = 0;
  std::filesystem::path path;
  std::string problem;
  // The source no longer rebuilds because rows of it were deleted or replaced
  // on purpose after the import (events clean, DLQ purge, newer state
  // versions, later writes of the same document). Not damage: `check` reports
  // it as a note, `export --legacy` as a file it cannot rebuild exactly.
  bool changed_after_import = false;
};
std::vector<ImportProblem> CheckImports(GlobalStorage& storage);

}  // namespace prodigy

#endif  // PRODIGY_MIGRATE_H_
