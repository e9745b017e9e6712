// A fast path for ExtractEvent: simdjson validates the whole EventRecord line
// and the query columns are picked from its parsed tape (parsing with
// nlohmann/json cost more than the SQLite insert itself; see
// docs/performance.md).
#ifndef PRODIGY_STORE_EVENT_SCAN_H_
#define PRODIGY_STORE_EVENT_SCAN_H_

#include <optional>
#include <string_view>

#include "prodigy/records.h"

namespace prodigy::internal {

// The event exactly as ExtractEvent would extract it, or nullopt whenever the
// text is anything but a single-line, valid JSON object with every required
// field as a string (also for a duplicated extracted key, or anything
// simdjson refuses, such as very deep nesting). The caller then takes the
// general path, which also words the errors. Never accepts text that
// nlohmann/json rejects (tests/unit/event_scan_test.cc checks both on
// hundreds of thousands of mutated lines).
std::optional<Event> ScanEventRecord(std::string_view job_id, std::string_view json);

}  // namespace prodigy::internal

#endif  // PRODIGY_STORE_EVENT_SCAN_H_
