// Bulk table access for `sync` (see table_rows.h).
#include "sqlite/table_rows.h"

#include <sqlite3.h>

#include <map>
#include <variant>

#include <fmt/format.h>

#include "prodigy/error.h"

namespace prodigy::internal {

struct TableRows::Cache {
  struct Insert {
    sqlite3_stmt* st = nullptr;
    std::vector<TableColumn> columns;
  };
  std::map<std::string, Insert, std::less<>> inserts;
  ~Cache() {
    for (auto& [table, insert] : inserts) sqlite3_finalize(insert.st);
  }
};

namespace {

[[noreturn]] void Fail(sqlite3* db, const std::filesystem::path& path, std::string_view what) {
  throw Error::Io(fmt::format("{}: {} failed: {}", path.string(), what, sqlite3_errmsg(db)));
}

}  // namespace

TableRows::TableRows(const std::filesystem::path& db_path, bool write, int busy_timeout_ms)
    : path_(db_path), cache_(std::make_unique<Cache>()) {
  const int flags = write ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY;
  if (sqlite3_open_v2(path_.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    const std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw Error::Io(fmt::format("{}: cannot open: {}", path_.string(), message));
  }
  sqlite3_busy_timeout(db_, busy_timeout_ms);
  Exec(write ? "BEGIN IMMEDIATE" : "BEGIN");
  open_txn_ = true;
  // A read transaction takes its snapshot at the first read.
  if (!write) Exec("SELECT count(*) FROM sqlite_schema");
}

TableRows::~TableRows() {
  cache_.reset();
  if (open_txn_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(db_);
}

void TableRows::Exec(const std::string& sql) {
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) Fail(db_, path_, sql);
}

std::vector<TableColumn> TableRows::Columns(std::string_view table) {
  std::vector<TableColumn> out;
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, fmt::format("PRAGMA table_info({})", table).c_str(), -1, &st, nullptr) !=
      SQLITE_OK) {
    Fail(db_, path_, "PRAGMA table_info");
  }
  while (sqlite3_step(st) == SQLITE_ROW) {
    const std::string type = reinterpret_cast<const char*>(sqlite3_column_text(st, 2));
    out.push_back({reinterpret_cast<const char*>(sqlite3_column_text(st, 1)),
                   type == "INTEGER" ? engine::ColumnType::kInt
                   : type == "BLOB"  ? engine::ColumnType::kBlob
                                     : engine::ColumnType::kText});
  }
  sqlite3_finalize(st);
  return out;
}

void TableRows::ForEach(std::string_view table, std::string_view order_by,
                        const std::function<void(std::span<const engine::Value>)>& fn) {
  const std::vector<TableColumn> columns = Columns(table);
  std::string list;
  for (const TableColumn& c : columns) list += (list.empty() ? "" : ", ") + c.name;
  sqlite3_stmt* st = nullptr;
  const std::string sql = fmt::format("SELECT {} FROM {} ORDER BY {}", list, table, order_by);
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) Fail(db_, path_, sql);
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> owned(st, &sqlite3_finalize);
  std::vector<engine::Value> row(columns.size());
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    for (size_t i = 0; i < columns.size(); ++i) {
      const int col = static_cast<int>(i);
      switch (sqlite3_column_type(st, col)) {
        case SQLITE_NULL:
          row[i] = std::monostate();
          break;
        case SQLITE_INTEGER:
          row[i] = static_cast<int64_t>(sqlite3_column_int64(st, col));
          break;
        default: {
          const void* p = sqlite3_column_blob(st, col);
          const int n = sqlite3_column_bytes(st, col);
          row[i] = std::string_view(p ? static_cast<const char*>(p) : "", static_cast<size_t>(n));
        }
      }
    }
    fn(row);
  }
  if (rc != SQLITE_DONE) Fail(db_, path_, sql);
}

std::string TableRows::Meta(std::string_view key) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, "SELECT value FROM meta WHERE key = ?1", -1, &st, nullptr) != SQLITE_OK) {
    Fail(db_, path_, "reading meta");
  }
  sqlite3_bind_text(st, 1, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
  std::string out;
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != nullptr) {
    out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  }
  sqlite3_finalize(st);
  return out;
}

bool TableRows::HasRows(std::string_view table) {
  sqlite3_stmt* st = nullptr;
  const std::string sql = fmt::format("SELECT 1 FROM {} LIMIT 1", table);
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) Fail(db_, path_, sql);
  const bool found = sqlite3_step(st) == SQLITE_ROW;
  sqlite3_finalize(st);
  return found;
}

void TableRows::DeleteAll(std::string_view table) { Exec(fmt::format("DELETE FROM {}", table)); }

void TableRows::Insert(std::string_view table, std::span<const engine::Value> row) {
  auto it = cache_->inserts.find(table);
  if (it == cache_->inserts.end()) {
    std::vector<TableColumn> columns = Columns(table);
    std::string cols, params;
    for (const TableColumn& c : columns) {
      cols += (cols.empty() ? "" : ", ") + c.name;
      params += params.empty() ? "?" : ", ?";
    }
    sqlite3_stmt* st = nullptr;
    const std::string sql = fmt::format("INSERT INTO {} ({}) VALUES ({})", table, cols, params);
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) Fail(db_, path_, sql);
    it = cache_->inserts.emplace(std::string(table), Cache::Insert{st, std::move(columns)}).first;
  }
  sqlite3_stmt* st = it->second.st;
  const std::vector<TableColumn>& columns = it->second.columns;
  for (size_t i = 0; i < row.size(); ++i) {
    const int p = static_cast<int>(i) + 1;
    if (const auto* n = std::get_if<int64_t>(&row[i])) {
      sqlite3_bind_int64(st, p, *n);
    } else if (engine::IsNull(row[i])) {
      sqlite3_bind_null(st, p);
    } else {
      const std::string_view v = engine::TextOf(row[i]);
      if (columns[i].type == engine::ColumnType::kBlob) {
        sqlite3_bind_blob64(st, p, v.data(), v.size(), SQLITE_TRANSIENT);
      } else {
        sqlite3_bind_text64(st, p, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
      }
    }
  }
  const int rc = sqlite3_step(st);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  if (rc != SQLITE_DONE) Fail(db_, path_, fmt::format("inserting into {}", table));
}

void TableRows::RequestMirrorRegeneration() {
  Exec("INSERT INTO mirror_changes (kind, key1) VALUES ('gap', '')");
}

void TableRows::Commit() {
  Exec("COMMIT");
  open_txn_ = false;
}

}  // namespace prodigy::internal
