// Opening a repository: the store, then (policy `auto`) the import of legacy
// Prodigy data. Orchestrated here, above both, so the store does not depend
// on the importer.
#include "legacy/migration_run.h"
#include "prodigy/storage.h"
#include "store/storage_impl.h"

namespace prodigy {

GlobalStorage GlobalStorage::Open(const std::filesystem::path& repo_path) {
  return OpenWithConfig(repo_path, ResolveConfig());
}

GlobalStorage GlobalStorage::OpenWithConfig(const std::filesystem::path& repo_path,
                                            const StorageConfig& config) {
  GlobalStorage storage = internal::OpenStore(repo_path, config);
  // Legacy data is imported into the local SQLite store only; a server store
  // gets it with `sync --to` (docs/postgres.md).
  if (config.migration == MigrationPolicy::kAuto && EngineOf(config) == Engine::kSqlite) {
    internal::legacy::AutoMigrate(internal::ImplOf(storage));
  }
  return storage;
}

}  // namespace prodigy
