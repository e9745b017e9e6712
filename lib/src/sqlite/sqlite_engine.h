// The SQLite engine: engine::Engine on one SQLite file per repository. All of
// the library's SQL lives in this folder (and migrations/).
#ifndef PRODIGY_SQLITE_SQLITE_ENGINE_H_
#define PRODIGY_SQLITE_SQLITE_ENGINE_H_

#include <filesystem>
#include <memory>

#include "engine/engine.h"
#include "prodigy/config.h"

namespace prodigy::internal {

// Opens (creating when `create`) the database at `db_path`: checks that it is
// a prodigy-store database no newer than this binary, configures it and
// applies pending migrations. Throws kNotFound when missing and !create.
std::unique_ptr<engine::Engine> OpenSqliteEngine(const std::filesystem::path& db_path,
                                                 const StorageConfig& config, bool create = true);

// Opens an existing database read-only without creating or changing any
// file (locating a repository, the dry run); nullptr when there is no file
// or it cannot be read. Writes through it throw kInvalidArgument.
std::unique_ptr<engine::Engine> OpenSqliteEngineReadOnly(const std::filesystem::path& db_path,
                                                         const StorageConfig& config);

}  // namespace prodigy::internal

#endif  // PRODIGY_SQLITE_SQLITE_ENGINE_H_
