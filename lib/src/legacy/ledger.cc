#include "legacy/ledger.h"

#include <memory>

#include <fmt/format.h>

#include "prodigy/storage.h"
#include "store/rows.h"

namespace prodigy::internal::legacy {
namespace {

constexpr const char* kColumns =
    "id, path, legacy_root, rel_path, kind, job_id, bytes, sha256, mtime_ns, inode, rows, unparsed, "
    "final_newline, content_sha256, first_seq, last_seq, row_table, row_key1, row_key2, status, note, "
    "imported_at, verified_at, removed_at";

LedgerRow ReadRow(SQLite::Statement& s) {
  LedgerRow r;
  r.id = s.getColumn(0).getInt64();
  r.path = ColumnText(s, 1);
  r.legacy_root = ColumnText(s, 2);
  r.rel_path = ColumnText(s, 3);
  r.kind = ColumnText(s, 4);
  r.job_id = ColumnText(s, 5);
  r.bytes = static_cast<uint64_t>(s.getColumn(6).getInt64());
  r.sha256 = ColumnText(s, 7);
  r.mtime_ns = ColumnOptInt(s, 8).value_or(0);
  r.inode = static_cast<uint64_t>(ColumnOptInt(s, 9).value_or(0));
  r.rows = s.getColumn(10).getInt64();
  r.unparsed = s.getColumn(11).getInt64();
  r.final_newline = ColumnOptInt(s, 12).value_or(1) != 0;
  r.content_sha256 = ColumnText(s, 13);
  r.first_seq = ColumnOptInt(s, 14);
  r.last_seq = ColumnOptInt(s, 15);
  r.row_table = ColumnText(s, 16);
  r.row_key1 = ColumnText(s, 17);
  r.row_key2 = ColumnText(s, 18);
  r.status = ColumnText(s, 19);
  r.note = ColumnText(s, 20);
  r.imported_at = ColumnText(s, 21);
  r.verified_at = ColumnText(s, 22);
  r.removed_at = ColumnText(s, 23);
  return r;
}

void BindText(SQLite::Statement& s, int i, const std::string& v) {
  if (v.empty()) s.bind(i); else s.bind(i, v);
}
void BindInt(SQLite::Statement& s, int i, const std::optional<int64_t>& v) {
  if (v) s.bind(i, static_cast<int64_t>(*v)); else s.bind(i);
}

// Binds every column but id (parameters 1..23 in kColumns order after id).
void BindRow(SQLite::Statement& s, const LedgerRow& r) {
  s.bind(1, r.path);
  s.bind(2, r.legacy_root);
  s.bind(3, r.rel_path);
  s.bind(4, r.kind);
  BindText(s, 5, r.job_id);
  s.bind(6, static_cast<int64_t>(r.bytes));
  s.bind(7, r.sha256);
  s.bind(8, r.mtime_ns);
  s.bind(9, static_cast<int64_t>(r.inode));
  s.bind(10, r.rows);
  s.bind(11, r.unparsed);
  s.bind(12, r.final_newline ? 1 : 0);
  BindText(s, 13, r.content_sha256);
  BindInt(s, 14, r.first_seq);
  BindInt(s, 15, r.last_seq);
  BindText(s, 16, r.row_table);
  BindText(s, 17, r.row_key1);
  BindText(s, 18, r.row_key2);
  s.bind(19, r.status);
  BindText(s, 20, r.note);
  s.bind(21, r.imported_at);
  BindText(s, 22, r.verified_at);
  BindText(s, 23, r.removed_at);
}

const std::string& SelectByPath() {
  static const std::string sql = fmt::format("SELECT {} FROM import_sources WHERE path = ?1 ORDER BY id", kColumns);
  return sql;
}

}  // namespace

std::vector<LedgerRow> LedgerByPath(Connection& conn, const std::string& path) {
  SQLite::Statement& q = conn.Prepare(SelectByPath().c_str());
  q.bind(1, path);
  std::vector<LedgerRow> out;
  while (q.executeStep()) out.push_back(ReadRow(q));
  q.reset();
  return out;
}

std::optional<LedgerRow> LedgerById(Connection& conn, int64_t id) {
  static const std::string sql = fmt::format("SELECT {} FROM import_sources WHERE id = ?1", kColumns);
  SQLite::Statement& q = conn.Prepare(sql.c_str());
  q.bind(1, id);
  std::optional<LedgerRow> out;
  if (q.executeStep()) out = ReadRow(q);
  q.reset();
  return out;
}

std::vector<LedgerRow> LedgerAll(Connection& conn) {
  static const std::string sql = fmt::format("SELECT {} FROM import_sources ORDER BY id", kColumns);
  SQLite::Statement& q = conn.Prepare(sql.c_str());
  std::vector<LedgerRow> out;
  while (q.executeStep()) out.push_back(ReadRow(q));
  q.reset();
  return out;
}

int64_t LedgerInsert(WriteTxn& txn, const LedgerRow& row) {
  static const std::string sql = fmt::format(
      "INSERT INTO import_sources ({}) VALUES (NULL, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
      "?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)",
      kColumns);
  SQLite::Statement& s = txn.Prepare(sql.c_str());
  BindRow(s, row);
  s.exec();
  return txn.conn().db().getLastInsertRowid();
}

void LedgerUpdate(WriteTxn& txn, const LedgerRow& row) {
  SQLite::Statement& s = txn.Prepare(
      "UPDATE import_sources SET path = ?1, legacy_root = ?2, rel_path = ?3, kind = ?4, job_id = ?5, "
      "bytes = ?6, sha256 = ?7, mtime_ns = ?8, inode = ?9, rows = ?10, unparsed = ?11, final_newline = ?12, "
      "content_sha256 = ?13, first_seq = ?14, last_seq = ?15, row_table = ?16, row_key1 = ?17, "
      "row_key2 = ?18, status = ?19, note = ?20, imported_at = ?21, verified_at = ?22, removed_at = ?23 "
      "WHERE id = ?24");
  BindRow(s, row);
  s.bind(24, row.id);
  s.exec();
}

void LedgerSetStatus(WriteTxn& txn, int64_t id, const char* status) {
  SQLite::Statement& s = txn.Prepare(
      "UPDATE import_sources SET status = ?2, "
      "verified_at = CASE WHEN ?2 = 'verified' THEN ?3 ELSE verified_at END, "
      "removed_at = CASE WHEN ?2 = 'removed' THEN ?3 ELSE removed_at END WHERE id = ?1");
  s.bind(1, id);
  s.bind(2, status);
  s.bind(3, FormatTimestamp(NowNs()));
  s.exec();
}

void LedgerDeleteWithRows(WriteTxn& txn, const LedgerRow& row) {
  if (row.first_seq && row.last_seq) {
    SQLite::Statement& e =
        txn.Prepare("DELETE FROM events WHERE seq BETWEEN ?1 AND ?2 AND source_id = ?3 RETURNING job_id");
    e.bind(1, *row.first_seq);
    e.bind(2, *row.last_seq);
    e.bind(3, row.id);
    std::string job;
    while (e.executeStep()) job = e.getColumn(0).getString();
    e.reset();
    // A rewrite, not an append: the mirror file must lose these lines.
    if (!job.empty()) LogChange(txn, kChangeEventsRewrite, job);
  }
  for (const char* sql : {"DELETE FROM unparsed_lines WHERE source_id = ?1",
                          "DELETE FROM source_blobs WHERE source_id = ?1",
                          "DELETE FROM import_sources WHERE id = ?1"}) {
    SQLite::Statement& d = txn.Prepare(sql);
    d.bind(1, row.id);
    d.exec();
  }
}

void DetachDocumentRow(WriteTxn& txn, const LedgerRow& row) {
  const char* sql = nullptr;
  if (row.row_table == "dlq_items") {
    sql = "UPDATE dlq_items SET source_id = NULL WHERE job_id = ?1 AND item_id = ?2 AND source_id = ?3";
  } else if (row.row_table == "job_states") {
    sql = "UPDATE job_states SET source_id = NULL WHERE job_id = ?1 AND version = ?2 AND source_id = ?3";
  } else if (row.row_table == "sessions") {
    sql = "UPDATE sessions SET source_id = NULL WHERE session_id = ?1 AND ?2 IS NULL AND source_id = ?3";
  } else if (row.row_table == "workflow_checkpoints") {
    sql = "UPDATE workflow_checkpoints SET source_id = NULL WHERE workflow_id = ?1 AND ?2 IS NULL AND source_id = ?3";
  }
  if (sql == nullptr) return;
  SQLite::Statement& s = txn.Prepare(sql);
  s.bind(1, row.row_key1);
  if (row.row_table == "job_states") s.bind(2, static_cast<int64_t>(std::stoll(row.row_key2)));
  else if (row.row_table == "dlq_items") s.bind(2, row.row_key2);
  else s.bind(2);
  s.bind(3, row.id);
  s.exec();
}

void AppendBlob(WriteTxn& txn, int64_t source_id, int64_t chunk, std::string_view data) {
  SQLite::Statement& s = txn.Prepare("INSERT INTO source_blobs (source_id, chunk, data) VALUES (?1, ?2, ?3)");
  s.bind(1, source_id);
  s.bind(2, chunk);
  s.bindNoCopy(3, static_cast<const void*>(data.empty() ? "" : data.data()), static_cast<int>(data.size()));
  s.exec();
}

bool HasBlob(Connection& conn, int64_t source_id) {
  SQLite::Statement& q = conn.Prepare("SELECT 1 FROM source_blobs WHERE source_id = ?1 LIMIT 1");
  q.bind(1, source_id);
  const bool found = q.executeStep();
  q.reset();
  return found;
}

std::string ReadMeta(Connection& conn, const char* key) {
  SQLite::Statement& q = conn.Prepare("SELECT value FROM meta WHERE key = ?1");
  q.bind(1, key);
  std::string out;
  if (q.executeStep()) out = ColumnText(q, 0);
  q.reset();
  return out;
}

void WriteMeta(WriteTxn& txn, const char* key, const std::string& value) {
  SQLite::Statement& s = txn.Prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)");
  s.bind(1, key);
  s.bind(2, value);
  s.exec();
}

