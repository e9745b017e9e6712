#include "sqlite/connection.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <chrono>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "sqlite/migrations.h"
#include "util/log.h"

namespace prodigy::internal {

Error MapSqliteError(const SQLite::Exception& e, std::string_view context) {
  const int primary = e.getErrorCode() & 0xff;
  switch (primary) {
    case SQLITE_NOTADB:
      return Error::Corruption(
          fmt::format("{} is not a prodigy-store database (SQLite: {}); move the file aside "
                      "and run again to start a new one",
                      context, e.what()));
    case SQLITE_CORRUPT:
      return Error::Corruption(
          fmt::format("{} is damaged (SQLite: {}); run 'prodigy-store check --repair' to "
                      "rebuild it from what is readable plus the mirror files, or "
                      "'prodigy-store restore --from BACKUP_DIR' (docs/backup.md)",
                      context, e.what()));
    case SQLITE_FULL:
      return Error::Io(
          fmt::format("{}: the disk is full (SQLite: {}); free space and "
                      "retry: the transaction was rolled back",
                      context, e.what()));
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Error::Busy(
          fmt::format("{} stayed locked by another process past the busy timeout "
                      "(SQLite: {}); retry, or raise busy_timeout_ms",
                      context, e.what()));
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_IOERR:
    case SQLITE_AUTH:
      return Error::Io(
          fmt::format("{}: cannot read or write the database (SQLite: {}); "
                      "check permissions and free space",
                      context, e.what()));
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_TOOBIG:
      return Error::InvalidArgument(fmt::format("{}: {}", context, e.what()));
    default:
      return Error::Internal(
          fmt::format("{}: SQLite error {}: {}", context, e.getExtendedErrorCode(), e.what()));
  }
}

std::string ReadOnlyUri(const std::filesystem::path& db_path) {
  std::string uri = "file:";
  for (const unsigned char c : db_path.string()) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '/' || c == '-' || c == '_' || c == '.' || c == '~';
    if (plain)
      uri.push_back(static_cast<char>(c));
    else
      uri += fmt::format("%{:02X}", c);
  }
  std::error_code ec;
  const bool active = std::filesystem::exists(db_path.string() + "-wal", ec) ||
                      std::filesystem::exists(db_path.string() + "-journal", ec);
  return uri + (active ? "?mode=ro" : "?immutable=1");
}

namespace {

bool IsBusy(const SQLite::Exception& e) {
  const int primary = e.getErrorCode() & 0xff;
  return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}

}  // namespace

Connection::Connection(const std::filesystem::path& path, const StorageConfig& config, bool create)
    : path_(path), config_(config) {
  // Several processes opening a new database at once race on reading the
  // version, switching to WAL and applying migrations; SQLite reports some of
  // those races as SQLITE_BUSY without waiting (a lock upgrade that would
  // deadlock), so the whole set-up is retried until the busy deadline.
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::milliseconds(config_.busy_timeout_ms);
  for (int attempt = 1;; ++attempt) {
    try {
      Open(create);
      return;
    } catch (const SQLite::Exception& e) {
      cache_.clear();
      db_.reset();
      if (!IsBusy(e) || Clock::now() >= deadline) throw MapSqliteError(e, path.string());
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(50, 1 << std::min(attempt, 5))));
    }
  }
}

Connection::Connection(const std::filesystem::path& path, const StorageConfig& config, ReadOnly)
    : path_(path), config_(config) {
  try {
    db_ = std::make_unique<SQLite::Database>(ReadOnlyUri(path), SQLite::OPEN_READONLY | SQLite::OPEN_URI);
    db_->setBusyTimeout(config_.busy_timeout_ms);
  } catch (const SQLite::Exception& e) {
    throw MapSqliteError(e, path.string());
  }
}

