// Event notifications through a Redis Stream per repository
// ("prodigy:<name>:events"): each committed batch adds one entry carrying its
// last seq. A stream, not pub/sub: a waiter that reconnects reads what it
// missed from its last entry id. Redis carries no data; waiters read the rows
// by seq from the store.
#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>

#include "coord/coord.h"
#include "coord/redis_client.h"
#include "util/log.h"

namespace prodigy::internal {
namespace {

// Entries kept per stream (approximately: MAXLEN ~ trims whole nodes). A
// waiter needs only entries newer than the id it read last.
constexpr const char* kStreamMaxLen = "10000";
// A commit never waits longer than this for Redis.
constexpr std::chrono::milliseconds kPublishTimeout(500);
// After a failure, publishing is skipped for this long instead of paying a
// connection attempt on every commit.
constexpr std::chrono::milliseconds kRetryAfter(1000);

std::string StreamKey(const RepositoryLocation& location) { return RedisKeyPrefix(location.name) + "events"; }

class RedisNotifier final : public EventNotifier {
 public:
  RedisNotifier(RedisUrl url, std::string key)
      : redis_(std::move(url), kPublishTimeout), key_(std::move(key)) {}

  void Committed(int64_t last_seq) noexcept override {
    const auto now = std::chrono::steady_clock::now();
    if (now < retry_at_) return;
    try {
      redis_.Command({"XADD", key_, "MAXLEN", "~", kStreamMaxLen, "*", "seq", std::to_string(last_seq)});
      if (down_) {
        down_ = false;
        Log().info("event notifications to {} resumed", redis_.where());
      }
    } catch (const std::exception& e) {
      retry_at_ = now + kRetryAfter;
      if (!down_) {
        down_ = true;  // logged once per outage
        Log().warn("event notifications skipped (the events are stored; waiters poll instead): {}", e.what());
      }
    }
  }

 private:
  RedisClient redis_;
  std::string key_;
  bool down_ = false;
  std::chrono::steady_clock::time_point retry_at_{};
};

class RedisEventStream final : public EventStream {
 public:
  RedisEventStream(RedisUrl url, std::string key)
      : redis_(std::move(url), std::chrono::milliseconds(2000)), key_(std::move(key)) {}

  std::string LastId() override {
    RedisReply r = redis_.Command({"XREVRANGE", key_, "+", "-", "COUNT", "1"});
    if (r->type != REDIS_REPLY_ARRAY) Unexpected("XREVRANGE");
    if (r->elements == 0) return "0-0";
    return EntryId(r->element[0]);
  }

  std::optional<int64_t> Read(std::string* id, std::chrono::milliseconds timeout) override {
    RedisReply r = redis_.Command(
        {"XREAD", "COUNT", "1000", "BLOCK", std::to_string(timeout.count()), "STREAMS", key_, *id},
        timeout + std::chrono::milliseconds(2000));
    if (r->type == REDIS_REPLY_NIL) return std::nullopt;
    // [[key, [[id, [field, value, ...]], ...]]]
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 1 || r->element[0]->elements != 2) Unexpected("XREAD");
    const redisReply* entries = r->element[0]->element[1];
    std::optional<int64_t> max_seq;
    for (size_t i = 0; i < entries->elements; ++i) {
      const redisReply* entry = entries->element[i];
      *id = EntryId(entry);
      const redisReply* fields = entry->element[1];
      for (size_t f = 0; f + 1 < fields->elements; f += 2) {
        if (std::string_view(fields->element[f]->str, fields->element[f]->len) != "seq") continue;
        const int64_t seq = std::strtoll(fields->element[f + 1]->str, nullptr, 10);
        max_seq = std::max(max_seq.value_or(seq), seq);
      }
    }
    return max_seq;
  }

  const std::string& where() const override { return redis_.where(); }

 private:
  std::string EntryId(const redisReply* entry) {
    if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
        entry->element[0]->type != REDIS_REPLY_STRING) {
      Unexpected("a stream entry");
    }
    return std::string(entry->element[0]->str, entry->element[0]->len);
  }
  [[noreturn]] void Unexpected(std::string_view what) {
    throw Error::Io(fmt::format("Redis at {}: unexpected reply to {} on {}", redis_.where(), what, key_));
  }

  RedisClient redis_;
  std::string key_;
};

}  // namespace

bool RedisBuilt() { return true; }

std::unique_ptr<EventNotifier> OpenEventNotifier(const StorageConfig& config,
                                                 const RepositoryLocation& location) {
  if (config.redis_url.empty()) return nullptr;
  return std::make_unique<RedisNotifier>(ParseRedisUrl(config.redis_url), StreamKey(location));
}

std::unique_ptr<EventStream> OpenEventStream(const StorageConfig& config,
                                             const RepositoryLocation& location) {
  if (config.redis_url.empty()) return nullptr;
  return std::make_unique<RedisEventStream>(ParseRedisUrl(config.redis_url), StreamKey(location));
}

}  // namespace prodigy::internal
