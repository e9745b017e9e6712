// JSON mirror files: the repository's data in the folder layout Prodigy users
// already read (events/<job>/events.jsonl, dlq/<job>/items/<item>.json, ...).
//
// The database is the truth. Every write transaction logs what it changed in
// the mirror_changes table; after the commit, Sync() brings the files up to
// date under an flock, reading the *current* rows, so concurrent writers
// never leave an older version on disk. The highest change applied is kept in
// <repo>/.mirror-mark; a crash between commit and Sync() is healed by the next
// Sync() of any process (Open() runs one).
//
// Files are written whole (temp file + rename), except events.jsonl, which is
// appended to: rewriting a whole log per appended event would cost O(n) per
// event. Its length and last seq are kept in a .mirror-mark beside it, so a torn
// append is detected (length differs) and the file is rewritten.
#ifndef PRODIGY_MIRROR_MIRROR_H_
#define PRODIGY_MIRROR_MIRROR_H_

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <mutex>
#include <span>

#include "engine/engine.h"
#include "prodigy/records.h"
#include "prodigy/storage.h"
#include "store/kinds.h"
#include "util/fs.h"

namespace prodigy::internal {

// Thread-safe: Sync, RegenerateAll, Check and CollapseChangeLog are
// serialized by the object (and between processes by the flock).
class Mirror {
 public:
  // `kinds`: the document kinds mirrored (AllKinds() unless a test adds one).
  Mirror(engine::Engine& engine, const RepositoryLocation& location, const StorageConfig& config,
         std::span<const DocumentKind* const> kinds = AllKinds());

  // Applies every logged change not yet mirrored. Never throws: a failure is
  // logged as a warning and retried by the next Sync().
  void Sync() noexcept;
  // Rewrites every mirror file from the database, removes strays (throws on failure).
  void RegenerateAll();
  // Differences between the files and the database.
  std::vector<MirrorProblem> Check();
  // With mirrors off: replaces the change log by one "gap" row so it stays small
  // (the next Sync() with mirrors on then regenerates everything).
  void CollapseChangeLog();

  // Mirror paths.
  std::filesystem::path EventsFile(const std::string& job_id) const;
  std::filesystem::path DlqItemFile(const std::string& job_id, const std::string& item_id) const;
  std::filesystem::path DlqIndexFile(const std::string& job_id) const;
  std::filesystem::path StateDir(const std::string& job_id) const;
  // The file of a row of a kind mirrored as one file per row (sessions, checkpoints).
  std::filesystem::path DocumentFile(const DocumentKind& kind, const std::string& id) const;

 private:
  // full: rewrite every file, also when the engine keeps no change log (a
  // PostgreSQL store's mirrors are written only on demand).
  void SyncLocked(bool full = false);
  void SyncEvents(engine::ReadTxn& txn, const std::string& job_id, bool rewrite);
  void RewriteEvents(engine::ReadTxn& txn, const std::string& job_id);
  void SyncDlqJob(engine::ReadTxn& txn, const std::string& job_id);
  void SyncDlqItem(engine::ReadTxn& txn, const std::string& job_id, const std::string& item_id);
  void WriteDlqIndex(engine::ReadTxn& txn, const std::string& job_id);
  void SyncState(engine::ReadTxn& txn, const std::string& job_id);
  void SyncDocument(engine::ReadTxn& txn, const DocumentKind& kind, const std::string& id);
  void RemoveStrays(engine::ReadTxn& txn);
  std::string ExpectedDlqIndex(engine::ReadTxn& txn, const std::string& job_id);
  std::string ExpectedStateMetadata(const JobState& latest);
  FileLock& Lock();
  int64_t DatabaseId(engine::ReadTxn& txn);

  engine::Engine& engine_;
  RepositoryLocation loc_;
  StorageConfig config_;
  std::vector<const DocumentKind*> kinds_;
  std::recursive_mutex mu_;
  std::unique_ptr<FileLock> lock_;  // opened on first use, kept open
  std::optional<int64_t> database_id_;
};

}  // namespace prodigy::internal

#endif  // PRODIGY_MIRROR_MIRROR_H_
