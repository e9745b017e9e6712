#include "sqlite/salvage.h"

#include <sqlite3.h>

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "sqlite/snapshot.h"

namespace prodigy::internal {

namespace fs = std::filesystem;

std::string SqlValue::Text() const {
  switch (type) {
    case kNull:
      return "";
    case kInteger:
      return std::to_string(integer);
    case kFloat:
      return fmt::format("{}", real);
    default:
      return bytes;
  }
}

std::optional<int64_t> SqlValue::Int() const {
  if (type == kInteger) return integer;
  return std::nullopt;
}

namespace {

SqlValue ReadValue(sqlite3_stmt* st, int i) {
  SqlValue v;
  switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER:
      v.type = SqlValue::kInteger;
      v.integer = sqlite3_column_int64(st, i);
      break;
    case SQLITE_FLOAT:
      v.type = SqlValue::kFloat;
      v.real = sqlite3_column_double(st, i);
      break;
    case SQLITE_TEXT:
      v.type = SqlValue::kText;
      v.bytes.assign(reinterpret_cast<const char*>(sqlite3_column_text(st, i)),
                     static_cast<size_t>(sqlite3_column_bytes(st, i)));
      break;
    case SQLITE_BLOB: {
      v.type = SqlValue::kBlob;
      const void* p = sqlite3_column_blob(st, i);
      if (p) v.bytes.assign(static_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(st, i)));
      break;
    }
    default:
      break;
  }
  return v;
}

void BindValue(SQLite::Statement& s, int index, const SqlValue& v) {
  switch (v.type) {
    case SqlValue::kNull:
      s.bind(index);
      break;
    case SqlValue::kInteger:
      s.bind(index, static_cast<int64_t>(v.integer));
      break;
    case SqlValue::kFloat:
      s.bind(index, v.real);
      break;
    case SqlValue::kText:
      s.bind(index, v.bytes);
      break;
    case SqlValue::kBlob:
      s.bind(index, v.bytes.data(), static_cast<int>(v.bytes.size()));
      break;
  }
}

// One scan: appends rows to `out` until the end or an error; returns the
// error text (empty when the scan finished). `seen` stops a reverse scan
// at rows the forward scan already read.
struct Scan {
  sqlite3* db;
  const SalvagedTable& t;
  std::string Run(const std::string& sql, const std::vector<int64_t>& binds, std::set<std::string>* seen,
                  std::vector<std::vector<SqlValue>>* out) {
    sqlite3_stmt* st = nullptr;
    int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr);
    if (rc != SQLITE_OK) {
      std::string error = sqlite3_errmsg(db);
      sqlite3_finalize(st);
      return error;
    }
    for (size_t i = 0; i < binds.size(); ++i) sqlite3_bind_int64(st, static_cast<int>(i + 1), binds[i]);
    const int n = static_cast<int>(t.columns.size());
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      std::vector<SqlValue> row;
      row.reserve(static_cast<size_t>(n) + 1);
      for (int i = 0; i < n + 1; ++i) row.push_back(ReadValue(st, i));
      // The key (last selected column) identifies the row across scans.
      const std::string key = row.back().Text() + '\x1f' + std::to_string(row.back().type);
      row.pop_back();
      if (seen && !seen->insert(key).second) break;
      out->push_back(std::move(row));
    }
    std::string error;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) error = sqlite3_errmsg(db);
    sqlite3_finalize(st);
    return error;
  }
};

// "job_id, item_id" -> {"job_id", "item_id"}.
std::vector<std::string> SplitKey(const std::string& key) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= key.size()) {
    size_t end = key.find(',', start);
    if (end == std::string::npos) end = key.size();
    std::string part = key.substr(start, end - start);
    part.erase(0, part.find_first_not_of(' '));
    parts.push_back(part);
    start = end + 1;
  }
  return parts;
}

}  // namespace

