// The PostgreSQL schema: the same columns as SQLite's (plus repo_id), the
// types that keep documents verbatim, and migrations applied once under a lock.
#include <doctest/doctest.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include <map>
#include <vector>

#include "pg_test_util.h"
#include "postgres/migrations.h"

using namespace prodigy;
using namespace prodigy::test;
namespace pg = prodigy::internal::pg;

namespace {

struct Column {
  std::string name;
  std::string type;
  bool operator==(const Column&) const = default;
};

std::vector<Column> SqliteColumns(const fs::path& db_path, const std::string& table) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(db_path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, ("PRAGMA table_info(" + table + ")").c_str(), -1, &st, nullptr) ==
          SQLITE_OK);
  std::vector<Column> out;
  while (sqlite3_step(st) == SQLITE_ROW) {
    out.push_back({reinterpret_cast<const char*>(sqlite3_column_text(st, 1)),
                   reinterpret_cast<const char*>(sqlite3_column_text(st, 2))});
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

std::vector<Column> PostgresColumns(pg::Connection& conn, const std::string& table) {
  pg::Result res = conn.Query(
      "SELECT column_name, data_type FROM information_schema.columns "
      "WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
      {table});
  std::vector<Column> out;
  for (int i = 0; i < res.rows(); ++i)
    out.push_back({std::string(res.Text(i, 0)), std::string(res.Text(i, 1))});
  return out;
}

// The PostgreSQL type that keeps a SQLite column's values exactly.
std::string ExpectedType(const Column& c) {
  if (c.name == "json") return "json";  // never jsonb: documents stay verbatim
  if (c.type == "INTEGER") return "bigint";
  if (c.type == "BLOB") return "bytea";
  return "text";
}

}  // namespace

TEST_CASE("every SQLite data table has its PostgreSQL twin: repo_id first, then the same columns") {
  Sandbox box;
  { GlobalStorage storage = box.Open(); }
  TestDatabase db;
  pg::Connection conn(db.url());
  CHECK(pg::ApplyMigrations(conn) == internal::LatestPostgresSchemaVersion());

  // repository and meta become the repositories table; mirror_changes tracks
  // mirror files, which only the SQLite store writes.
  for (const std::string table :
       {"meta", "events", "dlq_items", "job_states", "sessions", "workflow_checkpoints", "import_sources",
        "unparsed_lines", "source_blobs"}) {
    CAPTURE(table);
    const std::vector<Column> sqlite = SqliteColumns(box.root / "my-repo/prodigy.db", table);
    std::vector<Column> postgres = PostgresColumns(conn, table);
    REQUIRE(!sqlite.empty());
    REQUIRE(!postgres.empty());
    CHECK(postgres.front() == Column{"repo_id", "bigint"});
    postgres.erase(postgres.begin());
    REQUIRE(postgres.size() == sqlite.size());
    for (size_t i = 0; i < sqlite.size(); ++i) {
      CAPTURE(sqlite[i].name);
      CHECK(postgres[i].name == sqlite[i].name);
      CHECK(postgres[i].type == ExpectedType(sqlite[i]));
    }
  }
}

TEST_CASE("json columns keep documents byte for byte, bytea keeps invalid UTF-8") {
  TestDatabase db;
  pg::Connection conn(db.url());
  pg::ApplyMigrations(conn);
  conn.Exec("INSERT INTO repositories (key, name, canonical_path, created_at) VALUES ('k', 'n', '/p', 't')");
  const std::string doc = R"({"b":1,  "a":2, "a":3, "z":"\u0000"})";
  conn.Query("INSERT INTO events (repo_id, seq, job_id, json) VALUES (1, 1, 'j', $1)", {doc});
  CHECK(conn.Exec("SELECT json FROM events").Text(0, 0) == doc);

  conn.Exec(
      "INSERT INTO import_sources (repo_id, id, path, legacy_root, rel_path, kind, bytes, sha256, rows, "
      "status, imported_at) VALUES (1, 1, '/f', '/', 'f', 'events', 3, 'x', 0, 'imported', 't')");
  const std::string raw("\xff\xfe\x00 torn", 8);
  conn.Query(
      "INSERT INTO unparsed_lines (repo_id, source_id, line_no, raw, reason) VALUES (1, 1, 1, $1, 'r')",
      {pg::Param::Bytes(raw)});
  pg::Result res(
      PQexecParams(conn.raw(), "SELECT raw FROM unparsed_lines", 0, nullptr, nullptr, nullptr, nullptr, 1));
  REQUIRE(res.status() == PGRES_TUPLES_OK);
  CHECK(res.Text(0, 0) == raw);
}

TEST_CASE("migrations: applied once by many processes at once, recorded, and a newer schema is refused") {
  TestDatabase db;
  std::vector<pid_t> children;
  for (int i = 0; i < 4; ++i) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      try {
        pg::Connection conn(db.url());
        pg::ApplyMigrations(conn);
        ::_exit(0);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "child: %s\n", e.what());
        ::_exit(1);
      }
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  pg::Connection conn(db.url());
  CHECK(pg::SchemaVersion(conn) == internal::LatestPostgresSchemaVersion());
  CHECK(conn.Exec("SELECT count(*) FROM prodigy_schema_migrations").Int(0, 0) ==
        internal::LatestPostgresSchemaVersion());

  conn.Exec("INSERT INTO prodigy_schema_migrations (version, name) VALUES (999, 'from_the_future')");
  CHECK_PRODIGY_ERROR(pg::ApplyMigrations(conn), ErrorCode::kTooNew,
                      "has version 999, newer than this prodigy-store understands");
}