void Connection::Open(bool create) {
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (create) flags |= SQLITE_OPEN_CREATE;
  db_ = std::make_unique<SQLite::Database>(path_.string(), flags);
  // Wait for other processes' transactions instead of failing at once.
  db_->setBusyTimeout(config_.busy_timeout_ms);

  // Look before writing: a foreign file or a newer schema must be refused
  // without a single byte changed (even journal_mode=WAL writes the header).
  // One read transaction, so another process creating the schema meanwhile
  // is seen either completely or not at all.
  db_->exec("BEGIN");
  const int version = db_->execAndGet("PRAGMA user_version").getInt();
  std::string tables;
  if (version == 0) {
    SQLite::Statement q(*db_,
                        "SELECT group_concat(name, ', ') FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'");
    if (q.executeStep() && !q.getColumn(0).isNull()) tables = q.getColumn(0).getString();
  }
  db_->exec("COMMIT");
  if (version > LatestSchemaVersion()) {
    throw Error::TooNew(
        fmt::format("{} has schema version {}, newer than this prodigy-store knows ({}); "
                    "upgrade prodigy-store. The database was not changed.",
                    path_.string(), version, LatestSchemaVersion()));
  }
  if (!tables.empty()) {
    throw Error::Corruption(
        fmt::format("{} is a SQLite database of something else (tables: {}), not a "
                    "prodigy-store database; move it aside. It was not changed.",
                    path_.string(), tables));
  }
  Configure();
  // Nothing to migrate is the common case: no further look at the version.
  if (version < LatestSchemaVersion()) ApplyMigrations();
}

Connection::~Connection() {
  cache_.clear();  // statements must be finalized before the database closes
}

void Connection::Configure() {
  // WAL: readers never block the writer and vice versa; many processes share
  // the file. The setting is persistent, but asserting it on each open heals a
  // database someone switched back with the sqlite3 shell.
  const std::string mode = db_->execAndGet("PRAGMA journal_mode=WAL").getString();
  if (mode != "wal") {
    throw Error::Io(
        fmt::format("{}: cannot switch to WAL mode (got '{}'); is the storage "
                    "root on a network filesystem?",
                    path_.string(), mode));
  }
  // NORMAL in WAL mode survives process crashes; FULL also survives power loss
  // at one fsync per commit. Debian's SQLite defaults to FULL, so set it always.
  db_->exec(config_.synchronous == Synchronous::kFull ? "PRAGMA synchronous=FULL"
                                                      : "PRAGMA synchronous=NORMAL");
  // Page cache of 16 MiB per connection; memory-mapped reads up to 256 MiB.
  db_->exec("PRAGMA cache_size=-16000");
  db_->exec("PRAGMA mmap_size=268435456");
  // Keep the -wal file from staying huge after a burst of writes.
  db_->exec("PRAGMA journal_size_limit=67108864");
  // Deleted rows are overwritten (Debian's default, kept on purpose): workflow
  // checkpoints carry environment snapshots that may hold secrets.
  db_->exec("PRAGMA secure_delete=ON");
  db_->exec("PRAGMA foreign_keys=OFF");
  // Checkpoints after commits. Up to 1000 WAL pages as SQLite's automatic
  // checkpoint does (PASSIVE: never waits). Past 64 MiB (the journal size
  // limit) readers are starving the checkpoint: with some reader always
  // holding a snapshot the WAL is never reset and grows without bound (1.26 GB
  // in the 8 x 10,000 soak). TRUNCATE waits (busy timeout) for the readers of
  // the old log, then restarts it; the soak's WAL then stays near 64 MiB.
  sqlite3_wal_hook(
      db_->getHandle(),
      [](void*, sqlite3* db, const char* name, int frames) -> int {
        constexpr int kStarvedFrames = 16384;  // 64 MiB of 4 KiB pages
        if (frames >= kStarvedFrames) {
          sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
        } else if (frames >= 1000) {
          sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
        }
        return SQLITE_OK;  // a checkpoint that could not finish is retried after a later commit
      },
      nullptr);
}

void Connection::ApplyMigrations() {
  for (const Migration& m : Migrations()) {
    if (db_->execAndGet("PRAGMA user_version").getInt() >= m.version) continue;
    Write([&](WriteTxn&) {
      // Another process may have applied it while we waited for the lock.
      if (db_->execAndGet("PRAGMA user_version").getInt() >= m.version) return;
      Log().debug("{}: applying migration {:04}_{}", path_.string(), m.version, m.name);
      for (const EnsuredColumn& c : m.ensure_columns) {
        SQLite::Statement has(*db_, "SELECT 1 FROM pragma_table_info(?) WHERE name = ?");
        has.bind(1, c.table);
        has.bind(2, c.column);
        if (!has.executeStep()) {
          db_->exec(fmt::format("ALTER TABLE {} ADD COLUMN {} {}", c.table, c.column, c.definition));
        }
      }
      db_->exec(m.sql);
      db_->exec(fmt::format("PRAGMA user_version={}", m.version));
    });
  }
}

int Connection::schema_version() {
  return Read([&] { return db_->execAndGet("PRAGMA user_version").getInt(); });
}

