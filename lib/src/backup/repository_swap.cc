#include "backup/repository_swap.h"

#include <unistd.h>

#include <atomic>
#include <ctime>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "backup/gzip.h"
#include "prodigy/error.h"
#include "sqlite/snapshot.h"
#include "util/fs.h"

namespace prodigy::internal {

namespace fs = std::filesystem;

std::string FileTimeStamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  return buf;
}

TempPaths::~TempPaths() {
  for (const fs::path& p : paths_) {
    std::error_code ec;
    fs::remove(p, ec);
  }
}

fs::path TempPaths::Add(const fs::path& dir, std::string_view what, bool sqlite) {
  static std::atomic<int> counter{0};
  const fs::path p = dir / fmt::format(".{}-{}-{}", what, ::getpid(), ++counter);
  paths_.push_back(p);
  if (sqlite) {
    paths_.push_back(p.string() + "-wal");
    paths_.push_back(p.string() + "-shm");
    paths_.push_back(p.string() + "-journal");
  }
  return p;
}

void RefuseWhileOpen(const RepositoryLocation& loc, bool force, std::string_view operation) {
  const std::vector<pid_t> pids = ProcessesHoldingOpen(loc.db_path);
  if (pids.empty() || force) return;
  throw Error::Busy(
      fmt::format("{} is open in another process (pid {}); stop it (Prodigy agents, 'prodigy-store events "
                  "tail -f', sqlite3) and run {} again, or add --force (its later writes would go to the "
                  "file moved aside). Nothing was changed.",
                  loc.db_path.string(), fmt::join(pids, ", "), operation));
}

std::optional<fs::path> SwapInDatabase(const RepositoryLocation& loc, const fs::path& replacement,
                                       std::string_view tag, bool force, std::string_view operation,
                                       bool checkpoint, std::optional<fs::path> aside) {
  // The mirror lock: no mirror sync runs against the old file meanwhile, and
  // two restores or recoveries of one repository take turns.
  FileLock lock(loc.dir / ".mirror.lock");
  FileLockGuard guard(lock);
  RefuseWhileOpen(loc, force, operation);
  std::error_code ec;
  std::optional<fs::path> moved;
  if (fs::exists(loc.db_path, ec)) {
    if (checkpoint) CheckpointQuietly(loc.db_path);
    moved = aside ? *aside : fs::path(fmt::format("{}.{}-{}", loc.db_path.string(), tag, FileTimeStamp()));
    for (int n = 2; !aside && fs::exists(*moved, ec); ++n) {
      moved = fmt::format("{}.{}-{}-{}", loc.db_path.string(), tag, FileTimeStamp(), n);
    }
    for (const char* suffix : {"-wal", "-shm"}) {
      const fs::path from = loc.db_path.string() + suffix;
      if (!fs::exists(from, ec)) continue;
      fs::rename(from, moved->string() + suffix, ec);
      if (ec) ThrowIo("cannot move aside", from, ec.value());
    }
    fs::rename(loc.db_path, *moved, ec);
    if (ec) ThrowIo("cannot move aside", loc.db_path, ec.value());
  }
  fs::rename(replacement, loc.db_path, ec);
  if (ec) {
    // Put the old database back: the repository must never be left without one.
    if (moved) {
      std::error_code back;
      fs::rename(*moved, loc.db_path, back);
    }
    ThrowIo("cannot put the new database in place at", loc.db_path, ec.value());
  }
  SyncPath(loc.dir);
  return moved;
}

void RewriteMirrors(const fs::path& repo_path, const StorageConfig& config) {
  StorageConfig c = config;
  c.migration = MigrationPolicy::kOff;
  GlobalStorage storage = GlobalStorage::OpenWithConfig(repo_path, c);
  if (c.mirrors) storage.RegenerateMirrors();
}

}  // namespace prodigy::internal
