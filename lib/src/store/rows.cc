#include "store/rows.h"

#include <cstdint>
#include <cstring>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "prodigy/error.h"
#include "prodigy/storage.h"
#include "store/event_scan.h"
#include "store/kinds.h"

namespace prodigy::internal {
namespace {

using Json = nlohmann::ordered_json;

Json Parse(std::string_view json, const std::string& what) {
  try {
    Json j = Json::parse(json.begin(), json.end());
    if (!j.is_object()) {
      throw Error::InvalidArgument(
          fmt::format("{}: the document must be a JSON object, not {}", what, j.type_name()));
    }
    return j;
  } catch (const Json::parse_error& e) {
    throw Error::InvalidArgument(fmt::format("{}: invalid JSON at byte {}: {}", what, e.byte, e.what()));
  } catch (const Json::exception& e) {
    // A number too large for a double is an out_of_range error, not a parse_error.
    throw Error::InvalidArgument(fmt::format("{}: invalid JSON: {}", what, e.what()));
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
    throw Error::InvalidArgument(fmt::format("{}: required field \"{}\" is missing", what, key));
  }
  if (!it->is_string()) {
    throw Error::InvalidArgument(
        fmt::format("{}: field \"{}\" must be a string, not {}", what, key, it->type_name()));
  }
  return it->get_ref<const std::string&>();
}

int64_t RequireTimestamp(const Json& j, const char* key, const std::string& what) {
  const std::string& text = RequireString(j, key, what);
  auto ns = ParseTimestamp(text);
  if (!ns) {
    throw Error::InvalidArgument(
        fmt::format("{}: field \"{}\" is not an RFC 3339 timestamp: \"{}\"", what, key, text));
  }
  return *ns;
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
    if (c < 0x80)
      n = 0;
    else if ((c >> 5) == 0x6 && c >= 0xC2)
      n = 1;
    else if ((c >> 4) == 0xE)
      n = 2;
    else if ((c >> 3) == 0x1E && c <= 0xF4)
      n = 3;
    else
      return false;
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
    throw Error::InvalidArgument(fmt::format("{} is empty; give a non-empty id", what));
  }
  if (id.size() > 4096) {
    throw Error::InvalidArgument(
        fmt::format("{} is {} bytes long; ids are limited to 4096 bytes", what, id.size()));
  }
  if (id.find('\0') != std::string_view::npos) {
    throw Error::InvalidArgument(fmt::format("{} contains a NUL byte", what));
  }
  if (!IsValidUtf8(id)) {
    throw Error::InvalidArgument(fmt::format("{} is not valid UTF-8", what));
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
    throw Error::InvalidArgument(
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
      if (et->is_string())
        d.error_type = et->get<std::string>();
      else if (et->is_object() && !et->empty())
        d.error_type = et->begin().key();
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
    throw Error::InvalidArgument(
        fmt::format("{}: the document's job_id is \"{}\"; write it under that job", what, doc_job));
  }
  auto v = j.find("checkpoint_version");
  if (v == j.end() || !(v->is_number_unsigned() || (v->is_number_integer() && v->get<int64_t>() >= 0))) {
    throw Error::InvalidArgument(
        fmt::format("{}: required field \"checkpoint_version\" (a non-negative integer) is "
                    "missing or invalid",
                    what));
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
    throw Error::InvalidArgument(
        "session: required field \"session_id\" (or \"id\" for a unified session) is missing");
  }
  ValidateId("session id", s.session_id);
  auto st = j.find("status");
  if (st != j.end()) {
    if (st->is_string())
      s.status = st->get<std::string>();
    else if (st->is_object() && !st->empty())
      s.status = st->begin().key();
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

namespace {

// A row's values with `column` set to now when the record leaves it empty
// (updated_at, written_at: when the store wrote the row).
template <class R>
void PutWithNow(engine::WriteTxn& txn, const R& r, std::string_view column, const std::string& current,
                std::optional<int64_t> source_id) {
  const auto& codec = KindOf<R>::kCodec;
  const engine::TableSpec& table = *KindOf<R>::kind().table;
  std::array<engine::Value, codec.columns.size()> values;
  codec.Values(r, {source_id, std::nullopt}, &values);
  if (current.empty()) values[table.IndexOf(column)] = FormatTimestamp(NowNs());
  txn.Put(table, values);
}

}  // namespace

int64_t InsertEvent(engine::WriteTxn& txn, const Event& e, std::optional<int64_t> source_id,
                    std::optional<int64_t> line_no) {
  std::array<engine::Value, engine::tables::kEventCodec.columns.size()> values;
  engine::tables::kEventCodec.Values(e, {source_id, line_no}, &values);
  return txn.AppendEvent(values);
}

void UpsertDlqItem(engine::WriteTxn& txn, const DlqItem& d, std::optional<int64_t> source_id) {
  PutWithNow(txn, d, "updated_at", d.updated_at, source_id);
  txn.LogChange(kChangeDlq, d.job_id, d.item_id);
}

void InsertJobState(engine::WriteTxn& txn, const JobState& st, int keep, bool allow_older,
                    std::optional<int64_t> source_id) {
  if (!allow_older) {
    const std::optional<int64_t> newest = txn.MaxStateVersion(st.job_id);
    if (newest && *newest > st.version) {
      throw Error::InvalidArgument(
          fmt::format("state of job {}: version {} is older than the stored version {}; "
                      "a newer state was written by another writer (re-read it first)",
                      st.job_id, st.version, *newest));
    }
  }
  PutWithNow(txn, st, "written_at", st.written_at, source_id);
  txn.PruneStates(st.job_id, keep);
  txn.LogChange(kChangeState, st.job_id);
}

void UpsertSession(engine::WriteTxn& txn, const Session& ss, std::optional<int64_t> source_id) {
  PutWithNow(txn, ss, "updated_at", ss.updated_at, source_id);
  txn.LogChange(kChangeSession, ss.session_id);
}

void UpsertCheckpoint(engine::WriteTxn& txn, const WorkflowCheckpoint& c, std::optional<int64_t> source_id) {
  PutWithNow(txn, c, "updated_at", c.updated_at, source_id);
  txn.LogChange(kChangeCheckpoint, c.workflow_id);
}

}  // namespace prodigy::internal