SQLite::Statement& Connection::Prepare(const char* sql) {
  auto it = cache_.find(std::string_view(sql));
  if (it == cache_.end()) {
    it = cache_.emplace(sql, std::make_unique<SQLite::Statement>(*db_, sql)).first;
  } else {
    it->second->reset();
    it->second->clearBindings();
  }
  return *it->second;
}

void Connection::ResetAll() noexcept {
  for (auto& [sql, stmt] : cache_) {
    try {
      stmt->reset();
    } catch (...) {
      // reset() reports the statement's last error again; it is already handled.
    }
  }
}

void Connection::RollbackQuietly() {
  ResetAll();
  // COMMIT may have failed after ending the transaction: only roll back an open one.
  if (sqlite3_get_autocommit(db_->getHandle()) == 0) {
    try {
      db_->exec("ROLLBACK");
    } catch (...) {
      // Nothing more can be done; SQLite rolls back on close.
    }
  }
}

bool Connection::EnterRollbackJournal() {
  std::string mode;
  try {
    // Leaving WAL needs every other connection closed; do not wait for them.
    db_->setBusyTimeout(0);
    try {
      mode = db_->execAndGet("PRAGMA journal_mode=DELETE").getString();
    } catch (const SQLite::Exception& e) {
      if (!IsBusy(e)) throw;
    }
    db_->setBusyTimeout(config_.busy_timeout_ms);
    if (mode != "delete") return false;
    db_->exec("PRAGMA synchronous=EXTRA");
  } catch (const SQLite::Exception& e) {
    try {
      db_->setBusyTimeout(config_.busy_timeout_ms);
    } catch (const SQLite::Exception&) {
      // The error below says what is wrong with the connection.
    }
    if (mode == "delete") LeaveRollbackJournal();
    throw MapSqliteError(e, path_.string());
  }
  Log().debug("{}: bulk load with a rollback journal", path_.string());
  return true;
}

void Connection::LeaveRollbackJournal() noexcept {
  using Clock = std::chrono::steady_clock;
  const auto deadline =
      Clock::now() + std::chrono::milliseconds(config_.busy_timeout_ms) + std::chrono::seconds(1);
  for (;;) {
    try {
      // A reader of another process holds a shared lock for a moment at most.
      if (db_->execAndGet("PRAGMA journal_mode=WAL").getString() == "wal") break;
    } catch (const SQLite::Exception& e) {
      if (!IsBusy(e) || Clock::now() >= deadline) {
        // Still transactional, only without WAL's concurrent readers until
        // this store is closed: the next connection to open switches back.
        Log().warn("{}: could not switch back to WAL after a bulk load: {}", path_.string(), e.what());
        break;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  try {
    db_->exec(config_.synchronous == Synchronous::kFull ? "PRAGMA synchronous=FULL"
                                                        : "PRAGMA synchronous=NORMAL");
  } catch (...) {
    // Only reached when the connection is unusable; its next call reports that.
  }
}

void Connection::Write(const std::function<void(WriteTxn&)>& fn) {
  using Clock = std::chrono::steady_clock;
  // The busy handler already waited busy_timeout_ms; on top of that retry the
  // whole transaction with jittered backoff, so a burst of writers queues up
  // instead of surfacing "database is locked".
  const auto deadline =
      Clock::now() + std::chrono::milliseconds(config_.busy_timeout_ms) * 2 + std::chrono::seconds(1);
  std::minstd_rand rng(static_cast<unsigned>(Clock::now().time_since_epoch().count()));
  int attempt = 0;
  for (;;) {
    bool begun = false;
    try {
      db_->exec("BEGIN IMMEDIATE");
      begun = true;
      WriteTxn txn(*this);
      fn(txn);
      ResetAll();
      db_->exec("COMMIT");
      return;
    } catch (const SQLite::Exception& e) {
      if (begun) RollbackQuietly();
      if (IsBusy(e) && Clock::now() < deadline) {
        ++attempt;
        const int cap = std::min(200, 5 << std::min(attempt, 5));
        std::this_thread::sleep_for(std::chrono::milliseconds(1 + rng() % cap));
        Log().debug("{}: write lock busy, retry {}", path_.string(), attempt);
        continue;
      }
      throw MapSqliteError(e, path_.string());
    } catch (...) {
      if (begun) RollbackQuietly();
      throw;
    }
  }
}

}  // namespace prodigy::internal
