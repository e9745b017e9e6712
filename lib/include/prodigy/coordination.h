// Coordination between processes and machines: job leases with fencing
// tokens, and waiting for new events (docs/coordination.md).
//
// Leases go through Redis when `redis_url` (or PRODIGY_REDIS_URL) is
// configured, else through the repository's database (one machine). Either
// way every grant carries a fencing token that is larger than any earlier
// token of the same key, and the store records the newest token it has seen
// per key: a state write made under a lease carries its token
// (GlobalStorage::WriteState with a token) and is refused when a newer grant
// exists, so a holder that was paused past its TTL cannot overwrite the work
// of the next one.
//
// Errors: prodigy::Error only. An unreachable Redis is kIo naming the server,
// never "not held" or "not found". A write or extension under a lost lease is
// kFenced. A redis_url given to a build without Redis support is kConfig.
//
// Thread safety: a Leases or EventWaiter object is used by one thread at a
// time; it keeps a reference to the GlobalStorage, which must outlive it.
#ifndef PRODIGY_COORDINATION_H_
#define PRODIGY_COORDINATION_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace prodigy {

class GlobalStorage;

struct Lease {
  std::string key;            // what is leased, usually a job id
  std::string holder;         // who holds it, as given to Acquire
  int64_t token = 0;          // fencing token: larger than every earlier grant of the key
  int64_t expires_at_ns = 0;  // wall-clock estimate (Redis: local now + the server's PTTL)
};

class Leases {
 public:
  // Leases of the storage's repository: through Redis when the storage's
  // configuration has a redis_url, else through its database.
  // Throws kConfig when a redis_url is configured but this build has no Redis
  // support, or the URL is malformed.
  explicit Leases(GlobalStorage& storage);
  Leases(Leases&&) noexcept;
  Leases& operator=(Leases&&) noexcept;
  ~Leases();

  // "database" or "redis".
  std::string_view backend() const;

  // Grants the lease when it is free (never granted, released or expired),
  // else returns nullopt. REQUIRES: ttl >= 1 ms; key and holder non-empty.
  std::optional<Lease> TryAcquire(std::string_view key, std::string_view holder,
                                  std::chrono::milliseconds ttl);
  // TryAcquire until granted or `wait` has passed (then kBusy naming the
  // current holder and when its lease ends).
  Lease Acquire(std::string_view key, std::string_view holder, std::chrono::milliseconds ttl,
                std::chrono::milliseconds wait);
  // Moves the end of a held lease to now + ttl and returns it updated.
  // kFenced when the lease expired or was taken over (the token is no longer
  // the current one): stop working on the key.
  Lease Extend(const Lease& lease, std::chrono::milliseconds ttl);
  // Ends the lease. Returns false when it was no longer held with this token
  // (it expired, possibly taken over): nothing is changed then.
  bool Release(const Lease& lease);
  // The leases currently held, by key.
  std::vector<Lease> List();
  // For an operator: ends whatever lease holds `key` (a holder that died
  // without releasing it). Returns the lease that was ended, nullopt when the
  // key was free. The old holder's later writes are still refused once a new
  // grant raised the key's token.
  std::optional<Lease> ForceRelease(std::string_view key);

  class Backend;

 private:
  std::unique_ptr<Backend> backend_;
};

// Waits for events appended (by any process) after a seq cursor. With Redis
// configured, a commit wakes waiters at once through a Redis Stream per
// repository; without it, or while Redis is unreachable, the store is polled.
class EventWaiter {
 public:
  // kConfig as for Leases. `poll_interval`: how often the store is read when
  // there are no notifications.
  explicit EventWaiter(GlobalStorage& storage,
                       std::chrono::milliseconds poll_interval = std::chrono::milliseconds(200));
  EventWaiter(EventWaiter&&) noexcept;
  EventWaiter& operator=(EventWaiter&&) noexcept;
  ~EventWaiter();

  // Returns true as soon as an event with seq > after_seq exists, false when
  // `timeout` passed without one. Read the new events with
  // GlobalStorage::QueryEvents (EventQuery::after_seq).
  bool Wait(int64_t after_seq, std::chrono::milliseconds timeout);
  // The newest event seq of the repository (any job), 0 when it has none:
  // the cursor to wait from when only new events matter.
  int64_t LastSeq();
  // true while Redis notifications are in use, false while polling.
  bool notified() const;

  struct State;

 private:
  std::unique_ptr<State> state_;
};

}  // namespace prodigy

#endif  // PRODIGY_COORDINATION_H_
