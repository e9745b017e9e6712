// Parsing of option values: durations, points in time, sizes.
// Every bad value is a UsageError that names the flag and shows valid forms.
#ifndef PRODIGY_TOOLS_CLI_PARSE_H_
#define PRODIGY_TOOLS_CLI_PARSE_H_

#include <cstdint>
#include <string_view>

namespace prodigy::cli {

// "90s", "10m", "2h", "7d", "2w" (a bare number is seconds) -> nanoseconds.
int64_t ParseDuration(std::string_view text, std::string_view flag);

// A point in time: a duration meaning "that long ago" ("10m", "7d") or an
// RFC 3339 timestamp ("2025-09-20T17:03:12Z") -> ns since the epoch.
int64_t ParseTimeArg(std::string_view text, std::string_view flag);

// "1048576", "512K", "100MB", "1GiB" (K/M/G are powers of 1024) -> bytes.
int64_t ParseSize(std::string_view text, std::string_view flag);

}  // namespace prodigy::cli

#endif  // PRODIGY_TOOLS_CLI_PARSE_H_
