// One configured SQLite connection with cached statements and write
// transactions that wait for other processes instead of failing.
#ifndef PRODIGY_SQLITE_CONNECTION_H_
#define PRODIGY_SQLITE_CONNECTION_H_

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include "prodigy/config.h"
#include "prodigy/error.h"

namespace prodigy::internal {

// Maps a SQLite error to the library's error, naming `context` (usually the
// database path) and what to do.
Error MapSqliteError(const SQLite::Exception& e, std::string_view context);

// A URI that opens `db_path` read-only without creating any file (for the
// dry run, which must write nothing): immutable=1 when there is no -wal and
// no -journal file (no connection has the database open, so the main file
// alone is complete), else mode=ro (a writer is active; SQLite then uses its
// -wal and -shm, or the rollback journal's locks during a bulk load).
// Open it with SQLITE_OPEN_READONLY | SQLITE_OPEN_URI.
std::string ReadOnlyUri(const std::filesystem::path& db_path);

class WriteTxn;

class Connection {
 public:
  // Opens `path`, checks that it is a prodigy-store database no newer than
  // this binary (before writing anything), then configures the connection and
  // applies pending migrations, each in its own transaction.
  // `create`: create the file when missing (otherwise kNotFound).
  Connection(const std::filesystem::path& path, const StorageConfig& config, bool create = true);
  // Opens an existing database read-only without creating or changing any
  // file (ReadOnlyUri): no checks, no configuration, no migrations.
  struct ReadOnly {};
  static constexpr ReadOnly kReadOnly{};
  Connection(const std::filesystem::path& path, const StorageConfig& config, ReadOnly);
  ~Connection();

  // A cached prepared statement, reset and with bindings cleared.
  SQLite::Statement& Prepare(const char* sql);
  SQLite::Database& db() { return *db_; }
  const std::filesystem::path& path() const { return path_; }
  int schema_version();

  // Runs fn inside BEGIN IMMEDIATE ... COMMIT. When another process holds the
  // write lock past the busy timeout the whole transaction is retried until
  // the configured deadline; any exception rolls back and propagates (SQLite
  // errors mapped to prodigy::Error).
  void Write(const std::function<void(WriteTxn&)>& fn);

  // Runs fn, mapping SQLite exceptions to prodigy::Error (for reads). Every
  // cached statement is reset afterwards: in autocommit mode a statement left
  // mid-iteration would keep its read snapshot open, so later reads would see
  // stale data and WAL checkpoints could not finish.
  template <class F>
  auto Read(F&& fn) -> decltype(fn()) {
    struct Reset {
      Connection* c;
      ~Reset() { c->ResetAll(); }
    } reset{this};
    try {
      return fn();
    } catch (const SQLite::Exception& e) {
      throw MapSqliteError(e, path_.string());
    }
  }

  // Resets every cached statement (never throws).
  void ResetAll() noexcept;

  // For one large load of new rows: switches the database from WAL to a
  // rollback journal, which writes the pages appended to the file once
  // instead of twice (into the WAL, then by the checkpoint). Only when no
  // other connection has the database open; otherwise returns false and
  // changes nothing. Meanwhile synchronous=EXTRA: a rollback journal at NORMAL
  // may lose the database in a power loss (WAL at NORMAL only the last
  // commits), and EXTRA also syncs the journal's deletion, the commit point,
  // so the load is durable when the call returns (before any original is
  // deleted).
  bool EnterRollbackJournal();
  // Back to WAL and the configured synchronous setting. Connections that
  // opened meanwhile switch the database to WAL themselves (Configure).
  void LeaveRollbackJournal() noexcept;

 private:
  void Open(bool create);
  void Configure();
  void ApplyMigrations();
  void RollbackQuietly();

  std::filesystem::path path_;
  StorageConfig config_;
  std::unique_ptr<SQLite::Database> db_;
  // Looked up by string_view: a lookup per inserted row must not allocate.
  struct SqlHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::unique_ptr<SQLite::Statement>, SqlHash, std::equal_to<>> cache_;
};

// Proof that the caller is inside a write transaction: functions that write
// take a WriteTxn&, so writing outside a transaction does not compile.
class WriteTxn {
 public:
  Connection& conn() { return conn_; }
  SQLite::Statement& Prepare(const char* sql) { return conn_.Prepare(sql); }

 private:
  friend class Connection;
  explicit WriteTxn(Connection& conn) : conn_(conn) {}
  Connection& conn_;
};

}  // namespace prodigy::internal

#endif  // PRODIGY_SQLITE_CONNECTION_H_
