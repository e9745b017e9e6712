// Helpers of the importer tests: fixture trees copied into a sandbox, and
// byte-exact snapshots of folders.
#ifndef PRODIGY_TESTS_LEGACY_UTIL_H_
#define PRODIGY_TESTS_LEGACY_UTIL_H_

#include <sys/stat.h>
#include <sys/time.h>

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include "../unit/test_util.h"

#include "prodigy/storage.h"

namespace prodigy::test {

inline fs::path TestData() {
  const char* dir = std::getenv("PRODIGY_TEST_DATA");
  REQUIRE_MESSAGE(dir != nullptr, "PRODIGY_TEST_DATA is not set (run the tests through meson)");
  return dir;
}

inline fs::path SharedData() {
  const char* dir = std::getenv("PRODIGY_SHARED_DATA");
  REQUIRE_MESSAGE(dir != nullptr,
                  "PRODIGY_SHARED_DATA is not set: meson sets it when ../shared is beside the checkout; "
                  "elsewhere export it (the folder shared/data/prodigy-real)");
  return dir;
}

// Copies a tree (files byte for byte, writable copies).
inline void CopyTree(const fs::path& from, const fs::path& to) {
  fs::create_directories(to);
  for (const auto& e : fs::recursive_directory_iterator(from)) {
    const fs::path target = to / e.path().lexically_relative(from);
    if (e.is_directory()) {
      fs::create_directories(target);
    } else {
      fs::create_directories(target.parent_path());
      fs::copy_file(e.path(), target, fs::copy_options::overwrite_existing);
      fs::permissions(target, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                                  fs::perms::others_read);
    }
  }
}

inline void SetMtime(const fs::path& p, long seconds) {
  struct timeval tv[2] = {{seconds, 0}, {seconds, 0}};
  REQUIRE(::utimes(p.c_str(), tv) == 0);
}

// Every file (relative path -> content) and folder under `dir`.
struct TreeSnapshot {
  std::map<std::string, std::string> files;
  std::vector<std::string> dirs;
  bool operator==(const TreeSnapshot&) const = default;
};

inline TreeSnapshot Snapshot(const fs::path& dir) {
  TreeSnapshot s;
  if (!fs::exists(dir)) return s;
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it) {
    const std::string rel = it->path().lexically_relative(dir).string();
    if (it->is_symlink()) {
      s.files[rel] = "symlink:" + fs::read_symlink(it->path()).string();
      it.disable_recursion_pending();
    } else if (it->is_directory()) {
      s.dirs.push_back(rel);
    } else {
      s.files[rel] = ReadAll(it->path());
    }
  }
  std::sort(s.dirs.begin(), s.dirs.end());
  return s;
}

// The full fixture (every layout and quirk) in a sandbox: the repository's
// folders in sb.repo and the global layout in sb.root. The documents that
// share a key get mtimes contrary to their content, to show that the content
// decides which one becomes the row (live session file, later last_attempt).
inline void SetupFullFixture(const Sandbox& sb) {
  const fs::path full = TestData() / "legacy" / "full";
  CopyTree(full / "repo", sb.repo);
  CopyTree(full / "global", sb.root);
  const fs::path local = sb.repo / ".prodigy";
  SetMtime(local / "session-6feea3fd-8b9a-4891-9326-45ddd35fbd70.json", 1758169000);
  SetMtime(local / "session_state.json", 1758168000);
  SetMtime(local / "mapreduce/dlq/mapreduce-1758387792480/items/item_2.json", 1758390000);
  SetMtime(
      sb.root / "dlq/my-repo/mapreduce-1758387792480/mapreduce/dlq/mapreduce-1758387792480/items/item_2.json",
      1758380000);
}

inline StorageConfig AutoConfig(const Sandbox& sb) {
  StorageConfig config = sb.Config();
  config.migration = MigrationPolicy::kAuto;
  return config;
}

inline const LegacySource* FindSource(const MigrationReport& report, const std::string& rel_suffix) {
  for (const LegacySource& s : report.sources) {
    if (s.rel_path.size() >= rel_suffix.size() &&
        s.rel_path.compare(s.rel_path.size() - rel_suffix.size(), rel_suffix.size(), rel_suffix) == 0) {
      return &s;
    }
  }
  return nullptr;
}

// The tests look at the database as any SQLite tool would: a connection of their own.
inline int64_t Count(GlobalStorage& storage, const std::string& sql) {
  SQLite::Database db(storage.location().db_path.string(), SQLite::OPEN_READWRITE);
  return db.execAndGet(sql).getInt64();
}

inline std::string Query(GlobalStorage& storage, const std::string& sql) {
  SQLite::Database db(storage.location().db_path.string(), SQLite::OPEN_READWRITE);
  std::string out;
  SQLite::Statement q(db, sql);
  if (q.executeStep() && !q.getColumn(0).isNull()) {
    out.assign(static_cast<const char*>(q.getColumn(0).getBlob()),
               static_cast<size_t>(q.getColumn(0).getBytes()));
  }
  return out;
}

}  // namespace prodigy::test

#endif  // PRODIGY_TESTS_LEGACY_UTIL_H_
