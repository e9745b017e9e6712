#include "store/rows.h"

#include <cstdint>
#include <cstring>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "prodigy/storage.h"
#include "store/event_scan.h"

namespace prodigy::internal {
namespace {

using Json = nlohmann::ordered_json;

Json Parse(std::string_view json, const std::string& what) {
  try {
    Json j = Json::parse(json.begin(), json.end());
    if (!j.is_object()) {
      throw Error(ErrorCode::kInvalidArgument,
                  fmt::format("{}: the document must be a JSON object, not {}", what, j.type_name()));
    }
    return j;
  } catch (const Json::parse_error& e) {
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("{}: invalid JSON at byte {}: {}", what, e.byte, e.what()));
  } catch (const Json::exception& e) {
    // A number too large for a double is an out_of_range error, not a parse_error.
    throw Error(ErrorCode::kInvalidArgument, fmt::format("{}: invalid JSON: {}", what, e.what()));
  }
}

std::string Str(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int64_t Int(const Json& j, const char* key, int64_t fallback = 0) {
  auto it = j.find(key);
  if (it == j.end()) return fallback;
  if (it->is_number_integer() || it->is_number_unsigned()) return it->get<int64_t>();
  return fallback;
}

bool Bool(const Json& j, const char* key, bool fallback = false) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

const std::string& RequireString(const Json& j, const char* key, const std::string& what) {
  auto it = j.find(key);
  if (it == j.end()) {
    throw Error(ErrorCode::kInvalidArgument, fmt::format("{}: required field \"{}\" is missing", what, key));
  }
  if (!it->is_string()) {
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("{}: field \"{}\" must be a string, not {}", what, key, it->type_name()));
  }
  return it->get_ref<const std::string&>();
}

int64_t RequireTimestamp(const Json& j, const char* key, const std::string& what) {
  const std::string& text = RequireString(j, key, what);
  auto ns = ParseTimestamp(text);
  if (!ns) {
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("{}: field \"{}\" is not an RFC 3339 timestamp: \"{}\"", what, key, text));
  }
  return *ns;
}

void BindOpt(SQLite::Statement& s, int index, const std::string& v) {
  if (v.empty()) s.bind(index); else s.bind(index, v);
}
void BindOpt(SQLite::Statement& s, int index, const std::optional<int64_t>& v) {
  if (v) s.bind(index, static_cast<int64_t>(*v)); else s.bind(index);
}
void BindOpt(SQLite::Statement& s, int index, const std::optional<std::string>& v) {
  if (v) s.bind(index, *v); else s.bind(index);
}


}  // namespace

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    // Skip ASCII 8 bytes at a time: the importer checks every line of a log.
    for (uint64_t w; i + 8 <= s.size(); i += 8) {
      std::memcpy(&w, s.data() + i, 8);
      if (w & 0x8080808080808080ULL) break;
    }
    if (i >= s.size()) break;
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n;
    if (c < 0x80) n = 0;
    else if ((c >> 5) == 0x6 && c >= 0xC2) n = 1;
    else if ((c >> 4) == 0xE) n = 2;
    else if ((c >> 3) == 0x1E && c <= 0xF4) n = 3;
    else return false;
    if (i + n >= s.size() && n > 0) return false;
    for (size_t k = 1; k <= n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return false;
    }
    // The second byte also rules out overlong forms, UTF-16 surrogates and
    // code points above U+10FFFF (RFC 3629 table).
    const unsigned char c1 = n > 0 ? static_cast<unsigned char>(s[i + 1]) : 0x80;
    if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 > 0x9F) || (c == 0xF0 && c1 < 0x90) ||
        (c == 0xF4 && c1 > 0x8F)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

void ValidateId(std::string_view what, std::string_view id) {
  if (id.empty()) {
    throw Error(ErrorCode::kInvalidArgument, fmt::format("{} is empty; give a non-empty id", what));
  }
  if (id.size() > 4096) {
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("{} is {} bytes long; ids are limited to 4096 bytes", what, id.size()));
  }
  if (id.find('\0') != std::string_view::npos) {
    throw Error(ErrorCode::kInvalidArgument, fmt::format("{} contains a NUL byte", what));
  }
  if (!IsValidUtf8(id)) {
    throw Error(ErrorCode::kInvalidArgument, fmt::format("{} is not valid UTF-8", what));
  }
}

