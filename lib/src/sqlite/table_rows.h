// Whole tables of a repository's SQLite database as rows of engine values,
// for copying a repository between engines (`sync`). Bulk, in key order,
// without the engine's per-kind statements.
#ifndef PRODIGY_SQLITE_TABLE_ROWS_H_
#define PRODIGY_SQLITE_TABLE_ROWS_H_

#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/schema.h"

struct sqlite3;

namespace prodigy::internal {

struct TableColumn {
  std::string name;
  engine::ColumnType type = engine::ColumnType::kText;  // from the declared type
};

// One connection to a store's database file for bulk copying, inside one
// transaction from construction to Commit() (destruction rolls back).
class TableRows {
 public:
  // `write`: BEGIN IMMEDIATE (waits up to busy_timeout_ms for other
  // writers), else a read transaction: one consistent snapshot.
  TableRows(const std::filesystem::path& db_path, bool write, int busy_timeout_ms);
  ~TableRows();
  TableRows(const TableRows&) = delete;
  TableRows& operator=(const TableRows&) = delete;

  // The table's columns in order (PRAGMA table_info).
  std::vector<TableColumn> Columns(std::string_view table);
  // Every row in `order_by` order; integers as int64_t, text and blobs as
  // string_view (valid during the call), NULL as monostate.
  void ForEach(std::string_view table, std::string_view order_by,
               const std::function<void(std::span<const engine::Value>)>& fn);
  std::string Meta(std::string_view key);
  bool HasRows(std::string_view table);

  // ---- write transactions only ----
  void DeleteAll(std::string_view table);
  // Inserts rows given in column order.
  void Insert(std::string_view table, std::span<const engine::Value> row);
  // Makes the mirror files be rewritten from the database on the next open.
  void RequestMirrorRegeneration();
  void Commit();

 private:
  void Exec(const std::string& sql);
  std::filesystem::path path_;
  sqlite3* db_ = nullptr;
  bool open_txn_ = false;
  struct Cache;
  std::unique_ptr<Cache> cache_;
};

}  // namespace prodigy::internal

#endif  // PRODIGY_SQLITE_TABLE_ROWS_H_
