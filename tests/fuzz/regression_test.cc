// Regression tests of what the fuzz targets found (tests/fuzz), in the normal
// build: each finding's input, and the boundary it was on.
#include <cstdint>
#include <limits>

#include <doctest/doctest.h>

#include "prodigy/storage.h"

using namespace prodigy;

// Found by fuzz_time: a year past 2262 overflowed the 64-bit nanosecond count
// (undefined behaviour; the value wrapped to a time in the past).
TEST_CASE("timestamps outside the 64-bit nanosecond range are refused, not wrapped") {
  CHECK_FALSE(ParseTimestamp("9262-04-11T23:47:16.854775807Z").has_value());
  CHECK_FALSE(ParseTimestamp("2262-04-11T23:47:16.854775808Z").has_value());
  CHECK_FALSE(ParseTimestamp("1677-09-21T00:12:43.145224191Z").has_value());
  CHECK_FALSE(ParseTimestamp("0000-01-01T00:00:00Z").has_value());
  CHECK(ParseTimestamp("2262-04-11T23:47:16.854775807Z") == std::numeric_limits<int64_t>::max());
  CHECK(ParseTimestamp("1677-09-21T00:12:43.145224192Z") == std::numeric_limits<int64_t>::min());
  CHECK(ParseTimestamp("2025-09-20T17:03:12.482913Z") == int64_t{1758387792482913000});
}
