// The automatic migration on open (config migration = auto).
#include <cstdio>
#include <string_view>

#include "legacy/migration_run.h"
#include "prodigy/error.h"
#include "store/storage_impl.h"
#include "util/log.h"

namespace prodigy::internal::legacy {

void AutoMigrate(GlobalStorage::Impl& impl) {
  // The common case costs a few lstat calls: no legacy folders, or only the
  // files that an earlier run left in place.
  if (!LegacyDataChanged(impl)) return;
  MigrationOptions options;
  options.on_message = [](std::string_view line) {
    std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
  };
  try {
    RunMigration(impl, options, /*only_if_changed=*/true);
  } catch (const Error& e) {
    // The store itself is usable; the originals are all still in place.
    std::fprintf(stderr,
                 "prodigy-store: the migration of legacy Prodigy data stopped: %s\n"
                 "Nothing was deleted. Run 'prodigy-store migrate' once the cause is fixed.\n",
                 e.what());
  }
}

}  // namespace prodigy::internal::legacy