Event ExtractEvent(std::string_view job_id, std::string_view json) {
  // Nearly every record takes the fast path; anything unusual, and every
  // error, goes through nlohmann/json.
  if (std::optional<Event> e = ScanEventRecord(job_id, json)) return std::move(*e);
  return ExtractEventGeneral(job_id, json);
}

Event ExtractEventGeneral(std::string_view job_id, std::string_view json) {
  const std::string what = fmt::format("event for job {}", job_id);
  Json j = Parse(json, what);
  Event e;
  e.job_id = std::string(job_id);
  e.record_id = RequireString(j, "id", what);
  e.timestamp = RequireString(j, "timestamp", what);
  e.ts_ns = RequireTimestamp(j, "timestamp", what);
  auto ev = j.find("event");
  if (ev == j.end() || !ev->is_object()) {
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("{} (record {}): required object \"event\" is missing", what, e.record_id));
  }
  e.event_type = RequireString(*ev, "event_type", fmt::format("{} (record {}) event", what, e.record_id));
  e.event_name = NormalizeEventType(e.event_type);
  e.event_job_id = Str(*ev, "job_id");
  e.agent_id = Str(*ev, "agent_id");
  e.item_id = Str(*ev, "item_id");
  e.correlation_id = Str(j, "correlation_id");
  if (json.find_first_of("\r\n") != std::string_view::npos) {
    e.json = j.dump();  // JSONL needs one line; only insignificant whitespace changes
  } else {
    e.json = std::string(json);
  }
  return e;
}

DlqItem ExtractDlqItem(std::string_view job_id, std::string_view json) {
  const std::string what = fmt::format("DLQ item of job {}", job_id);
  Json j = Parse(json, what);
  DlqItem d;
  d.job_id = std::string(job_id);
  d.item_id = RequireString(j, "item_id", what);
  ValidateId(fmt::format("{}: item_id", what), d.item_id);
  const std::string item_what = fmt::format("DLQ item {} of job {}", d.item_id, job_id);
  d.first_attempt = RequireString(j, "first_attempt", item_what);
  RequireTimestamp(j, "first_attempt", item_what);
  d.last_attempt = RequireString(j, "last_attempt", item_what);
  d.last_attempt_ns = RequireTimestamp(j, "last_attempt", item_what);
  d.failure_count = Int(j, "failure_count");
  d.error_signature = Str(j, "error_signature");
  d.reprocess_eligible = Bool(j, "reprocess_eligible");
  d.manual_review_required = Bool(j, "manual_review_required");
  auto hist = j.find("failure_history");
  if (hist != j.end() && hist->is_array() && !hist->empty()) {
    const Json& last = hist->back();
    auto et = last.find("error_type");
    if (et != last.end()) {
      if (et->is_string()) d.error_type = et->get<std::string>();
      else if (et->is_object() && !et->empty()) d.error_type = et->begin().key();
    }
  }
  d.json = std::string(json);
  return d;
}

JobState ExtractJobState(std::string_view job_id, std::string_view json) {
  const std::string what = fmt::format("state of job {}", job_id);
  Json j = Parse(json, what);
  const std::string& doc_job = RequireString(j, "job_id", what);
  if (doc_job != job_id) {
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("{}: the document's job_id is \"{}\"; write it under that job", what, doc_job));
  }
  auto v = j.find("checkpoint_version");
  if (v == j.end() || !(v->is_number_unsigned() || (v->is_number_integer() && v->get<int64_t>() >= 0))) {
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("{}: required field \"checkpoint_version\" (a non-negative integer) is "
                            "missing or invalid", what));
  }
  JobState s;
  s.job_id = std::string(job_id);
  s.version = v->get<int64_t>();
  s.is_complete = Bool(j, "is_complete");
  s.total_items = Int(j, "total_items");
  s.successful_count = Int(j, "successful_count");
  s.failed_count = Int(j, "failed_count");
  s.updated_at = Str(j, "updated_at");
  s.json = std::string(json);
  return s;
}

