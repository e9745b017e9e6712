// Databases made by earlier editions of the schema (tests/data/schema-history,
// made by its make_fixtures.py) open with today's library, end with exactly the
// schema of a new database, and keep every row.
#include <sqlite3.h>

#include <doctest/doctest.h>

#include "sqlite/migrations.h"
#include "test_util.h"

namespace prodigy::test {
namespace {

// A small sqlite3 handle for the test's own look at the files.
class Db {
 public:
  explicit Db(const fs::path& path) {
    REQUIRE(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
  }
  ~Db() { sqlite3_close(db_); }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Every row of the query, columns joined by \x1f, rows by \n.
  std::string Rows(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    REQUIRE_MESSAGE(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK,
                    sqlite3_errmsg(db_));
    std::string out;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_blob(stmt, i));
        out.append(text ? std::string(text, sqlite3_column_bytes(stmt, i)) : "<null>");
        out.push_back('\x1f');
      }
      out.push_back('\n');
    }
    sqlite3_finalize(stmt);
    return out;
  }
  void Exec(const std::string& sql) {
    REQUIRE_MESSAGE(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK,
                    sqlite3_errmsg(db_));
  }

 private:
  sqlite3* db_ = nullptr;
};

const char* kSchema = "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name";

// The rows of every table the fixture had, in key order, without the column
// that an edition may lack.
std::string Content(Db& db, bool with_ledger) {
  std::string out;
  for (const char* table : {"events", "dlq_items", "job_states", "sessions", "workflow_checkpoints"}) {
    out += db.Rows(fmt::format("SELECT * FROM {} ORDER BY 1, 2", table));
  }
  if (with_ledger) {
    out += db.Rows(
        "SELECT id, path, legacy_root, rel_path, kind, job_id, bytes, sha256, mtime_ns, inode, rows, "
        "unparsed, "
        "final_newline, content_sha256, first_seq, last_seq, row_table, row_key1, row_key2, status, note, "
        "imported_at, verified_at, removed_at FROM import_sources ORDER BY id");
    out += db.Rows("SELECT * FROM unparsed_lines ORDER BY 1, 2");
    out += db.Rows("SELECT * FROM source_blobs ORDER BY 1, 2");
  }
  return out;
}

struct Fixture {
  const char* file;
  int version;
};

}  // namespace

TEST_CASE("databases of every earlier schema edition migrate to today's shape with their rows") {
  Sandbox fresh;
  fresh.Open();
  Db fresh_db(fresh.root / "my-repo" / "prodigy.db");
  const std::string want_schema = fresh_db.Rows(kSchema);

  for (Fixture f : {Fixture{"v1.db", 1}, Fixture{"v2-first.db", 2}, Fixture{"v2.db", 2}}) {
    CAPTURE(f.file);
    Sandbox box;
    const fs::path db_path = box.root / "my-repo" / "prodigy.db";
    fs::create_directories(db_path.parent_path());
    fs::copy_file(fs::path(std::getenv("PRODIGY_TEST_DATA")) / "schema-history" / f.file, db_path);
    std::string before;
    std::string changed_before;
    {
      Db db(db_path);
      db.Exec(fmt::format("UPDATE repository SET canonical_path = '{}', name = 'my-repo'",
                          fs::canonical(box.repo).string()));
      REQUIRE(db.Rows("PRAGMA user_version") == fmt::format("{}\x1f\n", f.version));
      before = Content(db, f.version >= 2);
      if (std::string(f.file) == "v2.db")
        changed_before = db.Rows("SELECT id, rows_changed FROM import_sources");
    }
    REQUIRE(before.size() > 1000);  // the fixture holds rows of every table

    {
      GlobalStorage storage = box.Open();
      CHECK(storage.Info().schema_version == internal::LatestSchemaVersion());
      CHECK(storage.CheckIntegrity().empty());
    }
    Db db(db_path);
    CHECK(db.Rows(kSchema) == want_schema);
    CHECK(Content(db, f.version >= 2) == before);
    CHECK(db.Rows("SELECT count(*) FROM meta WHERE key = 'database_id'") == "1\x1f\n");
    if (!changed_before.empty()) {
      CHECK(db.Rows("SELECT id, rows_changed FROM import_sources") == changed_before);
    }
    if (f.version >= 2) {
      // The ledger triggers exist and count: an imported event removed on purpose.
      const std::string source = db.Rows("SELECT source_id FROM events WHERE source_id IS NOT NULL LIMIT 1");
      REQUIRE(!source.empty());
      const std::string id = source.substr(0, source.find('\x1f'));
      const std::string count_sql = "SELECT rows_changed FROM import_sources WHERE id = " + id;
      const int changed = std::stoi(db.Rows(count_sql));
      db.Exec("DELETE FROM events WHERE seq = (SELECT min(seq) FROM events WHERE source_id = " + id + ")");
      CHECK(std::stoi(db.Rows(count_sql)) == changed + 1);
    }
  }
}

}  // namespace prodigy::test
