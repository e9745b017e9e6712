// Leases through Redis: `SET key "<token> <holder>" NX PX ttl` with the token
// from INCR, compare-and-extend and compare-and-delete in Lua, so that only
// the holder of the current token can extend or release. The server's clock
// alone decides expiry. Each grant also raises the key's fence in the store
// (engine::WriteTxn::RaiseFence), and the store's fence is the floor of the next token,
// so tokens keep growing when Redis loses its data (a restart without
// persistence) or a repository moves between lease services.
#include <algorithm>

#include <fmt/format.h>

#include "coord/coord.h"
#include "coord/redis_client.h"
#include "store/storage_impl.h"
#include "util/log.h"

namespace prodigy::internal {
namespace {

// KEYS: lease, token counter. ARGV: holder, ttl ms, floor (the store's fence).
constexpr const char* kAcquireLua = R"lua(
local cur = redis.call('GET', KEYS[1])
if cur then return {0, cur, redis.call('PTTL', KEYS[1])} end
local t = redis.call('INCR', KEYS[2])
local floor = tonumber(ARGV[3])
if t <= floor then
  t = floor + 1
  redis.call('SET', KEYS[2], t)
end
local v = string.format('%d %s', t, ARGV[1])
redis.call('SET', KEYS[1], v, 'NX', 'PX', ARGV[2])
return {1, v, tonumber(ARGV[2])}
)lua";

// KEYS: lease. ARGV: expected value, ttl ms.
constexpr const char* kExtendLua = R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
)lua";

// KEYS: lease. ARGV: expected value.
constexpr const char* kReleaseLua = R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
)lua";

// KEYS: lease. ARGV: "del" to delete it. Returns {value, pttl} or nil.
constexpr const char* kCurrentLua = R"lua(
local v = redis.call('GET', KEYS[1])
if not v then return false end
local t = redis.call('PTTL', KEYS[1])
if ARGV[1] == 'del' then redis.call('DEL', KEYS[1]) end
return {v, t}
)lua";

// SCAN's MATCH takes a glob: a repository name may contain glob characters.
std::string GlobEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

class RedisLeases final : public Leases::Backend {
 public:
  explicit RedisLeases(GlobalStorage& storage)
      : engine_(*ImplOf(storage).engine),
        redis_(ParseRedisUrl(storage.config().redis_url), std::chrono::milliseconds(2000)),
        prefix_(RedisKeyPrefix(storage.location().name)) {}

  std::string_view name() const override { return "redis"; }

  std::optional<Lease> TryAcquire(std::string_view key, std::string_view holder,
                                  std::chrono::milliseconds ttl, std::optional<Lease>* current) override {
    int64_t floor = 0;
    engine_.Read([&](engine::ReadTxn& txn) { floor = txn.Fence(key); });
    RedisReply r = redis_.Command({"EVAL", kAcquireLua, "2", LeaseKey(key), TokenKey(key),
                                   std::string(holder), std::to_string(ttl.count()), std::to_string(floor)});
    const bool granted = ArrayInt(r.get(), 0) == 1;
    Lease lease = ParseLease(key, r.get(), 1);
    if (!granted) {
      *current = lease;
      return std::nullopt;
    }
    try {
      engine_.Write([&](engine::WriteTxn& txn) { txn.RaiseFence(key, lease.token); });
    } catch (...) {
      // Without the fence raised the grant would not protect the store: undo it.
      try {
        Release(lease);
      } catch (const Error&) {
      }
      throw;
    }
    return lease;
  }

  std::optional<Lease> Extend(const Lease& lease, std::chrono::milliseconds ttl) override {
    RedisReply r = redis_.Command(
        {"EVAL", kExtendLua, "1", LeaseKey(lease.key), Value(lease), std::to_string(ttl.count())});
    if (r->type != REDIS_REPLY_INTEGER || r->integer != 1) return std::nullopt;
    Lease out = lease;
    out.expires_at_ns = NowNs() + static_cast<int64_t>(ttl.count()) * 1'000'000;
    return out;
  }

