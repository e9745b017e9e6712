// A synchronous Redis connection (hiredis 0.14: RESP2, no TLS) that words
// its errors as prodigy::Error naming the server. Compiled only with
// -Dredis=enabled.
#ifndef PRODIGY_COORD_REDIS_CLIENT_H_
#define PRODIGY_COORD_REDIS_CLIENT_H_

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <hiredis/hiredis.h>

namespace prodigy::internal {

struct RedisUrl {
  std::string host;  // TCP host, empty for a unix socket
  int port = 6379;
  std::string socket;  // unix socket path, empty for TCP
  int db = 0;
  std::string password;  // empty: no AUTH
  std::string display;   // for messages: the URL without its password
};

// redis://[:password@]host[:port][/db] or unix:///path[?db=N]. kConfig
// naming the URL (without its password) when malformed.
RedisUrl ParseRedisUrl(std::string_view url);

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using RedisReply = std::unique_ptr<redisReply, ReplyDeleter>;

// The prefix of every Redis key of a repository: "prodigy:<folder name>:".
// Machines that share a repository through Redis use the same folder name.
std::string RedisKeyPrefix(std::string_view repository_name);

class RedisClient {
 public:
  // Connects lazily, on the first command. `timeout` bounds connecting and
  // each command (a blocking command passes its own).
  RedisClient(RedisUrl url, std::chrono::milliseconds timeout);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Runs one command; reconnects first when an earlier one broke the
  // connection. A connection failure or an error reply is kIo naming the
  // server; the connection is then dropped (its state is unknown).
  RedisReply Command(const std::vector<std::string>& args);
  // The same with a longer read timeout (XREAD BLOCK).
  RedisReply Command(const std::vector<std::string>& args, std::chrono::milliseconds timeout);

  const std::string& where() const { return url_.display; }

 private:
  void Connect();
  [[noreturn]] void Fail(std::string_view what, std::string detail);

  RedisUrl url_;
  std::chrono::milliseconds timeout_;
  redisContext* ctx_ = nullptr;
};

}  // namespace prodigy::internal

#endif  // PRODIGY_COORD_REDIS_CLIENT_H_
