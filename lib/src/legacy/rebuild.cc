#include "legacy/rebuild.h"

#include <fmt/format.h>

#include "util/sha256.h"

namespace prodigy::internal::legacy {
namespace {

bool IsLineSource(const LedgerRow& row) { return row.kind == "events" || row.kind == "events_archive"; }

std::string_view ColumnBytes(const SQLite::Column& c) {
  return std::string_view(static_cast<const char*>(c.getBlob()), static_cast<size_t>(c.getBytes()));
}

// Whether the single line_no 0 row (a whole document, or an archive's damage
// note) exists.
bool HasLineZero(Connection& conn, int64_t source_id) {
  SQLite::Statement& q = conn.Prepare("SELECT 1 FROM unparsed_lines WHERE source_id = ?1 AND line_no = 0");
  q.bind(1, source_id);
  const bool found = q.executeStep();
  q.reset();
  return found;
}

std::string StreamBlob(Connection& conn, const LedgerRow& row, const ByteSink& sink) {
  SQLite::Statement& q = conn.Prepare("SELECT chunk, data FROM source_blobs WHERE source_id = ?1 ORDER BY chunk");
  q.bind(1, row.id);
  int64_t expected = 0;
  std::string problem;
  while (q.executeStep()) {
    if (q.getColumn(0).getInt64() != expected++) {
      problem = fmt::format("chunk {} of the kept bytes is missing", expected - 1);
      break;
    }
    sink(ColumnBytes(q.getColumn(1)));
  }
  q.reset();
  if (problem.empty() && expected == 0 && row.bytes > 0) problem = "the kept bytes are missing";
  return problem;
}

// The lines of a line source, merged in line order from events (by the seq
// range the import wrote) and unparsed_lines.
std::string StreamLines(Connection& conn, const LedgerRow& row, const ByteSink& sink) {
  SQLite::Statement& ev = conn.Prepare(
      "SELECT line_no, json FROM events WHERE seq BETWEEN ?1 AND ?2 AND source_id = ?3 ORDER BY seq");
  ev.bind(1, row.first_seq.value_or(1));
  ev.bind(2, row.last_seq.value_or(0));
  ev.bind(3, row.id);
  SQLite::Statement& un =
      conn.Prepare("SELECT line_no, raw FROM unparsed_lines WHERE source_id = ?1 AND line_no > 0 ORDER BY line_no");
  un.bind(1, row.id);
  bool ev_has = ev.executeStep();
  bool un_has = un.executeStep();
  int64_t line_no = 0;
  std::string problem;
  bool pending_newline = false;
  while (ev_has || un_has) {
    const int64_t ev_line = ev_has ? ev.getColumn(0).getInt64() : INT64_MAX;
    const int64_t un_line = un_has ? un.getColumn(0).getInt64() : INT64_MAX;
    const bool take_ev = ev_line < un_line;
    const int64_t next = take_ev ? ev_line : un_line;
    if (next != line_no + 1) {
      problem = fmt::format("line {} is missing from the database", line_no + 1);
      break;
    }
    line_no = next;
    if (pending_newline) sink("\n");
    if (take_ev) {
      sink(ColumnBytes(ev.getColumn(1)));
      ev_has = ev.executeStep();
    } else {
      sink(ColumnBytes(un.getColumn(1)));
      un_has = un.executeStep();
    }
    pending_newline = true;
  }
  ev.reset();
  un.reset();
  if (problem.empty() && pending_newline && row.final_newline) sink("\n");
  return problem;
}

std::string StreamDocument(Connection& conn, const LedgerRow& row, const ByteSink& sink) {
  if (HasBlob(conn, row.id)) return StreamBlob(conn, row, sink);
  {
    SQLite::Statement& q = conn.Prepare("SELECT raw FROM unparsed_lines WHERE source_id = ?1 AND line_no = 0");
    q.bind(1, row.id);
    if (q.executeStep()) {
      sink(ColumnBytes(q.getColumn(0)));
      q.reset();
      return {};
    }
    q.reset();
  }
  const char* sql = nullptr;
  if (row.row_table == "dlq_items") sql = "SELECT json FROM dlq_items WHERE job_id = ?1 AND item_id = ?2";
  else if (row.row_table == "job_states") sql = "SELECT json FROM job_states WHERE job_id = ?1 AND version = ?2";
  else if (row.row_table == "sessions") sql = "SELECT json FROM sessions WHERE session_id = ?1";
  else if (row.row_table == "workflow_checkpoints") sql = "SELECT json FROM workflow_checkpoints WHERE workflow_id = ?1";
  if (sql == nullptr) return "the document is missing from the database";
  SQLite::Statement& q = conn.Prepare(sql);
  q.bind(1, row.row_key1);
  if (row.row_table == "job_states") q.bind(2, static_cast<int64_t>(std::stoll(row.row_key2)));
  else if (row.row_table == "dlq_items") q.bind(2, row.row_key2);
  std::string problem;
  if (q.executeStep()) sink(ColumnBytes(q.getColumn(0)));
  else problem = fmt::format("{} row {}{}{} no longer exists", row.row_table, row.row_key1,
                             row.row_key2.empty() ? "" : " / ", row.row_key2);
  q.reset();
  return problem;
}

}  // namespace

std::string RebuildSource(Connection& conn, const LedgerRow& row, const ByteSink& sink) {
  if (row.kind == "events_archive") return StreamBlob(conn, row, sink);
  if (IsLineSource(row)) return StreamLines(conn, row, sink);
  return StreamDocument(conn, row, sink);
}

RowCounts CountRows(Connection& conn, const LedgerRow& row) {
  RowCounts c;
  if (IsLineSource(row)) {
    SQLite::Statement& ev =
        conn.Prepare("SELECT count(*) FROM events WHERE seq BETWEEN ?1 AND ?2 AND source_id = ?3");
    ev.bind(1, row.first_seq.value_or(1));
    ev.bind(2, row.last_seq.value_or(0));
    ev.bind(3, row.id);
    ev.executeStep();
    c.rows = ev.getColumn(0).getInt64();
    ev.reset();
    SQLite::Statement& un = conn.Prepare("SELECT count(*) FROM unparsed_lines WHERE source_id = ?1");
    un.bind(1, row.id);
    un.executeStep();
    c.unparsed = un.getColumn(0).getInt64();
    un.reset();
    return c;
  }
  if (HasLineZero(conn, row.id)) {
    c.unparsed = 1;
    return c;
  }
  bool present = HasBlob(conn, row.id);
  if (!present) {
    present = RebuildSource(conn, row, [](std::string_view) {}).empty();
  }
  c.rows = present ? 1 : 0;
  return c;
}

std::string ProveFromDatabase(Connection& conn, const LedgerRow& row) {
  const RowCounts counts = CountRows(conn, row);
  if (counts.rows != row.rows || counts.unparsed != row.unparsed) {
    return fmt::format("the database holds {} rows and {} unparsed lines of it, the file gave {} and {}",
                       counts.rows, counts.unparsed, row.rows, row.unparsed);
  }
  Sha256 sha;
  uint64_t bytes = 0;
  std::string problem = RebuildSource(conn, row, [&](std::string_view data) {
    sha.Update(data);
    bytes += data.size();
  });
  if (!problem.empty()) return problem;
  const std::string rebuilt = sha.FinalHex();
  if (rebuilt != row.sha256 || bytes != row.bytes) {
    return fmt::format("the bytes rebuilt from the database ({} bytes, SHA-256 {}) differ from the original "
                       "({} bytes, SHA-256 {})",
                       bytes, rebuilt, row.bytes, row.sha256);
  }
  if (row.kind == "events_archive") {
    Sha256 content;
    problem = StreamLines(conn, row, [&](std::string_view data) { content.Update(data); });
    if (!problem.empty()) return problem;
    if (content.FinalHex() != row.content_sha256) {
      return "the archive's lines rebuilt from the database differ from its decompressed content";
    }
  }
  return {};
}

}  // namespace prodigy::internal::legacy
