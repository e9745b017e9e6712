// Storage configuration: where the global store lives and how it behaves.
//
// The storage root is chosen by the first of:
//   1. an explicit directory (the CLI's --storage-dir),
//   2. the environment variable PRODIGY_STORAGE_DIR,
//   3. `storage_dir` in $HOME/.prodigy/config.toml,
//   4. $HOME/.prodigy.
// There is no fallback to the current directory: without HOME (and without 1-3)
// resolution fails. See docs/configuration.md for every key.
#ifndef PRODIGY_CONFIG_H_
#define PRODIGY_CONFIG_H_

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace prodigy {

enum class StorageDirSource { kFlag, kEnv, kConfig, kDefault };
// "flag", "env", "config" or "default".
const char* StorageDirSourceName(StorageDirSource source);

enum class Synchronous { kNormal, kFull };

// The storage engine that holds a repository's data.
enum class Engine { kSqlite, kPostgres };
// "sqlite" or "postgres" (the `backend` of `info --json`).
const char* EngineName(Engine engine);
enum class MigrationPolicy { kAuto, kOff };

struct StorageConfig {
  // Root of the global store; holds one folder per repository.
  std::filesystem::path storage_dir;
  StorageDirSource storage_dir_source = StorageDirSource::kDefault;
  // Config files that were read, in order (may be empty).
  std::vector<std::filesystem::path> config_files;

  // Write JSON mirror files of the database's rows.
  bool mirrors = true;
  // How long after a commit its mirror files may be written, in milliseconds:
  // commits within this delay are mirrored together by a thread of the store
  // (and at once by FlushMirrors and on close). 0 (`mirrors = "sync"`): before
  // each write call returns, in the caller's thread.
  int mirror_delay_ms = 50;
  // synchronous=NORMAL survives process crashes (a power loss may undo the
  // last commits); FULL also survives power loss at a cost per commit.
  Synchronous synchronous = Synchronous::kNormal;
  // How long a writer waits for another process's transaction, in total.
  int busy_timeout_ms = 30000;
  // Versions of each job's state kept in the database (older ones are pruned).
  int state_versions_kept = 3;
  // Migrate legacy Prodigy data automatically on the first open of a repository.
  MigrationPolicy migration = MigrationPolicy::kAuto;
  // A root on NFS/SMB/FUSE is refused (SQLite's WAL needs shared memory that
  // those filesystems do not provide) unless this is set.
  bool allow_network_filesystem = false;
  // Where the data lives when it is not the local SQLite store: a PostgreSQL
  // connection string, postgresql://... or libpq's key=value form (passwords
  // may also come from ~/.pgpass or PGPASSWORD). Empty (or "sqlite:"): the
  // SQLite store under storage_dir. Chosen by --storage-url >
  // PRODIGY_STORAGE_URL > `storage_url` in a config file. May hold a password:
  // print it only through RedactStorageUrl().
  std::string storage_url;
  StorageDirSource storage_url_source = StorageDirSource::kDefault;  // kDefault: not set
  // Names the repository on a shared server, so that several machines share
  // one repository's history by setting the same key. Empty: the folder name.
  std::string repository_key;
  // PostgreSQL: `events tail -f` wakes on LISTEN/NOTIFY instead of polling
  // only. Off for connection poolers that cannot LISTEN (PgBouncer in
  // transaction mode).
  bool notify = true;
  // PostgreSQL: false makes opening a repository the server does not have a
  // kNotFound error instead of creating it (the CLI's commands that only look
  // or change existing data; for SQLite the CLI checks the file itself).
  bool create_repository = true;
  // Redis server for leases and event notifications (docs/coordination.md):
  // PRODIGY_REDIS_URL > `redis_url` in config.toml; empty: none. Forms:
  // redis://[:password@]host[:port][/db], unix:///path/to/redis.sock[?db=N].
  std::string redis_url;
  // Notices for the user (e.g. that PRODIGY_USE_LOCAL_STORAGE is ignored).
  std::vector<std::string> notices;
};

struct ResolveOptions {
  // --storage-dir; wins over everything else when set.
  std::optional<std::filesystem::path> storage_dir_flag;
  // Read the process environment (HOME, PRODIGY_STORAGE_DIR, ...). Tests may
  // pass their own values instead through `env`.
  bool use_process_env = true;
  std::optional<std::string> home;                   // used when !use_process_env
  std::optional<std::string> storage_dir_env;        // used when !use_process_env
  std::optional<std::string> use_local_storage_env;  // used when !use_process_env
  // --storage-url; wins over PRODIGY_STORAGE_URL and the config files.
  std::optional<std::string> storage_url_flag;
  std::optional<std::string> storage_url_env;  // used when !use_process_env
  std::optional<std::string> redis_url_env;    // used when !use_process_env
};

// Resolves the configuration. Does not create anything on disk.
// Throws Error(kConfig) naming the file and key for a bad config file, and when
// no root can be determined (no flag, no env, no HOME).
StorageConfig ResolveConfig(const ResolveOptions& options = {});

// The engine a storage URL selects: empty or "sqlite:" -> kSqlite;
// postgres://, postgresql:// or libpq's key=value form -> kPostgres. Anything
// else throws Error(kConfig) naming the (redacted) URL and the forms accepted.
Engine EngineForUrl(std::string_view url);
inline Engine EngineOf(const StorageConfig& config) { return EngineForUrl(config.storage_url); }
// True when this build contains `engine` (-Dpostgres=enabled for kPostgres).
bool EngineBuilt(Engine engine);

// The URL with every password replaced by "***": the user:password@ part of
// a URI, a password= query parameter and libpq's password=... key. Use it for
// every output, log line and error message that shows a storage URL.
std::string RedactStorageUrl(std::string_view url);

}  // namespace prodigy

#endif  // PRODIGY_CONFIG_H_
