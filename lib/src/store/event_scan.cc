#include "store/event_scan.h"

#include <simdjson.h>

#include <string>

#include "prodigy/storage.h"

namespace prodigy::internal {
namespace {

// The string value of `value` into *out, refusing a second occurrence of the
// key (the general path keeps the last one; declining keeps the two paths in
// agreement without having to care).
bool TakeString(simdjson::dom::element value, std::string_view* out, bool* seen, bool required_string) {
  if (*seen) return false;
  *seen = true;
  std::string_view s;
  if (value.get_string().get(s) != simdjson::SUCCESS) {
    // A non-string where the general path wants one: let it word the error.
    // For optional columns the general path stores "" for a non-string.
    return !required_string;
  }
  *out = s;
  return true;
}

}  // namespace

std::optional<Event> ScanEventRecord(std::string_view job_id, std::string_view json) {
  // A line break means a multi-line document, which the general path compacts.
  // (Two memchr scans: find_first_of("\r\n") calls memchr once per byte of
  // the line, which cost more than simdjson's whole parse.)
  if (json.find('\n') != std::string_view::npos || json.find('\r') != std::string_view::npos) {
    return std::nullopt;
  }
  // simdjson validates the whole text (structure, numbers, UTF-8) at several
  // GB/s; one parser per thread keeps its buffers warm between lines.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS) return std::nullopt;
  simdjson::dom::object record;
  if (doc.get_object().get(record) != simdjson::SUCCESS) return std::nullopt;

  std::string_view id, timestamp, correlation_id, event_type, event_job_id, agent_id, item_id;
  bool seen_id = false, seen_ts = false, seen_corr = false, seen_event = false;
  bool seen_type = false, seen_job = false, seen_agent = false, seen_item = false;
  for (const simdjson::dom::key_value_pair field : record) {
    if (field.key == "id") {
      if (!TakeString(field.value, &id, &seen_id, true)) return std::nullopt;
    } else if (field.key == "timestamp") {
      if (!TakeString(field.value, &timestamp, &seen_ts, true)) return std::nullopt;
    } else if (field.key == "correlation_id") {
      if (!TakeString(field.value, &correlation_id, &seen_corr, false)) return std::nullopt;
    } else if (field.key == "event") {
      simdjson::dom::object event;
      if (seen_event || field.value.get_object().get(event) != simdjson::SUCCESS) return std::nullopt;
      seen_event = true;
      for (const simdjson::dom::key_value_pair ef : event) {
        bool ok = true;
        if (ef.key == "event_type")
          ok = TakeString(ef.value, &event_type, &seen_type, true);
        else if (ef.key == "job_id")
          ok = TakeString(ef.value, &event_job_id, &seen_job, false);
        else if (ef.key == "agent_id")
          ok = TakeString(ef.value, &agent_id, &seen_agent, false);
        else if (ef.key == "item_id")
          ok = TakeString(ef.value, &item_id, &seen_item, false);
        if (!ok) return std::nullopt;
      }
    }
  }
  if (!seen_id || !seen_ts || !seen_event || !seen_type) return std::nullopt;
  const std::optional<int64_t> ts = ParseTimestamp(timestamp);
  if (!ts) return std::nullopt;
  Event e;
  e.job_id = std::string(job_id);
  e.record_id = std::string(id);
  e.timestamp = std::string(timestamp);
  e.ts_ns = ts;
  e.event_type = std::string(event_type);
  e.event_name = NormalizeEventType(event_type);
  e.event_job_id = std::string(event_job_id);
  e.agent_id = std::string(agent_id);
  e.item_id = std::string(item_id);
  e.correlation_id = std::string(correlation_id);
  e.json = std::string(json);
  return e;
}

}  // namespace prodigy::internal
