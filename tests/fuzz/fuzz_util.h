// Helpers of the libFuzzer targets. Each target is a thin file over one
// library function; a finding is an abort (a crash, a sanitizer report or a
// broken property), which libFuzzer saves with the input that caused it.
#ifndef PRODIGY_TESTS_FUZZ_FUZZ_UTIL_H_
#define PRODIGY_TESTS_FUZZ_FUZZ_UTIL_H_

#include <cstdio>
#include <cstdlib>
#include <string_view>

// A property every input must keep; failing aborts with the reason.
#define FUZZ_CHECK(cond)                                                               \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      std::fprintf(stderr, "%s:%d: property broken: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                    \
    }                                                                                  \
  } while (0)

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

#endif  // PRODIGY_TESTS_FUZZ_FUZZ_UTIL_H_