Session ExtractSession(std::string_view json) {
  Json j = Parse(json, "session");
  Session s;
  if (j.contains("session_id")) {
    s.session_id = RequireString(j, "session_id", "session");
  } else if (j.contains("id")) {
    s.session_id = RequireString(j, "id", "session");
  } else {
    throw Error(ErrorCode::kInvalidArgument,
                "session: required field \"session_id\" (or \"id\" for a unified session) is missing");
  }
  ValidateId("session id", s.session_id);
  auto st = j.find("status");
  if (st != j.end()) {
    if (st->is_string()) s.status = st->get<std::string>();
    else if (st->is_object() && !st->empty()) s.status = st->begin().key();
  }
  s.started_at = Str(j, "started_at");
  s.ended_at = Str(j, "ended_at");
  if (s.ended_at.empty()) s.ended_at = Str(j, "completed_at");
  s.working_directory = Str(j, "working_directory");
  s.json = std::string(json);
  return s;
}

WorkflowCheckpoint ExtractCheckpoint(std::string_view json) {
  Json j = Parse(json, "workflow checkpoint");
  WorkflowCheckpoint c;
  c.workflow_id = RequireString(j, "workflow_id", "workflow checkpoint");
  ValidateId("workflow id", c.workflow_id);
  auto es = j.find("execution_state");
  if (es != j.end() && es->is_object()) {
    c.status = Str(*es, "status");
    c.current_step_index = Int(*es, "current_step_index");
    c.total_steps = Int(*es, "total_steps");
  }
  c.total_steps = Int(j, "total_steps", c.total_steps);
  c.workflow_name = Str(j, "workflow_name");
  c.timestamp = Str(j, "timestamp");
  c.json = std::string(json);
  return c;
}

int64_t InsertEvent(WriteTxn& txn, const Event& e, std::optional<int64_t> source_id,
                    std::optional<int64_t> line_no) {
  SQLite::Statement& s = txn.Prepare(
      "INSERT INTO events (job_id, record_id, timestamp, ts_ns, event_type, event_name, event_job_id, "
      "agent_id, item_id, correlation_id, json, source_id, line_no) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)");
  // `e` outlives exec(): SQLite need not copy the texts (the hot path of
  // batch appends and imports).
  const auto text = [&s](int index, const std::string& v) {
    if (v.empty()) s.bind(index); else s.bindNoCopy(index, v);
  };
  s.bindNoCopy(1, e.job_id);
  text(2, e.record_id);
  text(3, e.timestamp);
  BindOpt(s, 4, e.ts_ns);
  text(5, e.event_type);
  text(6, e.event_name);
  text(7, e.event_job_id);
  text(8, e.agent_id);
  text(9, e.item_id);
  text(10, e.correlation_id);
  s.bindNoCopy(11, e.json);
  BindOpt(s, 12, source_id);
  BindOpt(s, 13, line_no);
  s.exec();
  return txn.conn().db().getLastInsertRowid();
}

void UpsertDlqItem(WriteTxn& txn, const DlqItem& d, std::optional<int64_t> source_id) {
  SQLite::Statement& s = txn.Prepare(
      "INSERT OR REPLACE INTO dlq_items (job_id, item_id, first_attempt, last_attempt, last_attempt_ns, "
      "failure_count, error_signature, error_type, reprocess_eligible, manual_review_required, "
      "reprocess_requested_at, json, updated_at, source_id) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)");
  s.bind(1, d.job_id);
  s.bind(2, d.item_id);
  BindOpt(s, 3, d.first_attempt);
  BindOpt(s, 4, d.last_attempt);
  BindOpt(s, 5, d.last_attempt_ns);
  s.bind(6, static_cast<int64_t>(d.failure_count));
  BindOpt(s, 7, d.error_signature);
  BindOpt(s, 8, d.error_type);
  s.bind(9, d.reprocess_eligible ? 1 : 0);
  s.bind(10, d.manual_review_required ? 1 : 0);
  BindOpt(s, 11, d.reprocess_requested_at);
  s.bindNoCopy(12, d.json);
  s.bind(13, d.updated_at.empty() ? FormatTimestamp(NowNs()) : d.updated_at);
  BindOpt(s, 14, source_id);
  s.exec();
  LogChange(txn, kChangeDlq, d.job_id, d.item_id);
}

