// Logging switch. The library logs storage operations at debug level to
// stderr; that is off unless PRODIGY_LOG=debug is set or this is called.
#ifndef PRODIGY_LOG_H_
#define PRODIGY_LOG_H_

namespace prodigy {

enum class LogLevel { kDebug, kInfo, kWarn, kError, kOff };
void SetLogLevel(LogLevel level);

}  // namespace prodigy

#endif  // PRODIGY_LOG_H_
