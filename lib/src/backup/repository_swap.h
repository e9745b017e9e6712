// Replacing a repository's database file (restore, recovery) safely: under
// the repository's lock, only when no other process has it open (unless
// forced), moving the current file aside, never deleting it.
#ifndef PRODIGY_BACKUP_REPOSITORY_SWAP_H_
#define PRODIGY_BACKUP_REPOSITORY_SWAP_H_

#include <filesystem>
#include <optional>
#include <string_view>
#include <vector>

#include "prodigy/config.h"
#include "prodigy/storage.h"

namespace prodigy::internal {

// Throws kBusy naming the processes when another process has the
// repository's database open, unless `force`. `operation` names the command.
void RefuseWhileOpen(const RepositoryLocation& loc, bool force, std::string_view operation);

// Moves the current database (with its -wal and -shm files) to `aside` (a
// path beside it, or nullopt for "<db>.<tag>-<time>") and renames
// `replacement` (a file in the same folder) into its place. With
// `checkpoint`, the -wal file is folded in first so the kept file stands
// alone. Returns where the old database went (nullopt: there was none).
std::optional<std::filesystem::path> SwapInDatabase(
    const RepositoryLocation& loc, const std::filesystem::path& replacement, std::string_view tag, bool force,
    std::string_view operation, bool checkpoint = true,
    std::optional<std::filesystem::path> aside = std::nullopt);

// Opens the repository (no automatic legacy migration) and rewrites every
// mirror file from its database.
void RewriteMirrors(const std::filesystem::path& repo_path, const StorageConfig& config);

// Temporary files beside the database (same filesystem, so they can be
// renamed into place), removed however the operation ends.
class TempPaths {
 public:
  TempPaths() = default;
  TempPaths(const TempPaths&) = delete;
  TempPaths& operator=(const TempPaths&) = delete;
  ~TempPaths();
  // A new unique path "<dir>/.<what>-<pid>-<n>"; with `sqlite`, its -wal
  // and -shm companions are removed too.
  std::filesystem::path Add(const std::filesystem::path& dir, std::string_view what, bool sqlite = false);

 private:
  std::vector<std::filesystem::path> paths_;
};

// "20261202-004000": a time for file names.
std::string FileTimeStamp();

}  // namespace prodigy::internal

#endif  // PRODIGY_BACKUP_REPOSITORY_SWAP_H_
