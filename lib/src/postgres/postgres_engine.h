// The PostgreSQL engine: engine::Engine on one PostgreSQL database shared by
// many repositories (and machines), each identified by its repository key.
// All of the engine's SQL lives in this folder (and migrations/postgres/).
#ifndef PRODIGY_POSTGRES_POSTGRES_ENGINE_H_
#define PRODIGY_POSTGRES_POSTGRES_ENGINE_H_

#include <memory>
#include <string>

#include "engine/engine.h"
#include "prodigy/config.h"

namespace prodigy::internal {

// The repository as the server knows it.
struct PostgresRepository {
  std::string key;             // repository_key (default: the folder name)
  std::string name;            // folder name, recorded when the row is created
  std::string canonical_path;  // recorded when the row is created
};

// Connects to config.storage_url, brings the schema up to date and finds the
// repository's row by key, creating it when `create` (else kNotFound).
// Errors name the server without its password.
std::unique_ptr<engine::Engine> OpenPostgresEngine(const StorageConfig& config,
                                                   const PostgresRepository& repo, bool create = true);

}  // namespace prodigy::internal

#endif  // PRODIGY_POSTGRES_POSTGRES_ENGINE_H_
