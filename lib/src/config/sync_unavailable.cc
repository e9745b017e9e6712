// A build without the PostgreSQL engine: `sync` and opening a store on a
// server give a clear error saying how to get one, instead of a missing symbol.
#include <fmt/format.h>

#include "config/engines.h"
#include "postgres/postgres_engine.h"
#include "prodigy/error.h"
#include "prodigy/sync.h"

namespace prodigy {
namespace {

[[noreturn]] void Unavailable(const SyncOptions& options) {
  StorageConfig config;
  config.storage_url = options.url;
  config.storage_url_source = StorageDirSource::kFlag;
  internal::RequireEngineBuilt(config);  // throws for a PostgreSQL URL
  throw Error::Config(fmt::format("sync needs a PostgreSQL URL, not '{}'", RedactStorageUrl(options.url)));
}

}  // namespace

SyncReport SyncToServer(const std::filesystem::path&, const StorageConfig&, const SyncOptions& options) {
  Unavailable(options);
}
SyncReport SyncFromServer(const std::filesystem::path&, const StorageConfig&, const SyncOptions& options) {
  Unavailable(options);
}

namespace internal {
std::unique_ptr<engine::Engine> OpenPostgresEngine(const StorageConfig& config, const PostgresRepository&,
                                                   bool) {
  RequireEngineBuilt(config);  // throws for a PostgreSQL URL
  throw Error::Internal("the PostgreSQL engine was asked for a non-PostgreSQL storage URL");
}
}  // namespace internal

}  // namespace prodigy
