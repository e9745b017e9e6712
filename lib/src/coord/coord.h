// The internal seams of coordination (docs/coordination.md): a lease service
// (database or Redis) behind prodigy::Leases, and the event notification
// path (a Redis Stream per repository). The Redis parts are compiled only
// with -Dredis=enabled; otherwise their factories throw kConfig saying how to
// build them (redis_absent.cc).
#ifndef PRODIGY_COORD_COORD_H_
#define PRODIGY_COORD_COORD_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "prodigy/config.h"
#include "prodigy/coordination.h"
#include "prodigy/error.h"
#include "prodigy/storage.h"

namespace prodigy {

// One lease service. Errors: kIo when its server is unreachable.
class Leases::Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;
  // The new lease, or nullopt with *current set to the live holder.
  virtual std::optional<Lease> TryAcquire(std::string_view key, std::string_view holder,
                                          std::chrono::milliseconds ttl, std::optional<Lease>* current) = 0;
  // The updated lease, or nullopt when (key, token) is no longer live.
  virtual std::optional<Lease> Extend(const Lease& lease, std::chrono::milliseconds ttl) = 0;
  virtual bool Release(const Lease& lease) = 0;
  virtual std::optional<Lease> Current(std::string_view key) = 0;
  virtual std::vector<Lease> List() = 0;
  virtual std::optional<Lease> ForceRelease(std::string_view key) = 0;
};

namespace internal {

// Leases through the repository's database.
std::unique_ptr<Leases::Backend> OpenDatabaseLeases(GlobalStorage& storage);
// Leases through the Redis server of storage.config().redis_url.
std::unique_ptr<Leases::Backend> OpenRedisLeases(GlobalStorage& storage);

// Publishes "events up to seq N are committed" after each committed batch.
// Never throws: notifications are hints, and a commit must not fail because
// Redis is down (the failure is logged once; waiters poll meanwhile).
class EventNotifier {
 public:
  virtual ~EventNotifier() = default;
  virtual void Committed(int64_t last_seq) noexcept = 0;
};
// nullptr when no redis_url is configured. kConfig when one is configured
// but this build has no Redis support, or the URL is malformed.
std::unique_ptr<EventNotifier> OpenEventNotifier(const StorageConfig& config,
                                                 const RepositoryLocation& location);

// Reads a repository's notification stream.
class EventStream {
 public:
  virtual ~EventStream() = default;
  // The id of the newest entry ("0-0" when there is none). kIo when unreachable.
  virtual std::string LastId() = 0;
  // Waits up to `timeout` for entries after *id, moves *id past them and
  // returns the largest seq they carry; nullopt on timeout. kIo on errors.
  virtual std::optional<int64_t> Read(std::string* id, std::chrono::milliseconds timeout) = 0;
  // The server, for log lines (password redacted).
  virtual const std::string& where() const = 0;
};
// nullptr when no redis_url is configured; kConfig as for OpenEventNotifier.
std::unique_ptr<EventStream> OpenEventStream(const StorageConfig& config, const RepositoryLocation& location);

// Whether this build has Redis support (-Dredis=enabled).
bool RedisBuilt();

}  // namespace internal
}  // namespace prodigy

#endif  // PRODIGY_COORD_COORD_H_
