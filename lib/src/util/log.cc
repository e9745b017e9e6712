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

namespace {

spdlog::level::level_enum SpdlogLevel(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return spdlog::level::debug;
    case LogLevel::kInfo:
      return spdlog::level::info;
    case LogLevel::kWarn:
      return spdlog::level::warn;
    case LogLevel::kError:
      return spdlog::level::err;
    case LogLevel::kOff:
      return spdlog::level::off;
  }
  return spdlog::level::warn;
}

}  // namespace

void SetLogLevel(LogLevel level) { internal::Log().set_level(SpdlogLevel(level)); }

}  // namespace prodigy
