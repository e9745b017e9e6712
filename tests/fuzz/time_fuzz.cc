// Timestamp parsing: any text parses or not without crashing; a parsed time
// formats to text that parses back to the same instant (to the microsecond
// the format keeps). Event-type normalization is total.
#include <cstdint>

#include "fuzz_util.h"
#include "prodigy/storage.h"

using namespace prodigy;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = AsText(data, size);
  const std::optional<int64_t> ns = ParseTimestamp(text);
  if (ns) {
    const std::string formatted = FormatTimestamp(*ns);
    const std::optional<int64_t> again = ParseTimestamp(formatted);
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(*again - *ns < 1000 && *ns - *again < 1000);
  }
  const std::string type = NormalizeEventType(text);
  FUZZ_CHECK(NormalizeEventType(type) == type);
  return 0;
}
