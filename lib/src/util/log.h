// Debug logging of storage operations (spdlog), off unless PRODIGY_LOG=debug
// or SetLogLevel() turns it on.
#ifndef PRODIGY_UTIL_LOG_H_
#define PRODIGY_UTIL_LOG_H_

#include <spdlog/spdlog.h>

namespace prodigy::internal {

spdlog::logger& Log();

}  // namespace prodigy::internal

#endif  // PRODIGY_UTIL_LOG_H_
