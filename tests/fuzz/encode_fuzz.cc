// EncodeFileName: every id becomes one plain file name that stays in its
// folder, and distinct ids give distinct names. The input holds two ids
// separated by a 0xFF byte.
#include <cstdint>

#include "fuzz_util.h"
#include "prodigy/storage.h"

using namespace prodigy;

namespace {

void CheckName(const std::string& name) {
  FUZZ_CHECK(!name.empty());
  FUZZ_CHECK(name.size() <= 255);
  FUZZ_CHECK(name.front() != '.');
  FUZZ_CHECK(name.find('/') == std::string::npos);
  FUZZ_CHECK(name.find('\\') == std::string::npos);
  FUZZ_CHECK(name.find('\0') == std::string::npos);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = AsText(data, size);
  const size_t cut = text.find('\xff');
  const std::string_view a = text.substr(0, cut);
  const std::string a_name = EncodeFileName(a);
  if (!a.empty()) CheckName(a_name);
  if (cut == std::string_view::npos) return 0;
  const std::string_view b = text.substr(cut + 1);
  const std::string b_name = EncodeFileName(b);
  if (!b.empty()) CheckName(b_name);
  if (a != b) FUZZ_CHECK(a_name != b_name);
  return 0;
}
