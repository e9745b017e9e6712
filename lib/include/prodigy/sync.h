// Copying one repository's store between the local SQLite store and a
// PostgreSQL server (`prodigy-store sync`), verified and all or nothing.
//
// Both directions copy every data table (events with their seq, DLQ items,
// job states, sessions, workflow checkpoints and the legacy import ledger)
// inside one transaction on each side, then compare per table the row count
// and a SHA-256 over the rows in key order, computed on both sides; only when
// all match is anything committed. Needs a build with -Dpostgres=enabled
// (otherwise Error(kConfig) says how to build it).
#ifndef PRODIGY_SYNC_H_
#define PRODIGY_SYNC_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "prodigy/config.h"

namespace prodigy {

struct SyncOptions {
  // The PostgreSQL server (postgresql://... or libpq's key=value form).
  std::string url;
  // Overwrite data of another origin: on the server, a repository with the
  // same key copied from a different database; locally, a non-empty store.
  bool replace = false;
  // Called as rows are copied (table, rows so far of that table).
  std::function<void(std::string_view table, int64_t rows)> progress;
};

struct SyncTable {
  std::string table;
  int64_t rows = 0;
  std::string sha256;  // over the rows in key order, equal on both sides
};

struct SyncReport {
  std::string server;          // the URL, password redacted
  std::string repository_key;  // the repository's name on the server
  std::vector<SyncTable> tables;
};

// Copies the repository's local SQLite store (which must exist) to the server,
// replacing what the server held for its repository key.
SyncReport SyncToServer(const std::filesystem::path& repo_path, const StorageConfig& config,
                        const SyncOptions& options);

// Copies the repository (by key) from the server into the local SQLite store,
// creating it when missing; mirror files are rewritten on the next open.
SyncReport SyncFromServer(const std::filesystem::path& repo_path, const StorageConfig& config,
                          const SyncOptions& options);

}  // namespace prodigy

#endif  // PRODIGY_SYNC_H_
