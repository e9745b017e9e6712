#include "coord/redis_client.h"

#include <pthread.h>
#include <signal.h>

#include <charconv>

#include <fmt/format.h>

#include "prodigy/error.h"

namespace prodigy::internal {
namespace {

// Writing to a server that died raises SIGPIPE, which kills the process by
// default. A library must not change the process's signal dispositions, so
// (as libpq does) SIGPIPE is blocked in this thread while talking to the
// server, and one raised meanwhile is discarded.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
  }
  ~SigpipeGuard() {
    sigset_t pending;
    sigpending(&pending);
    if (!was_pending_ && sigismember(&pending, SIGPIPE) == 1) {
      const timespec zero{0, 0};
      sigtimedwait(&pipe_, nullptr, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t pipe_;
  sigset_t old_;
  bool was_pending_ = false;
};

timeval ToTimeval(std::chrono::milliseconds d) {
  return timeval{static_cast<time_t>(d.count() / 1000), static_cast<suseconds_t>((d.count() % 1000) * 1000)};
}

bool ParseInt(std::string_view s, int* out) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

[[noreturn]] void BadUrl(const std::string& shown, std::string_view why) {
  throw Error::Config(
      fmt::format("redis_url \"{}\": {}; expected redis://[:password@]host[:port][/db] or "
                  "unix:///path/to/redis.sock[?db=N] (docs/configuration.md)",
                  shown, why));
}

}  // namespace

RedisUrl ParseRedisUrl(std::string_view url) {
  RedisUrl out;
  std::string_view rest;
  // The password never reaches a message or a log line.
  std::string shown(url);
  if (url.starts_with("unix://")) {
    rest = url.substr(7);
    std::string_view query;
    if (size_t q = rest.find('?'); q != std::string_view::npos) {
      query = rest.substr(q + 1);
      rest = rest.substr(0, q);
    }
    if (!rest.starts_with("/")) BadUrl(shown, "the socket path must be absolute");
    out.socket = std::string(rest);
    if (!query.empty()) {
      if (!query.starts_with("db=") || !ParseInt(query.substr(3), &out.db) || out.db < 0) {
        BadUrl(shown, "the only query parameter is db=N");
      }
    }
    out.display = shown;
    return out;
  }
  if (!url.starts_with("redis://"))
    BadUrl(shown, "unknown scheme (rediss:// needs TLS, which hiredis 0.14 lacks)");
  rest = url.substr(8);
  if (size_t at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view auth = rest.substr(0, at);
    const size_t colon = auth.find(':');
    out.password = std::string(colon == std::string_view::npos ? auth : auth.substr(colon + 1));
    shown = fmt::format("redis://{}***@{}", colon == std::string_view::npos ? "" : auth.substr(0, colon + 1),
                        rest.substr(at + 1));
    rest = rest.substr(at + 1);
  }
  std::string_view path;
  if (size_t slash = rest.find('/'); slash != std::string_view::npos) {
    path = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  if (size_t colon = rest.rfind(':');
      colon != std::string_view::npos && rest.find(']') == std::string_view::npos) {
    if (!ParseInt(rest.substr(colon + 1), &out.port) || out.port < 1 || out.port > 65535) {
      BadUrl(shown, "the port must be a number from 1 to 65535");
    }
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) BadUrl(shown, "the host is missing");
  out.host = std::string(rest);
  if (!path.empty() && (!ParseInt(path, &out.db) || out.db < 0))
    BadUrl(shown, "the path must be a database number");
  out.display = shown;
  return out;
}

std::string RedisKeyPrefix(std::string_view repository_name) {
  return fmt::format("prodigy:{}:", repository_name);
}

RedisClient::RedisClient(RedisUrl url, std::chrono::milliseconds timeout)
    : url_(std::move(url)), timeout_(timeout) {}

RedisClient::~RedisClient() {
  if (ctx_ != nullptr) redisFree(ctx_);
}

void RedisClient::Fail(std::string_view what, std::string detail) {
  // `detail` may be the context's errstr: copied before the context is freed.
  if (ctx_ != nullptr) {
    redisFree(ctx_);
    ctx_ = nullptr;
  }
  throw Error::Io(
      fmt::format("Redis at {}: {}: {} (is redis-server running there? the URL comes from "
                  "PRODIGY_REDIS_URL or redis_url in config.toml)",
                  url_.display, what, detail));
}

void RedisClient::Connect() {
  const timeval tv = ToTimeval(timeout_);
  ctx_ = url_.socket.empty() ? redisConnectWithTimeout(url_.host.c_str(), url_.port, tv)
                             : redisConnectUnixWithTimeout(url_.socket.c_str(), tv);
  if (ctx_ == nullptr) throw Error::Io(fmt::format("Redis at {}: out of memory", url_.display));
  if (ctx_->err != 0) Fail("cannot connect", ctx_->errstr);
  redisSetTimeout(ctx_, tv);
  if (!url_.password.empty()) Command({"AUTH", url_.password});
  if (url_.db != 0) Command({"SELECT", std::to_string(url_.db)});
}

RedisReply RedisClient::Command(const std::vector<std::string>& args) { return Command(args, timeout_); }

RedisReply RedisClient::Command(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  SigpipeGuard no_sigpipe;
  if (ctx_ == nullptr) Connect();
  redisSetTimeout(ctx_, ToTimeval(timeout));
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const std::string& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  RedisReply reply(static_cast<redisReply*>(
      redisCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data())));
  if (timeout != timeout_) redisSetTimeout(ctx_, ToTimeval(timeout_));
  if (!reply) Fail(fmt::format("{} failed", args[0]), ctx_->errstr);
  if (reply->type == REDIS_REPLY_ERROR) {
    // The connection is fine, but the command was refused (a wrong password,
    // a server still loading, a bug): say what the server said.
    const std::string text(reply->str, reply->len);
    Fail(fmt::format("{} refused", args[0]), text);
  }
  return reply;
}

}  // namespace prodigy::internal
