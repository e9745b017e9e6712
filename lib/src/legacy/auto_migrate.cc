// Placeholder until the importer lands: opening never migrates.
#include "store/storage_impl.h"

namespace prodigy::internal {

void AutoMigrateOnOpen(GlobalStorage&) {}

}  // namespace prodigy::internal
