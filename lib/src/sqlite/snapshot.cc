#include "sqlite/snapshot.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "prodigy/error.h"
#include "sqlite/connection.h"
#include "sqlite/migrations.h"

namespace prodigy::internal {

namespace fs = std::filesystem;

RawDb::RawDb(const std::string& uri, int flags, const fs::path& path) : path_(path) {
  const int rc = sqlite3_open_v2(uri.c_str(), &db_, flags | SQLITE_OPEN_URI, nullptr);
  if (rc != SQLITE_OK) Fail(rc, "cannot open");
  sqlite3_busy_timeout(db_, 30000);
}

RawDb::~RawDb() { sqlite3_close_v2(db_); }

void RawDb::Fail(int rc, const std::string& what) {
  const std::string detail = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  const int primary = rc & 0xff;
  if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) {
    throw Error::Corruption(
        fmt::format("{}: {} (SQLite: {}); the file is damaged or not a "
                    "prodigy-store database",
                    path_.string(), what, detail));
  }
  if (primary == SQLITE_FULL) {
    throw Error::Io(fmt::format("{}: {}: the disk is full (SQLite: {}); free space and retry", path_.string(),
                                what, detail));
  }
  throw Error::Io(
      fmt::format("{}: {} (SQLite: {}); check permissions and free space", path_.string(), what, detail));
}

void RawDb::Exec(const char* sql) {
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) Fail(rc, fmt::format("'{}' failed", sql));
}

std::optional<std::string> RawDb::Text(const char* sql) {
  sqlite3_stmt* st = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql, -1, &st, nullptr);
  if (rc != SQLITE_OK) Fail(rc, fmt::format("'{}' failed", sql));
  std::optional<std::string> out;
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
    out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) Fail(rc, fmt::format("'{}' failed", sql));
  return out;
}

void SnapshotDatabase(const fs::path& src, const fs::path& dest) {
  // mode=ro, not immutable: other processes are writing, and their WAL
  // frames are part of the state to copy.
  std::string uri = ReadOnlyUri(src);
  uri = uri.substr(0, uri.rfind('?')) + "?mode=ro";
  RawDb from(uri, SQLITE_OPEN_READONLY, src);
  RawDb to(dest.string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, dest);
  sqlite3_backup* backup = sqlite3_backup_init(to.get(), "main", from.get(), "main");
  if (backup == nullptr) to.Fail(sqlite3_errcode(to.get()), "cannot start the backup");
  // One step copies every page inside one read transaction. A busy source
  // (a writer checkpointing, a recovery in progress) is waited for.
  int rc;
  for (int attempt = 0;; ++attempt) {
    rc = sqlite3_backup_step(backup, -1);
    if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || attempt >= 600) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE) {
    (rc & 0xff) == SQLITE_FULL || (rc & 0xff) == SQLITE_IOERR ? to.Fail(rc, "writing the copy failed")
                                                              : from.Fail(rc, "reading the database failed");
  }
  to.Exec("PRAGMA journal_mode=DELETE");
}

DatabaseFacts ReadDatabaseFacts(const fs::path& db) {
  RawDb raw(ReadOnlyUri(db), SQLITE_OPEN_READONLY, db);
  DatabaseFacts facts;
  {
    sqlite3_stmt* st = nullptr;
    int rc = sqlite3_prepare_v2(raw.get(), "PRAGMA integrity_check", -1, &st, nullptr);
    if (rc != SQLITE_OK) raw.Fail(rc, "the integrity check failed");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      const std::string line = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
      if (line != "ok") facts.integrity.push_back(line);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) facts.integrity.push_back(sqlite3_errmsg(raw.get()));
  }
  if (!facts.integrity.empty()) return facts;
  facts.schema_version = std::stoi(raw.Text("PRAGMA user_version").value_or("0"));
  if (facts.schema_version > LatestSchemaVersion()) return facts;  // the caller refuses it
  try {
    facts.database_id = raw.Text("SELECT value FROM meta WHERE key = 'database_id'").value_or("");
    facts.canonical_path = raw.Text("SELECT canonical_path FROM repository WHERE id = 1").value_or("");
    facts.repo_name = raw.Text("SELECT name FROM repository WHERE id = 1").value_or("");
    auto count = [&](const char* sql) { return std::stoll(raw.Text(sql).value_or("0")); };
    facts.counts.events = count("SELECT count(*) FROM events");
    facts.counts.dlq_items = count("SELECT count(*) FROM dlq_items");
    facts.counts.job_states = count("SELECT count(*) FROM job_states");
    facts.counts.sessions = count("SELECT count(*) FROM sessions");
    facts.counts.workflow_checkpoints = count("SELECT count(*) FROM workflow_checkpoints");
    facts.counts.unparsed_lines = count("SELECT count(*) FROM unparsed_lines");
    facts.counts.import_sources = count("SELECT count(*) FROM import_sources");
  } catch (const Error& e) {
    throw Error::Corruption(fmt::format("{} is not a prodigy-store database ({})", db.string(), e.message()));
  }
  return facts;
}

std::vector<pid_t> ProcessesHoldingOpen(const fs::path& db) {
  // SQLite's unix VFS: UNIX_SHM_DMS = (22 + SQLITE_SHM_NLOCK) * 4 + SQLITE_SHM_NLOCK
  // = 128. Every open WAL connection holds a shared lock on that byte.
  constexpr off_t kDmsByte = 128;
  std::vector<pid_t> pids;
  const std::string shm = db.string() + "-shm";
  const int fd = ::open(shm.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return pids;  // no -shm file: nobody has it open in WAL mode
  struct flock probe = {};
  probe.l_type = F_WRLCK;
  probe.l_whence = SEEK_SET;
  probe.l_start = kDmsByte;
  probe.l_len = 1;
  if (::fcntl(fd, F_GETLK, &probe) == 0 && probe.l_type != F_UNLCK) pids.push_back(probe.l_pid);
  ::close(fd);
  return pids;
}

void CheckpointQuietly(const fs::path& db) {
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(db.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(raw, 5000);
    sqlite3_exec(raw, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
  }
  sqlite3_close_v2(raw);
}

}  // namespace prodigy::internal