  bool Release(const Lease& lease) override {
    RedisReply r = redis_.Command({"EVAL", kReleaseLua, "1", LeaseKey(lease.key), Value(lease)});
    return r->type == REDIS_REPLY_INTEGER && r->integer == 1;
  }

  std::optional<Lease> Current(std::string_view key) override { return Get(key, false); }

  std::optional<Lease> ForceRelease(std::string_view key) override { return Get(key, true); }

  std::vector<Lease> List() override {
    const std::string lease_prefix = prefix_ + "lease:";
    std::vector<Lease> out;
    std::string cursor = "0";
    do {
      RedisReply r =
          redis_.Command({"SCAN", cursor, "MATCH", GlobEscape(lease_prefix) + "*", "COUNT", "500"});
      if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) Unexpected("SCAN", r.get());
      cursor.assign(r->element[0]->str, r->element[0]->len);
      const redisReply* keys = r->element[1];
      for (size_t i = 0; i < keys->elements; ++i) {
        const std::string full(keys->element[i]->str, keys->element[i]->len);
        if (auto lease = Get(std::string_view(full).substr(lease_prefix.size()), false))
          out.push_back(*lease);
      }
    } while (cursor != "0");
    std::sort(out.begin(), out.end(), [](const Lease& a, const Lease& b) { return a.key < b.key; });
    return out;
  }

 private:
  std::string LeaseKey(std::string_view key) const { return fmt::format("{}lease:{}", prefix_, key); }
  std::string TokenKey(std::string_view key) const { return fmt::format("{}lease-token:{}", prefix_, key); }
  static std::string Value(const Lease& lease) { return fmt::format("{} {}", lease.token, lease.holder); }

  std::optional<Lease> Get(std::string_view key, bool del) {
    RedisReply r = redis_.Command({"EVAL", kCurrentLua, "1", LeaseKey(key), del ? "del" : "get"});
    if (r->type == REDIS_REPLY_NIL) return std::nullopt;
    // {value, pttl}: reuse the parser of the acquire reply's tail.
    return ParseLease(key, r.get(), 0);
  }

  // Reads "<token> <holder>" at element i and the PTTL after it.
  Lease ParseLease(std::string_view key, const redisReply* r, size_t i) const {
    if (r->type != REDIS_REPLY_ARRAY || r->elements < i + 2 || r->element[i]->type != REDIS_REPLY_STRING) {
      Unexpected("EVAL", r);
    }
    const std::string value(r->element[i]->str, r->element[i]->len);
    const size_t space = value.find(' ');
    Lease lease;
    lease.key = std::string(key);
    try {
      lease.token = std::stoll(value.substr(0, space));
    } catch (const std::exception&) {
      throw Error::Corruption(
          fmt::format("Redis at {}: lease key {} holds \"{}\", not \"<token> <holder>\"; it was not written "
                      "by prodigy-store: delete it with `prodigy-store leases release {} --force`",
                      redis_.where(), LeaseKey(key), value, key));
    }
    lease.holder = space == std::string::npos ? "" : value.substr(space + 1);
    lease.expires_at_ns = NowNs() + std::max<int64_t>(ArrayInt(r, i + 1), 0) * 1'000'000;
    return lease;
  }

  int64_t ArrayInt(const redisReply* r, size_t i) const {
    if (r->type != REDIS_REPLY_ARRAY || r->elements <= i || r->element[i]->type != REDIS_REPLY_INTEGER) {
      Unexpected("EVAL", r);
    }
    return r->element[i]->integer;
  }

  [[noreturn]] void Unexpected(std::string_view command, const redisReply* r) const {
    throw Error::Internal(
        fmt::format("Redis at {}: unexpected reply type {} to {}", redis_.where(), r->type, command));
  }

  engine::Engine& engine_;
  RedisClient redis_;
  std::string prefix_;
};

}  // namespace

std::unique_ptr<Leases::Backend> OpenRedisLeases(GlobalStorage& storage) {
  return std::make_unique<RedisLeases>(storage);
}

}  // namespace prodigy::internal
