#include "parse.h"

#include <cctype>
#include <charconv>
#include <limits>
#include <string>

#include <fmt/format.h>

#include "cli.h"

namespace prodigy::cli {
namespace {

// Splits "100MB" into 100 and "MB"; false when there is no leading number.
bool SplitNumber(std::string_view text, int64_t* number, std::string* unit) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, *number);
  if (ec != std::errc() || ptr == text.data() || *number < 0) return false;
  unit->clear();
  for (; ptr != end; ++ptr)
    unit->push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(*ptr))));
  return true;
}

int64_t Multiply(int64_t number, int64_t factor, std::string_view text, std::string_view flag) {
  if (number > std::numeric_limits<int64_t>::max() / factor) {
    throw UsageError(fmt::format("{} {}: value too large", flag, text));
  }
  return number * factor;
}

}  // namespace

int64_t ParseDuration(std::string_view text, std::string_view flag) {
  int64_t number = 0;
  std::string unit;
  if (SplitNumber(text, &number, &unit)) {
    constexpr int64_t kSecond = 1'000'000'000;
    int64_t factor = 0;
    if (unit.empty() || unit == "s")
      factor = kSecond;
    else if (unit == "m" || unit == "min")
      factor = 60 * kSecond;
    else if (unit == "h")
      factor = 3600 * kSecond;
    else if (unit == "d")
      factor = 86400 * kSecond;
    else if (unit == "w")
      factor = 7 * 86400 * kSecond;
    if (factor) return Multiply(number, factor, text, flag);
  }
  throw UsageError(fmt::format("{} '{}' is not a duration; use e.g. 90s, 10m, 2h, 7d or 2w", flag, text));
}

int64_t ParseTimeArg(std::string_view text, std::string_view flag) {
  if (auto ns = ParseTimestamp(text)) return *ns;
  try {
    return NowNs() - ParseDuration(text, flag);
  } catch (const UsageError&) {
    throw UsageError(
        fmt::format("{} '{}' is neither a duration (10m, 2h, 7d: that long ago) nor an RFC 3339 time "
                    "(2025-09-20T17:03:12Z)",
                    flag, text));
  }
}

int64_t ParseSize(std::string_view text, std::string_view flag) {
  int64_t number = 0;
  std::string unit;
  if (SplitNumber(text, &number, &unit)) {
    int64_t factor = 0;
    if (unit.empty() || unit == "b")
      factor = 1;
    else if (unit == "k" || unit == "kb" || unit == "kib")
      factor = int64_t{1} << 10;
    else if (unit == "m" || unit == "mb" || unit == "mib")
      factor = int64_t{1} << 20;
    else if (unit == "g" || unit == "gb" || unit == "gib")
      factor = int64_t{1} << 30;
    if (factor) return Multiply(number, factor, text, flag);
  }
  throw UsageError(fmt::format("{} '{}' is not a size; use e.g. 1048576, 512K, 100MB or 1GiB", flag, text));
}

}  // namespace prodigy::cli
