// prodigy::Leases and prodigy::EventWaiter: argument checks, waiting and the
// wording of errors, over the lease services and notification stream of
// coord.h.
#include <random>
#include <thread>

#include <fmt/format.h>

#include "coord/coord.h"
#include "store/storage_impl.h"
#include "util/log.h"

namespace prodigy {

using internal::Log;

namespace {

void CheckLeaseArgs(std::string_view key, std::chrono::milliseconds ttl) {
  if (key.empty()) throw Error::InvalidArgument("lease key must not be empty (use the job id)");
  if (ttl.count() < 1) {
    throw Error::InvalidArgument(
        fmt::format("lease {}: ttl must be at least 1 ms, not {} ms", key, ttl.count()));
  }
}

std::string DescribeHolder(const std::optional<Lease>& lease) {
  if (!lease) return "nobody holds it now";
  return fmt::format("it is held by {} with token {} until {}", lease->holder, lease->token,
                     FormatTimestamp(lease->expires_at_ns));
}

}  // namespace

Leases::Leases(GlobalStorage& storage)
    : backend_(storage.config().redis_url.empty() ? internal::OpenDatabaseLeases(storage)
                                                  : internal::OpenRedisLeases(storage)) {}
Leases::Leases(Leases&&) noexcept = default;
Leases& Leases::operator=(Leases&&) noexcept = default;
Leases::~Leases() = default;

std::string_view Leases::backend() const { return backend_->name(); }

std::optional<Lease> Leases::TryAcquire(std::string_view key, std::string_view holder,
                                        std::chrono::milliseconds ttl) {
  CheckLeaseArgs(key, ttl);
  if (holder.empty()) {
    throw Error::InvalidArgument(fmt::format("lease {}: holder must not be empty (e.g. host:pid)", key));
  }
  std::optional<Lease> current;
  std::optional<Lease> lease = backend_->TryAcquire(key, holder, ttl, &current);
  if (lease) Log().debug("lease {} granted to {} token={}", key, holder, lease->token);
  return lease;
}

Lease Leases::Acquire(std::string_view key, std::string_view holder, std::chrono::milliseconds ttl,
                      std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  // Jitter keeps contenders from retrying in lockstep.
  std::minstd_rand rng(std::random_device{}());
  for (;;) {
    if (std::optional<Lease> lease = TryAcquire(key, holder, ttl)) return *lease;
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      throw Error::Busy(
          fmt::format("lease {} not acquired by {} within {} ms: {}; wait longer, or end a dead holder's "
                      "lease with `prodigy-store leases release {} --force`",
                      key, holder, wait.count(), DescribeHolder(backend_->Current(key)), key));
    }
    const auto pause = std::chrono::milliseconds(5 + rng() % 20);
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(pause, deadline - now));
  }
}

Lease Leases::Extend(const Lease& lease, std::chrono::milliseconds ttl) {
  CheckLeaseArgs(lease.key, ttl);
  if (std::optional<Lease> out = backend_->Extend(lease, ttl)) return *out;
  throw Error::Fenced(fmt::format(
      "lease {} (token {}) of {} cannot be extended: it expired or was taken over, {}; stop "
      "working on {} and acquire its lease again",
      lease.key, lease.token, lease.holder, DescribeHolder(backend_->Current(lease.key)), lease.key));
}

bool Leases::Release(const Lease& lease) {
  CheckLeaseArgs(lease.key, std::chrono::milliseconds(1));
  const bool released = backend_->Release(lease);
  if (!released) Log().debug("lease {} token={} was no longer held at release", lease.key, lease.token);
  return released;
}

std::vector<Lease> Leases::List() { return backend_->List(); }

std::optional<Lease> Leases::ForceRelease(std::string_view key) {
  CheckLeaseArgs(key, std::chrono::milliseconds(1));
  std::optional<Lease> ended = backend_->ForceRelease(key);
  if (ended) Log().info("lease {} of {} (token {}) ended by force", key, ended->holder, ended->token);
  return ended;
}

// ---- EventWaiter -----------------------------------------------------------

namespace {
// With notifications, the store is still read this often: a notification
// skipped while the writer could not reach Redis delays a waiter by at most
// this long.
constexpr std::chrono::milliseconds kNotifiedRecheck(2000);
// A waiter whose Redis failed tries it again after this long.
constexpr std::chrono::milliseconds kReconnectAfter(2000);
}  // namespace

struct EventWaiter::State {
  GlobalStorage& storage;
  std::chrono::milliseconds poll_interval;
  std::unique_ptr<internal::EventStream> stream;
  bool stream_ok = false;
  bool warned = false;
  std::chrono::steady_clock::time_point retry_at{};

  int64_t LastSeq() {
    int64_t seq = 0;
    internal::ImplOf(storage).engine->Read([&](engine::ReadTxn& txn) { seq = txn.LastEventSeq(); });
    return seq;
  }

  void StreamFailed(const Error& e) {
    stream_ok = false;
    retry_at = std::chrono::steady_clock::now() + kReconnectAfter;
    if (!warned) {
      warned = true;
      Log().warn("event notifications unavailable, polling every {} ms instead: {}", poll_interval.count(),
                 e.message());
    }
  }
};

EventWaiter::EventWaiter(GlobalStorage& storage, std::chrono::milliseconds poll_interval)
    : state_(
          std::make_unique<State>(State{storage, std::max(poll_interval, std::chrono::milliseconds(1)),
                                        internal::OpenEventStream(storage.config(), storage.location())})) {
  state_->stream_ok = state_->stream != nullptr;
}
EventWaiter::EventWaiter(EventWaiter&&) noexcept = default;
EventWaiter& EventWaiter::operator=(EventWaiter&&) noexcept = default;
EventWaiter::~EventWaiter() = default;

int64_t EventWaiter::LastSeq() { return state_->LastSeq(); }

bool EventWaiter::notified() const { return state_->stream_ok; }

bool EventWaiter::Wait(int64_t after_seq, std::chrono::milliseconds timeout) {
  State& s = *state_;
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + timeout;
  auto remaining = [&] {
    return std::max(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()),
                    std::chrono::milliseconds(0));
  };
  for (;;) {
    if (s.stream && !s.stream_ok && Clock::now() >= s.retry_at) s.stream_ok = true;  // try Redis again
    // The stream position is taken before the store is read: a commit landing
    // in between is then in the stream after that position and wakes us.
    std::string id;
    if (s.stream_ok) {
      try {
        id = s.stream->LastId();
        if (s.warned) {
          s.warned = false;
          Log().info("event notifications from {} resumed", s.stream->where());
        }
      } catch (const Error& e) {
        s.StreamFailed(e);
      }
    }
    if (s.LastSeq() > after_seq) return true;
    if (remaining().count() == 0) return false;
    if (!s.stream_ok) {
      // The engine's own wait: polling on SQLite, LISTEN/NOTIFY on PostgreSQL.
      if (internal::ImplOf(s.storage).engine->WaitForEvents(
              after_seq, std::min(s.poll_interval, remaining())) > after_seq) {
        return true;
      }
      continue;
    }
    const auto recheck_at = Clock::now() + std::min(kNotifiedRecheck, remaining());
    try {
      while (Clock::now() < recheck_at) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(recheck_at - Clock::now());
        std::optional<int64_t> seq = s.stream->Read(&id, std::max(left, std::chrono::milliseconds(1)));
        if (seq && *seq > after_seq) return true;
      }
    } catch (const Error& e) {
      s.StreamFailed(e);
    }
  }
}

}  // namespace prodigy