ScopedNoMmap::ScopedNoMmap(Connection& conn) : conn_(conn) {
  conn_.Read([&] {
    saved_ = conn_.db().execAndGet("PRAGMA mmap_size").getInt64();
    conn_.db().exec("PRAGMA mmap_size=0");
  });
}

ScopedNoMmap::~ScopedNoMmap() {
  try {
    conn_.db().exec(fmt::format("PRAGMA mmap_size={}", saved_));
  } catch (...) {
    // Only a performance setting; the connection keeps working without it.
  }
}

struct ReadOnlyLedger::Db {
  std::unique_ptr<SQLite::Database> db;
};

ReadOnlyLedger::ReadOnlyLedger(const std::filesystem::path& db_path) : db_(new Db) {
  std::error_code ec;
  if (!std::filesystem::exists(db_path, ec)) return;
  try {
    db_->db = std::make_unique<SQLite::Database>(ReadOnlyUri(db_path), SQLite::OPEN_READONLY | SQLite::OPEN_URI);
    db_->db->setBusyTimeout(5000);
  } catch (const SQLite::Exception&) {
    db_->db.reset();  // not readable: the plan then assumes nothing was imported
  }
}

ReadOnlyLedger::~ReadOnlyLedger() { delete db_; }

std::vector<LedgerRow> ReadOnlyLedger::ByPath(const std::string& path) {
  std::vector<LedgerRow> out;
  if (!db_->db) return out;
  try {
    SQLite::Statement q(*db_->db, SelectByPath());
    q.bind(1, path);
    while (q.executeStep()) out.push_back(ReadRow(q));
  } catch (const SQLite::Exception&) {
    out.clear();  // an older schema without the ledger: nothing was imported
  }
  return out;
}

}  // namespace prodigy::internal::legacy
