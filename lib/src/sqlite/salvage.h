// Reading what is still readable from a damaged database, table by table
// (the approach of SQLite's own recovery tool): a scan in key order until
// the first damaged page, one in reverse key order back to it, and for
// integer keys probes past the damage, so one bad page costs only its rows.
#ifndef PRODIGY_SQLITE_SALVAGE_H_
#define PRODIGY_SQLITE_SALVAGE_H_

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "sqlite/connection.h"

namespace prodigy::internal {

// One column value as SQLite stored it.
struct SqlValue {
  enum Type { kNull, kInteger, kFloat, kText, kBlob } type = kNull;
  int64_t integer = 0;
  double real = 0;
  std::string bytes;  // text or blob

  std::string Text() const;            // "" for NULL; integers as digits
  std::optional<int64_t> Int() const;  // nullopt unless an integer
};

struct SalvagedTable {
  std::string table;
  std::vector<std::string> columns;
  std::vector<std::vector<SqlValue>> rows;  // in key order
  bool complete = false;                    // one clean scan read every row
  std::vector<std::string> problems;        // what could not be read, and where
};

// Reads `columns` of `table` from the damaged database at `db` (a private
// copy: opening it may replay its -wal). `key` is the ORDER BY of the
// table's own B-tree ("seq", "job_id, item_id"); `integer_key` enables
// probing past damage. Never throws for damage: an unreadable table comes
// back empty with the reason in problems.
SalvagedTable SalvageTable(const std::filesystem::path& db, const std::string& table,
                           const std::vector<std::string>& columns, const std::string& key, bool integer_key);

// The column names of `table` in a sound database (the new one), to copy
// tables whose rows are not documents (the import ledger).
std::vector<std::string> TableColumns(Connection& conn, const std::string& table);

// Inserts salvaged rows into `table` as they were (INSERT OR IGNORE); the
// rows' columns must be `columns`. Returns how many were inserted.
int64_t InsertRawRows(Connection& conn, const std::string& table, const std::vector<std::string>& columns,
                      const std::vector<std::vector<SqlValue>>& rows);

// Gives the event at seq `from` the seq `to` (a recovered log keeps its
// order and, where possible, its old cursors). REQUIRES: `to` is free.
void MoveEventSeq(Connection& conn, int64_t from, int64_t to);

}  // namespace prodigy::internal

#endif  // PRODIGY_SQLITE_SALVAGE_H_
