#include "raw_sqlite.h"

#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "sqlite/migrations.h"

namespace prodigy::bench {
namespace {

void BindText(sqlite3_stmt* s, int i, const std::string& v) {
  // The library binds empty extracted columns as NULL; do the same.
  if (v.empty())
    sqlite3_bind_null(s, i);
  else
    sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
}

}  // namespace

RawStore::RawStore(const std::filesystem::path& db_path, bool full_sync) {
  if (sqlite3_open_v2(db_path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    throw std::runtime_error(fmt::format("cannot open {}", db_path.string()));
  }
  sqlite3_busy_timeout(db_, 30000);
  // The settings of internal::Connection::Configure(), one for one.
  Exec("PRAGMA journal_mode=WAL");
  Exec(full_sync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
  Exec("PRAGMA cache_size=-16000");
  Exec("PRAGMA mmap_size=268435456");
  Exec("PRAGMA journal_size_limit=67108864");
  Exec("PRAGMA secure_delete=ON");
  Exec("PRAGMA foreign_keys=OFF");
  for (const auto& m : internal::Migrations()) {
    Exec("BEGIN IMMEDIATE");
    Exec(m.sql);
    Exec(fmt::format("PRAGMA user_version={}", m.version).c_str());
    Exec("COMMIT");
  }
  const char* sql =
      "INSERT INTO events (job_id, record_id, timestamp, ts_ns, event_type, event_name, event_job_id, "
      "agent_id, item_id, correlation_id, json, source_id, line_no) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &insert_, nullptr) != SQLITE_OK) {
    throw std::runtime_error(sqlite3_errmsg(db_));
  }
}

RawStore::~RawStore() { Close(); }

void RawStore::Close() {
  sqlite3_finalize(insert_);
  insert_ = nullptr;
  sqlite3_close(db_);
  db_ = nullptr;
}

void RawStore::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "?";
    sqlite3_free(err);
    throw std::runtime_error(fmt::format("{}: {}", sql, msg));
  }
}

void RawStore::Insert(std::span<const Event> rows) {
  Exec("BEGIN IMMEDIATE");
  for (const Event& e : rows) Add(e);
  Exec("COMMIT");
}

void RawStore::Add(const Event& e, int64_t source_id, int64_t line_no) {
  sqlite3_bind_text(insert_, 1, e.job_id.data(), static_cast<int>(e.job_id.size()), SQLITE_STATIC);
  BindText(insert_, 2, e.record_id);
  BindText(insert_, 3, e.timestamp);
  if (e.ts_ns)
    sqlite3_bind_int64(insert_, 4, *e.ts_ns);
  else
    sqlite3_bind_null(insert_, 4);
  BindText(insert_, 5, e.event_type);
  BindText(insert_, 6, e.event_name);
  BindText(insert_, 7, e.event_job_id);
  BindText(insert_, 8, e.agent_id);
  BindText(insert_, 9, e.item_id);
  BindText(insert_, 10, e.correlation_id);
  sqlite3_bind_text(insert_, 11, e.json.data(), static_cast<int>(e.json.size()), SQLITE_STATIC);
  for (const auto& [col, v] : {std::pair{12, source_id}, std::pair{13, line_no}}) {
    if (v)
      sqlite3_bind_int64(insert_, col, v);
    else
      sqlite3_bind_null(insert_, col);
  }
  if (sqlite3_step(insert_) != SQLITE_DONE) throw std::runtime_error(sqlite3_errmsg(db_));
  sqlite3_reset(insert_);
}

}  // namespace prodigy::bench