SalvagedTable SalvageTable(const fs::path& db, const std::string& table,
                           const std::vector<std::string>& columns, const std::string& key,
                           bool integer_key) {
  SalvagedTable t;
  t.table = table;
  t.columns = columns;
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(db.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    t.problems.push_back(fmt::format("{}: the damaged database cannot be opened: {}", table,
                                     raw ? sqlite3_errmsg(raw) : "out of memory"));
    sqlite3_close_v2(raw);
    return t;
  }
  std::string list;
  for (const std::string& c : columns) list += (list.empty() ? "" : ", ") + c;
  // The row's identity across scans: the key columns quoted into one value.
  std::string ident;
  std::string desc_key;
  for (const std::string& part : SplitKey(key)) {
    ident += (ident.empty() ? "" : " || char(31) || ") + fmt::format("quote({})", part);
    desc_key += (desc_key.empty() ? "" : ", ") + part + " DESC";
  }
  const std::string base = fmt::format("SELECT {}, {} FROM {}", list, ident, table);
  Scan scan{raw, t};
  std::set<std::string> seen;
  std::vector<std::vector<SqlValue>> forward;
  const std::string error = scan.Run(base + " ORDER BY " + key, {}, &seen, &forward);
  if (error.empty()) {
    t.rows = std::move(forward);
    t.complete = true;
    sqlite3_close_v2(raw);
    return t;
  }
  t.problems.push_back(
      fmt::format("{}: reading in key order stopped after {} rows: {}", table, forward.size(), error));
  std::vector<std::vector<SqlValue>> backward;
  const std::string back_error = scan.Run(base + " ORDER BY " + desc_key, {}, &seen, &backward);
  std::vector<std::vector<SqlValue>> middle;
  if (integer_key && !back_error.empty()) {
    // Probe the gap between the two scans with growing steps (a damaged
    // interior page can stop both scans at once).
    const int64_t lo = forward.empty() ? 0 : forward.back()[0].Int().value_or(0);
    const int64_t hi = backward.empty() ? INT64_MAX : backward.back()[0].Int().value_or(INT64_MAX);
    int64_t step = 1;
    int64_t last_read = lo;
    for (int64_t start = lo; start < hi && start >= lo;) {
      std::vector<std::vector<SqlValue>> got;
      scan.Run(base + fmt::format(" WHERE {0} > ?1 AND {0} < ?2 ORDER BY {0}", key), {start, hi}, &seen,
               &got);
      if (!got.empty()) {
        // A probe that jumped past the damage may have skipped readable rows
        // before its first one: read back down towards the damage.
        const int64_t first = got.front()[0].Int().value_or(start);
        if (start > last_read) {
          scan.Run(base + fmt::format(" WHERE {0} > ?1 AND {0} < ?2 ORDER BY {1}", key, desc_key),
                   {last_read, first}, &seen, &middle);
        }
        start = got.back()[0].Int().value_or(hi);
        last_read = start;
        for (auto& row : got) middle.push_back(std::move(row));
        step = 1;
      } else {
        if (step > (INT64_MAX >> 2)) break;
        start += step;
        step *= 2;
      }
    }
  }
  if (!back_error.empty() && backward.empty() && middle.empty()) {
    t.problems.push_back(
        fmt::format("{}: reading in reverse key order found nothing more: {}", table, back_error));
  }
  t.rows = std::move(forward);
  for (auto& row : middle) t.rows.push_back(std::move(row));
  for (auto it = backward.rbegin(); it != backward.rend(); ++it) t.rows.push_back(std::move(*it));
  if (integer_key) {
    std::stable_sort(t.rows.begin(), t.rows.end(), [](const auto& a, const auto& b) {
      return a[0].Int().value_or(0) < b[0].Int().value_or(0);
    });
  }
  sqlite3_close_v2(raw);
  return t;
}

std::vector<std::string> TableColumns(Connection& conn, const std::string& table) {
  return conn.Read([&] {
    std::vector<std::string> out;
    SQLite::Statement q(conn.db(), "SELECT name FROM pragma_table_info(?1) ORDER BY cid");
    q.bind(1, table);
    while (q.executeStep()) out.push_back(q.getColumn(0).getString());
    return out;
  });
}

int64_t InsertRawRows(Connection& conn, const std::string& table, const std::vector<std::string>& columns,
                      const std::vector<std::vector<SqlValue>>& rows) {
  std::string names;
  std::string params;
  for (size_t i = 0; i < columns.size(); ++i) {
    names += (i ? ", " : "") + columns[i];
    params += fmt::format("{}?{}", i ? ", " : "", i + 1);
  }
  SQLite::Statement s(conn.db(),
                      fmt::format("INSERT OR IGNORE INTO {} ({}) VALUES ({})", table, names, params));
  int64_t inserted = 0;
  for (const auto& row : rows) {
    s.reset();
    s.clearBindings();
    for (size_t i = 0; i < row.size() && i < columns.size(); ++i)
      BindValue(s, static_cast<int>(i + 1), row[i]);
    inserted += s.exec();
  }
  return inserted;
}

void MoveEventSeq(Connection& conn, int64_t from, int64_t to) {
  if (from == to) return;
  SQLite::Statement& s = conn.Prepare("UPDATE events SET seq = ?2 WHERE seq = ?1");
  s.bind(1, static_cast<int64_t>(from));
  s.bind(2, static_cast<int64_t>(to));
  s.exec();
}

}  // namespace prodigy::internal
