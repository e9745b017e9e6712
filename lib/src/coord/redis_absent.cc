// A build without Redis support (-Dredis=disabled, the default): hiredis is
// not linked, and a configured redis_url is refused instead of ignored, so
// nobody believes they have cross-machine leases or notifications when they
// do not.
#include <fmt/format.h>

#include "coord/coord.h"

namespace prodigy::internal {
namespace {

[[noreturn]] void RefuseRedisUrl() {
  throw Error::Config(
      "a Redis server is configured (redis_url in config.toml or PRODIGY_REDIS_URL) but this "
      "prodigy-store was built without Redis support: rebuild it with `meson configure build "
      "-Dredis=enabled` (needs the libhiredis-dev package), or unset redis_url / PRODIGY_REDIS_URL to "
      "use leases through the database and polling for new events");
}

}  // namespace

bool RedisBuilt() { return false; }

std::unique_ptr<Leases::Backend> OpenRedisLeases(GlobalStorage&) { RefuseRedisUrl(); }

std::unique_ptr<EventNotifier> OpenEventNotifier(const StorageConfig& config, const RepositoryLocation&) {
  if (config.redis_url.empty()) return nullptr;
  RefuseRedisUrl();
}

std::unique_ptr<EventStream> OpenEventStream(const StorageConfig& config, const RepositoryLocation&) {
  if (config.redis_url.empty()) return nullptr;
  RefuseRedisUrl();
}

}  // namespace prodigy::internal
