// Applying migrations/postgres/*.sql.
#include <fmt/format.h>

#include "postgres/connection.h"
#include "postgres/migrations.h"

namespace prodigy::internal::pg {
namespace {

// pg_advisory_xact_lock key for schema changes: "prodigy" in ASCII. The lock
// is transaction-scoped, so it is released on COMMIT, on ROLLBACK and when the
// connection drops, and it works through PgBouncer in transaction mode.
constexpr const char* kLockSql = "SELECT pg_advisory_xact_lock(7021786764830077)";

}  // namespace

int SchemaVersion(Connection& conn) {
  // Two statements: a subquery on a missing table fails even where unused.
  if (conn.Exec("SELECT to_regclass('prodigy_schema_migrations') IS NULL").Text(0, 0) == "t") return 0;
  return static_cast<int>(
      conn.Exec("SELECT coalesce(max(version), 0) FROM prodigy_schema_migrations").Int(0, 0));
}

int ApplyMigrations(Connection& conn) {
  const int latest = LatestPostgresSchemaVersion();
  auto too_new = [&](int version) {
    return Error::TooNew(
        fmt::format("the prodigy-store schema on PostgreSQL server {} has version {}, newer than this "
                    "prodigy-store understands ({}); upgrade prodigy-store on this machine",
                    conn.server(), version, latest));
  };
  // The common case (schema current) takes no lock.
  int version = SchemaVersion(conn);
  if (version == latest) return version;
  if (version > latest) throw too_new(version);
  conn.Transaction([&]() {
    conn.Exec(kLockSql);
    conn.Exec(
        "CREATE TABLE IF NOT EXISTS prodigy_schema_migrations ("
        "version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())");
    version = SchemaVersion(conn);  // another process may have been first
    if (version > latest) throw too_new(version);
    for (const Migration& m : PostgresMigrations()) {
      if (m.version <= version) continue;
      conn.Exec(m.sql);
      const std::string v = std::to_string(m.version);
      conn.Query("INSERT INTO prodigy_schema_migrations (version, name) VALUES ($1, $2)", {v, m.name});
    }
  });
  return latest;
}

}  // namespace prodigy::internal::pg
