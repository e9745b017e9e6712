#include "util/log.h"

#include <cstdlib>
#include <string_view>

#include <spdlog/sinks/stdout_sinks.h>

#include "prodigy/log.h"

namespace prodigy {
namespace internal {

spdlog::logger& Log() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto l =
        std::make_shared<spdlog::logger>("prodigy-store", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    l->set_pattern("[%Y-%m-%dT%H:%M:%S.%f] [%l] [pid %P] %v");
    const char* env = std::getenv("PRODIGY_LOG");
    spdlog::level::level_enum level = spdlog::level::warn;
    if (env != nullptr) {
      const std::string_view v(env);
      if (v == "debug" || v == "trace")
        level = spdlog::level::debug;
      else if (v == "info")
        level = spdlog::level::info;
      else if (v == "error")
        level = spdlog::level::err;
      else if (v == "off")
        level = spdlog::level::off;
    }
    l->set_level(level);
    return l;
  }();
  return *logger;
}

}  // namespace internal

void SetLogLevel(LogLevel level) {
  spdlog::level::level_enum l = spdlog::level::warn;
  switch (level) {
    case LogLevel::kDebug:
      l = spdlog::level::debug;
      break;
    case LogLevel::kInfo:
      l = spdlog::level::info;
      break;
    case LogLevel::kWarn:
      l = spdlog::level::warn;
      break;
    case LogLevel::kError:
      l = spdlog::level::err;
      break;
    case LogLevel::kOff:
      l = spdlog::level::off;
      break;
  }
  internal::Log().set_level(l);
}

}  // namespace prodigy
