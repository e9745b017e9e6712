// Backups, restores and recovery of a repository's database.
//
// A backup is two objects under <target>/<repo name>/:
//   <stamp>-<database id>.db.gz          the database, gzip-compressed
//   <stamp>-<database id>.manifest.json  written last: what the backup holds
// A data file without its manifest is an unfinished backup and is never
// listed or restored. <target> is a folder, or (built with -Ds3=enabled)
// s3://bucket/prefix with credentials from the AWS_* environment variables.
//
// Errors: every function throws prodigy::Error. A failed backup leaves no
// manifest; a failed restore or recovery leaves the current database as it was.
#ifndef PRODIGY_BACKUP_H_
#define PRODIGY_BACKUP_H_

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "prodigy/config.h"
#include "prodigy/records.h"
#include "prodigy/storage.h"

namespace prodigy {

// One complete backup, as its manifest describes it.
struct BackupInfo {
  std::string name;       // <stamp>-<database id>
  std::string location;   // the manifest's path or s3:// URL
  std::string repo_name;  // folder name under the storage root
  std::string repo_path;  // canonical path of the repository
  std::string database_id;
  int schema_version = 0;
  std::string created_at;  // RFC 3339 UTC
  TableCounts counts;
  int64_t db_bytes = 0;  // uncompressed
  std::string db_sha256;
  int64_t file_bytes = 0;  // compressed, as stored
  std::string file_sha256;
};

// The backup's manifest as stored: a JSON object with the fields above
// (except `location`) plus "format", "format_version" and "file".
std::string BackupManifestJson(const BackupInfo& backup);

struct BackupOptions {
  // After a successful backup, remove this repository's oldest backups in
  // the target so that at most `keep` remain (0: keep all).
  int keep = 0;
};

struct BackupResult {
  BackupInfo backup;
  std::vector<std::string> pruned;  // names of the backups removed by `keep`
};

// Takes an online, consistent snapshot of the store's database (writers
// keep writing), checks it with PRAGMA integrity_check, compresses it and
// stores it in `target`, the manifest last.
BackupResult CreateBackup(GlobalStorage& storage, const std::string& target,
                          const BackupOptions& options = {});

// The complete backups of repository `repo_name` in `target`, oldest first.
// A target that does not exist holds none.
std::vector<BackupInfo> ListBackups(const std::string& target, const std::string& repo_name);

struct RestoreOptions {
  // Restore even while other processes hold the database open (their later
  // writes go to the file moved aside, not to the restored database).
  bool force = false;
};

struct RestoreResult {
  BackupInfo backup;
  std::filesystem::path db_path;
  std::optional<std::filesystem::path> moved_aside;  // the previous database, kept
};

// Restores a backup into the repository at `repo_path`. `from` is a
// manifest or data file (path or s3:// URL), or a target (folder or
// s3://bucket/prefix), meaning this repository's newest backup in it.
// Verifies the SHA-256 of the file and of the database, its integrity, its
// schema version and that it belongs to this repository before anything
// changes; then, holding the repository's lock, moves the current database
// aside (never deleting it), puts the backup in place and rewrites the
// mirror files. Refuses (kBusy) while another process has the database
// open, unless options.force.
RestoreResult RestoreBackup(const std::filesystem::path& repo_path, const StorageConfig& config,
                            const std::string& from, const RestoreOptions& options = {});

// What a recovery of a damaged database found, by document kind.
struct RecoveryKindReport {
  std::string kind;           // events, dlq_items, job_states, sessions, workflow_checkpoints
  int64_t from_database = 0;  // rows read back from the damaged file
  int64_t from_mirrors = 0;   // documents only the mirror files still had
  int64_t mirror_newer = 0;   // documents where the mirror's copy was newer
  int64_t rejected = 0;       // rows read but not valid documents (listed in problems)
};

struct RecoveryReport {
  bool needed = false;  // false: the database was sound, nothing changed
  std::filesystem::path db_path;
  std::filesystem::path damaged_copy;  // the damaged database, kept (with its -wal)
  std::vector<RecoveryKindReport> kinds;
  int64_t ledger_rows = 0;  // import ledger rows read back
  // Tables or ranges that could not be read, rows rejected, and what may be
  // lost (e.g. events written after the last mirror update of their log).
  std::vector<std::string> problems;
};

// Rebuilds a damaged database: moves it aside (kept), builds a new one from
// what SQLite can still read from it, table by table, plus the mirror files
// (newest wins per document; every row re-extracted and validated), then
// rewrites the mirrors. Does nothing when the database opens and passes
// PRAGMA integrity_check. Refuses (kBusy) while another process has it open,
// unless `force`.
RecoveryReport RecoverDatabase(const std::filesystem::path& repo_path, const StorageConfig& config,
                               bool force = false);

// True for "s3://..." locations (usable only in builds with -Ds3=enabled).
bool IsS3Url(std::string_view location);

// Stores the local file `local` as the object `url` (s3://bucket/key) and
// reads it back to compare SHA-256: when this returns, the object is there
// and identical. An existing object is refused (kInvalidArgument), never
// overwritten. For archives that must be safe before data is deleted.
void UploadVerified(const std::filesystem::path& local, const std::string& url);

}  // namespace prodigy

#endif  // PRODIGY_BACKUP_H_
