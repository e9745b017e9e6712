// The limit for event appends: the SQLite C API writing the same rows into
// the same schema (the library's compiled-in migrations) with the same
// connection settings and BEGIN IMMEDIATE, and nothing else: no JSON parsing,
// no validation, no change log, no mirrors.
#ifndef PRODIGY_BENCH_RAW_SQLITE_H_
#define PRODIGY_BENCH_RAW_SQLITE_H_

#include <sqlite3.h>

#include <filesystem>
#include <span>

#include "prodigy/records.h"

namespace prodigy::bench {

class RawStore {
 public:
  // full_sync: synchronous=FULL (one WAL sync per commit) instead of NORMAL.
  explicit RawStore(const std::filesystem::path& db_path, bool full_sync = false);
  ~RawStore();
  RawStore(const RawStore&) = delete;
  RawStore& operator=(const RawStore&) = delete;

  // Inserts the rows (columns already extracted) in one write transaction.
  void Insert(std::span<const Event> rows);

  // The same, a row at a time inside Exec("BEGIN IMMEDIATE") ... Exec("COMMIT"),
  // with the legacy import's two columns (0: NULL).
  void Add(const Event& e, int64_t source_id = 0, int64_t line_no = 0);
  void Exec(const char* sql);
  // Closes the connection (SQLite checkpoints the WAL into the database).
  void Close();

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
};

}  // namespace prodigy::bench

#endif  // PRODIGY_BENCH_RAW_SQLITE_H_
