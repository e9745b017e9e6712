// `sync` in a build without the PostgreSQL engine: a clear error saying how
// to get one, instead of a missing symbol.
#include <fmt/format.h>

#include "config/engines.h"
#include "prodigy/error.h"
#include "prodigy/sync.h"

namespace prodigy {
namespace {

[[noreturn]] void Unavailable(const SyncOptions& options) {
  StorageConfig config;
  config.storage_url = options.url;
  config.storage_url_source = StorageDirSource::kFlag;
  internal::RequireEngineBuilt(config);  // throws for a PostgreSQL URL
  throw Error(ErrorCode::kConfig, fmt::format("sync needs a PostgreSQL URL, not '{}'", RedactStorageUrl(options.url)));
}

}  // namespace

SyncReport SyncToServer(const std::filesystem::path&, const StorageConfig&, const SyncOptions& options) {
  Unavailable(options);
}
SyncReport SyncFromServer(const std::filesystem::path&, const StorageConfig&, const SyncOptions& options) {
  Unavailable(options);
}

}  // namespace prodigy
