// The event-record fast path against the general path (nlohmann/json): the
// fast path never accepts what the general path refuses, and when both accept
// they extract the same columns.
#include <cstdint>

#include "fuzz_util.h"
#include "prodigy/error.h"
#include "store/event_scan.h"
#include "store/rows.h"

using namespace prodigy;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view json = AsText(data, size);
  const std::optional<Event> fast = internal::ScanEventRecord("job", json);
  std::optional<Event> general;
  try {
    general = internal::ExtractEventGeneral("job", json);
  } catch (const Error&) {
  }
  if (!fast) return 0;
  FUZZ_CHECK(general.has_value());
  FUZZ_CHECK(fast->record_id == general->record_id);
  FUZZ_CHECK(fast->timestamp == general->timestamp);
  FUZZ_CHECK(fast->ts_ns == general->ts_ns);
  FUZZ_CHECK(fast->event_type == general->event_type);
  FUZZ_CHECK(fast->event_name == general->event_name);
  FUZZ_CHECK(fast->event_job_id == general->event_job_id);
  FUZZ_CHECK(fast->agent_id == general->agent_id);
  FUZZ_CHECK(fast->item_id == general->item_id);
  FUZZ_CHECK(fast->correlation_id == general->correlation_id);
  FUZZ_CHECK(fast->json == general->json);
  return 0;
}
