// RFC 3339 timestamps as Prodigy (chrono) writes them.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "prodigy/storage.h"

namespace prodigy {
namespace {

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

// Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
// (Howard Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

}  // namespace

std::optional<int64_t> ParseTimestamp(std::string_view s) {
  int year, month, day, hour, minute, second;
  if (!Digits(s, 0, 4, &year) || s.size() < 19 || s[4] != '-' || !Digits(s, 5, 2, &month) || s[7] != '-' ||
      !Digits(s, 8, 2, &day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !Digits(s, 11, 2, &hour) ||
      s[13] != ':' || !Digits(s, 14, 2, &minute) || s[16] != ':' || !Digits(s, 17, 2, &second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  size_t pos = 19;
  int64_t nanos = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 9) nanos = nanos * 10 + (s[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return std::nullopt;
    for (size_t i = digits; i < 9; ++i) nanos *= 10;
  }
  int64_t offset_s = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!Digits(s, pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !Digits(s, pos + 4, 2, &om)) {
      return std::nullopt;
    }
    offset_s = (oh * 3600 + om * 60) * (s[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  const int64_t days = DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  const int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - offset_s;
  // Beyond 1677-09-21 .. 2262-04-11 the instant has no 64-bit nanosecond count: not a usable time.
  // Before the epoch, borrow a second so that the earliest instant does not overflow on the way.
  const bool borrow = secs < 0 && nanos > 0;
  int64_t ns = 0;
  if (__builtin_mul_overflow(secs + (borrow ? 1 : 0), int64_t{1'000'000'000}, &ns) ||
      __builtin_add_overflow(ns, nanos - (borrow ? 1'000'000'000 : 0), &ns)) {
    return std::nullopt;
  }
  return ns;
}

std::string FormatTimestamp(int64_t ns) {
  using namespace std::chrono;
  const sys_time<nanoseconds> tp{nanoseconds{ns}};
  const auto days = floor<std::chrono::days>(tp);
  const year_month_day ymd{days};
  const hh_mm_ss hms{floor<microseconds>(tp - days)};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                     hms.hours().count(), hms.minutes().count(), hms.seconds().count(),
                     hms.subseconds().count());
}

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string NormalizeEventType(std::string_view type) {
  // PascalCase -> snake_case, keeping acronyms together (DLQItemAdded -> dlq_item_added).
  std::string snake;
  for (size_t i = 0; i < type.size(); ++i) {
    const char c = type[i];
    const bool upper = c >= 'A' && c <= 'Z';
    if (upper && i > 0) {
      const char prev = type[i - 1];
      const bool prev_lower = (prev >= 'a' && prev <= 'z') || (prev >= '0' && prev <= '9');
      const bool prev_upper = prev >= 'A' && prev <= 'Z';
      const bool next_lower = i + 1 < type.size() && type[i + 1] >= 'a' && type[i + 1] <= 'z';
      if (prev_lower || (prev_upper && next_lower)) snake.push_back('_');
    }
    snake.push_back(upper ? static_cast<char>(c - 'A' + 'a') : (c == '-' || c == ' ') ? '_' : c);
  }
  // serde's snake_case splits acronyms letter by letter (d_l_q_item_added):
  // join runs of one-letter segments back together.
  std::string out;
  size_t start = 0;
  bool prev_single = false;
  while (start <= snake.size()) {
    size_t end = snake.find('_', start);
    if (end == std::string::npos) end = snake.size();
    const std::string_view seg(snake.data() + start, end - start);
    const bool single = seg.size() == 1;
    if (!out.empty() && !(single && prev_single)) out.push_back('_');
    out.append(seg);
    prev_single = single;
    start = end + 1;
  }
  return out;
}

}  // namespace prodigy
