// Each document extractor on hostile text: a record or a prodigy::Error,
// never a crash or another exception. The first byte picks the extractor.
#include <cstdint>

#include "fuzz_util.h"
#include "prodigy/error.h"
#include "store/rows.h"

using namespace prodigy;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view json = AsText(data + 1, size - 1);
  try {
    switch (data[0] % 5) {
      case 0: {
        const Event e = internal::ExtractEvent("job", json);
        FUZZ_CHECK(e.json.find('\n') == std::string::npos);  // one JSONL line
        break;
      }
      case 1:
        internal::ExtractDlqItem("job", json);
        break;
      case 2:
        internal::ExtractJobState("job", json);
        break;
      case 3:
        internal::ExtractSession(json);
        break;
      case 4:
        internal::ExtractCheckpoint(json);
        break;
    }
  } catch (const Error& e) {
    FUZZ_CHECK(!e.message().empty());
  }
  return 0;
}
