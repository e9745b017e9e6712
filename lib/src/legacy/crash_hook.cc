#include "legacy/crash_hook.h"

#include <signal.h>

#include <cstdlib>
#include <cstring>
#include <string_view>

namespace prodigy::internal::legacy {

void CrashPoint(const char* step) {
  // Read on every call (a handful per source): a forked test child sets the
  // variable after its parent already ran migrations.
  const char* env = std::getenv("PRODIGY_TEST_CRASH_AT");
  if (env == nullptr || *env == '\0') return;
  const char* colon = std::strchr(env, ':');
  const std::string_view wanted =
      colon != nullptr ? std::string_view(env, static_cast<size_t>(colon - env)) : env;
  if (wanted != step) return;
  const long nth = colon != nullptr ? std::strtol(colon + 1, nullptr, 10) : 1;
  static long reached = 0;
  if (++reached >= nth) ::raise(SIGKILL);
}

}  // namespace prodigy::internal::legacy
