// The migration run of an open repository, shared by Migrate() and the
// automatic migration on open.
#ifndef PRODIGY_LEGACY_MIGRATION_RUN_H_
#define PRODIGY_LEGACY_MIGRATION_RUN_H_

#include "prodigy/migrate.h"
#include "store/storage_impl.h"

namespace prodigy::internal::legacy {

// Discovers, imports, verifies and (unless options.keep_originals) deletes,
// under the repository's migration lock. `only_if_changed`: do nothing when
// the legacy files are exactly those left by the previous run (kept files).
MigrationReport RunMigration(GlobalStorage::Impl& impl, const MigrationOptions& options,
                             bool only_if_changed);

// Cheap check for the open path: whether legacy folders exist whose files
// differ from those the previous run left in place.
bool LegacyDataChanged(GlobalStorage::Impl& impl);

// The automatic migration on open (policy `auto`): runs when the legacy data
// changed since the last run; reports on stderr and never throws, the store
// being usable either way.
void AutoMigrate(GlobalStorage::Impl& impl);

}  // namespace prodigy::internal::legacy

#endif  // PRODIGY_LEGACY_MIGRATION_RUN_H_