void InsertJobState(WriteTxn& txn, const JobState& st, int keep, bool allow_older,
                    std::optional<int64_t> source_id) {
  if (!allow_older) {
    SQLite::Statement& q = txn.Prepare("SELECT max(version) FROM job_states WHERE job_id = ?1");
    q.bind(1, st.job_id);
    if (q.executeStep() && !q.getColumn(0).isNull() && q.getColumn(0).getInt64() > st.version) {
      throw Error(ErrorCode::kInvalidArgument,
                  fmt::format("state of job {}: version {} is older than the stored version {}; "
                              "a newer state was written by another writer (re-read it first)",
                              st.job_id, st.version, q.getColumn(0).getInt64()));
    }
  }
  SQLite::Statement& s = txn.Prepare(
      "INSERT OR REPLACE INTO job_states (job_id, version, is_complete, total_items, successful_count, "
      "failed_count, updated_at, json, written_at, source_id) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
  s.bind(1, st.job_id);
  s.bind(2, static_cast<int64_t>(st.version));
  s.bind(3, st.is_complete ? 1 : 0);
  s.bind(4, static_cast<int64_t>(st.total_items));
  s.bind(5, static_cast<int64_t>(st.successful_count));
  s.bind(6, static_cast<int64_t>(st.failed_count));
  BindOpt(s, 7, st.updated_at);
  s.bindNoCopy(8, st.json);
  s.bind(9, st.written_at.empty() ? FormatTimestamp(NowNs()) : st.written_at);
  BindOpt(s, 10, source_id);
  s.exec();
  SQLite::Statement& prune = txn.Prepare(
      "DELETE FROM job_states WHERE job_id = ?1 AND version NOT IN "
      "(SELECT version FROM job_states WHERE job_id = ?1 ORDER BY version DESC LIMIT ?2)");
  prune.bind(1, st.job_id);
  prune.bind(2, keep);
  prune.exec();
  LogChange(txn, kChangeState, st.job_id);
}

void UpsertSession(WriteTxn& txn, const Session& ss, std::optional<int64_t> source_id) {
  SQLite::Statement& s = txn.Prepare(
      "INSERT OR REPLACE INTO sessions (session_id, status, started_at, ended_at, working_directory, "
      "json, updated_at, source_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  s.bind(1, ss.session_id);
  BindOpt(s, 2, ss.status);
  BindOpt(s, 3, ss.started_at);
  BindOpt(s, 4, ss.ended_at);
  BindOpt(s, 5, ss.working_directory);
  s.bindNoCopy(6, ss.json);
  s.bind(7, ss.updated_at.empty() ? FormatTimestamp(NowNs()) : ss.updated_at);
  BindOpt(s, 8, source_id);
  s.exec();
  LogChange(txn, kChangeSession, ss.session_id);
}

void UpsertCheckpoint(WriteTxn& txn, const WorkflowCheckpoint& c, std::optional<int64_t> source_id) {
  SQLite::Statement& s = txn.Prepare(
      "INSERT OR REPLACE INTO workflow_checkpoints (workflow_id, status, current_step_index, total_steps, "
      "workflow_name, timestamp, ts_ns, json, updated_at, source_id) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
  s.bind(1, c.workflow_id);
  BindOpt(s, 2, c.status);
  s.bind(3, static_cast<int64_t>(c.current_step_index));
  s.bind(4, static_cast<int64_t>(c.total_steps));
  BindOpt(s, 5, c.workflow_name);
  BindOpt(s, 6, c.timestamp);
  BindOpt(s, 7, ParseTimestamp(c.timestamp));
  s.bindNoCopy(8, c.json);
  s.bind(9, c.updated_at.empty() ? FormatTimestamp(NowNs()) : c.updated_at);
  BindOpt(s, 10, source_id);
  s.exec();
  LogChange(txn, kChangeCheckpoint, c.workflow_id);
}

void LogChange(WriteTxn& txn, const char* kind, std::string_view key1,
               std::optional<std::string_view> key2) {
  SQLite::Statement& s = txn.Prepare("INSERT INTO mirror_changes (kind, key1, key2) VALUES (?1, ?2, ?3)");
  s.bind(1, kind);
  s.bind(2, std::string(key1));
  if (key2) s.bind(3, std::string(*key2)); else s.bind(3);
  s.exec();
}

std::string ColumnText(SQLite::Statement& s, int i) {
  const SQLite::Column c = s.getColumn(i);
  return c.isNull() ? std::string() : std::string(c.getText(), static_cast<size_t>(c.getBytes()));
}

std::optional<int64_t> ColumnOptInt(SQLite::Statement& s, int i) {
  const SQLite::Column c = s.getColumn(i);
  if (c.isNull()) return std::nullopt;
  return c.getInt64();
}

Event ReadEventRow(SQLite::Statement& s) {
  Event e;
  e.seq = s.getColumn(0).getInt64();
  e.job_id = ColumnText(s, 1);
  e.record_id = ColumnText(s, 2);
  e.timestamp = ColumnText(s, 3);
  e.ts_ns = ColumnOptInt(s, 4);
  e.event_type = ColumnText(s, 5);
  e.event_name = ColumnText(s, 6);
  e.event_job_id = ColumnText(s, 7);
  e.agent_id = ColumnText(s, 8);
  e.item_id = ColumnText(s, 9);
  e.correlation_id = ColumnText(s, 10);
  e.json = ColumnText(s, 11);
  return e;
}

DlqItem ReadDlqRow(SQLite::Statement& s) {
  DlqItem d;
  d.job_id = ColumnText(s, 0);
  d.item_id = ColumnText(s, 1);
  d.first_attempt = ColumnText(s, 2);
  d.last_attempt = ColumnText(s, 3);
  d.last_attempt_ns = ColumnOptInt(s, 4);
  d.failure_count = s.getColumn(5).getInt64();
  d.error_signature = ColumnText(s, 6);
  d.error_type = ColumnText(s, 7);
  d.reprocess_eligible = s.getColumn(8).getInt() != 0;
  d.manual_review_required = s.getColumn(9).getInt() != 0;
  if (!s.getColumn(10).isNull()) d.reprocess_requested_at = ColumnText(s, 10);
  d.updated_at = ColumnText(s, 11);
  d.json = ColumnText(s, 12);
  return d;
}

JobState ReadStateRow(SQLite::Statement& s) {
  JobState j;
  j.job_id = ColumnText(s, 0);
  j.version = s.getColumn(1).getInt64();
  j.is_complete = s.getColumn(2).getInt() != 0;
  j.total_items = s.getColumn(3).getInt64();
  j.successful_count = s.getColumn(4).getInt64();
  j.failed_count = s.getColumn(5).getInt64();
  j.updated_at = ColumnText(s, 6);
  j.written_at = ColumnText(s, 7);
  j.json = ColumnText(s, 8);
  return j;
}

Session ReadSessionRow(SQLite::Statement& s) {
  Session x;
  x.session_id = ColumnText(s, 0);
  x.status = ColumnText(s, 1);
  x.started_at = ColumnText(s, 2);
  x.ended_at = ColumnText(s, 3);
  x.working_directory = ColumnText(s, 4);
  x.updated_at = ColumnText(s, 5);
  x.json = ColumnText(s, 6);
  return x;
}

WorkflowCheckpoint ReadCheckpointRow(SQLite::Statement& s) {
  WorkflowCheckpoint c;
  c.workflow_id = ColumnText(s, 0);
  c.status = ColumnText(s, 1);
  c.current_step_index = s.getColumn(2).getInt64();
  c.total_steps = s.getColumn(3).getInt64();
  c.workflow_name = ColumnText(s, 4);
  c.timestamp = ColumnText(s, 5);
  c.updated_at = ColumnText(s, 6);
  c.json = ColumnText(s, 7);
  return c;
}

}  // namespace prodigy::internal
