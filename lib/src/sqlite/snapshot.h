// The SQLite side of backups, restores and recovery: consistent copies of a
// live database, facts read from a copy, and who else has a database open.
// Everything here uses the C API on connections of its own, never the
// GlobalStorage connection, so a backup never holds the store's mutex.
#ifndef PRODIGY_SQLITE_SNAPSHOT_H_
#define PRODIGY_SQLITE_SNAPSHOT_H_

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "prodigy/records.h"

struct sqlite3;

namespace prodigy::internal {

// An owned sqlite3 handle that closes on destruction; errors are prodigy::Error
// naming `path`.
class RawDb {
 public:
  // flags: SQLITE_OPEN_* ; `uri` may be a plain path or a file: URI.
  RawDb(const std::string& uri, int flags, const std::filesystem::path& path);
  ~RawDb();
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  sqlite3* get() const { return db_; }
  const std::filesystem::path& path() const { return path_; }
  // Runs statements that return no rows of interest.
  void Exec(const char* sql);
  // The first column of the first row as text (nullopt: no row or NULL).
  std::optional<std::string> Text(const char* sql);
  // Throws the error of the last call as Error(code) with `what` in the message.
  [[noreturn]] void Fail(int rc, const std::string& what);

 private:
  sqlite3* db_ = nullptr;
  std::filesystem::path path_;
};

// Copies the live database at `src` into a new file `dest` with SQLite's
// online backup API in one step: the copy is the state of one read
// transaction (writers in other processes keep writing meanwhile, WAL).
// The copy is switched to journal_mode=DELETE so it is one self-contained file.
void SnapshotDatabase(const std::filesystem::path& src, const std::filesystem::path& dest);

// What a (quiescent) database file says about itself.
struct DatabaseFacts {
  std::vector<std::string> integrity;  // PRAGMA integrity_check; empty when sound
  int schema_version = 0;
  std::string database_id;
  std::string canonical_path;  // of the repository it belongs to
  std::string repo_name;
  TableCounts counts;
};
// Reads the facts of a file no other process writes (a snapshot or a backup
// being restored). Throws kCorruption when it is not a prodigy-store database.
DatabaseFacts ReadDatabaseFacts(const std::filesystem::path& db);

// Pids of other processes that hold `db` open (SQLite keeps a read lock on
// the -shm file's DMS byte for as long as a WAL connection is open). Our own
// process is never listed: POSIX record locks are per process.
std::vector<pid_t> ProcessesHoldingOpen(const std::filesystem::path& db);

// Folds the -wal file into the database file (best effort: a damaged
// database may refuse; then the -wal file is moved along with it).
void CheckpointQuietly(const std::filesystem::path& db);

}  // namespace prodigy::internal

#endif  // PRODIGY_SQLITE_SNAPSHOT_H_
