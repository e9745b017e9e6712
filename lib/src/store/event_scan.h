// A fast path for ExtractEvent: one pass over an EventRecord line that
// validates the whole text as JSON and picks out the query columns, without
// building a document tree (parsing with nlohmann/json cost more than the
// SQLite insert itself; see docs/performance.md).
#ifndef PRODIGY_STORE_EVENT_SCAN_H_
#define PRODIGY_STORE_EVENT_SCAN_H_

#include <optional>
#include <string_view>

#include "prodigy/records.h"

namespace prodigy::internal {

// The event exactly as ExtractEvent would extract it, or nullopt whenever the
// text is anything but a single-line, valid JSON object with every required
// field and whose extracted values need no unescaping (duplicate keys,
// escapes in an extracted value, non-string values where a string is
// expected, a byte-order mark, deep nesting, huge numbers, ...). The caller
// then takes the general path, which also words the errors. Never accepts
// text that nlohmann/json rejects.
std::optional<Event> ScanEventRecord(std::string_view job_id, std::string_view json);

}  // namespace prodigy::internal

#endif  // PRODIGY_STORE_EVENT_SCAN_H_
