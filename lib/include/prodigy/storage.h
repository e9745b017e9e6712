// GlobalStorage: one repository's slice of the global store.
//
// A GlobalStorage owns one SQLite connection to <root>/<repo>/prodigy.db (WAL
// mode) and keeps the JSON mirror files under <root>/<repo>/ up to date after
// each commit. Many processes may open the same repository at once: every
// write is one BEGIN IMMEDIATE transaction that waits (busy timeout plus
// retries) for the others, so "database is locked" does not reach callers.
//
// Thread safety: an object may be shared between threads (calls are
// serialized); opening one object per thread gives more parallelism for reads.
//
// Errors: every function throws prodigy::Error (see error.h) and nothing else.
// A failed write leaves the database as it was (the transaction rolls back).
//
// Documents are passed and returned as JSON text in Prodigy's shapes
// (reference: docs/storage-layout.md). The text is stored verbatim, so fields
// the store does not know survive a round trip byte for byte.
//
// Ids (job ids, DLQ item ids, session ids, workflow ids), whether passed as
// arguments or found in documents, must be non-empty, at most 4096 bytes,
// free of NUL bytes and valid UTF-8; any other id is refused with
// kInvalidArgument naming it. Any other byte is allowed: mirror file names
// encode ids (EncodeFileName).
#ifndef PRODIGY_STORAGE_H_
#define PRODIGY_STORAGE_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "prodigy/config.h"
#include "prodigy/records.h"

namespace prodigy {

// Where a repository's data lives, computed without writing anything.
struct RepositoryLocation {
  std::filesystem::path canonical_path;  // the repository, canonicalized
  std::string name;                      // folder name under the root
  std::filesystem::path dir;             // <root>/<name>
  std::filesystem::path db_path;         // <root>/<name>/prodigy.db
  bool exists = false;                   // the database file exists
};

// Finds the folder of `repo_path` under config.storage_dir. The folder is the
// last component of the canonical path; when that folder already belongs to a
// different repository, the name becomes "<name>-<8 hex of SHA-256(path)>".
// Writes nothing. Throws kNotFound if repo_path does not exist.
RepositoryLocation LocateRepository(const std::filesystem::path& repo_path, const StorageConfig& config);

// The name of the repository on a shared server (PostgreSQL): the config's
// repository_key, else the folder name.
inline std::string RepositoryKey(const StorageConfig& config, const RepositoryLocation& location) {
  return config.repository_key.empty() ? location.name : config.repository_key;
}

struct RepositoryInfo {
  std::string repo_name;
  std::filesystem::path repo_path;
  std::filesystem::path repo_dir;
  std::filesystem::path db_path;
  int64_t db_bytes = 0;  // database plus its -wal file
  int schema_version = 0;
  TableCounts counts;
  bool mirrors_enabled = true;
};

class EventCursor;
namespace internal {
struct StorageAccess;  // the library's own modules (lib/src/store/storage_impl.h)
}  // namespace internal

class GlobalStorage {
 public:
  // Opens (creating if needed) the store of the repository at `repo_path`
  // with the configuration resolved from the environment (config.h).
  // When the repository has legacy Prodigy data and the migration policy is
  // `auto`, it is migrated before this returns.
  static GlobalStorage Open(const std::filesystem::path& repo_path);
  static GlobalStorage OpenWithConfig(const std::filesystem::path& repo_path, const StorageConfig& config);

  GlobalStorage(GlobalStorage&&) noexcept;
  GlobalStorage& operator=(GlobalStorage&&) noexcept;
  ~GlobalStorage();

  const StorageConfig& config() const;
  const RepositoryLocation& location() const;
  // Where the data is, for messages: the database file, or the PostgreSQL
  // server (without its password) and the repository there.
  std::string Where() const;
  RepositoryInfo Info();

  // ---- Job state (MapReduceJobState) --------------------------------------
  // Stores a new version of the job's state. The version is the document's
  // `checkpoint_version`; writing the same version again replaces it, an
  // older version than the newest kept one is refused (a stale writer).
  // Only the newest `state_versions_kept` versions are kept.
  // REQUIRES: state_json is an object with "job_id" == job_id and an integer
  // "checkpoint_version". Returns the version stored.
  int64_t WriteState(std::string_view job_id, std::string_view state_json);
  // The same, made under a lease on the job (coordination.h): refused with
  // kFenced, writing nothing, when `fencing_token` is older than the newest
  // token the store has seen for the job (a newer holder exists).
  int64_t WriteState(std::string_view job_id, std::string_view state_json, int64_t fencing_token);
  // The newest version, or nullopt when the job has no state.
  std::optional<JobState> ReadState(std::string_view job_id);
  std::optional<JobState> ReadStateVersion(std::string_view job_id, int64_t version);
  // Every kept version, newest first.
  std::vector<JobState> StateHistory(std::string_view job_id);
  // The newest state of every job, most recently written first.
  std::vector<JobState> ListJobStates();

  // ---- Events (EventRecord) ----------------------------------------------
  // Appends one record to the job's log. REQUIRES: an object with string "id",
  // RFC 3339 "timestamp" and an object "event" with a string "event_type".
  // Returns the event's seq.
  int64_t AppendEvent(std::string_view job_id, std::string_view event_json);
  // Appends all records in one transaction: all are stored or none.
  // Returns the seq of the last one.
  int64_t AppendEvents(std::string_view job_id, std::span<const std::string> events_json);
  // The job's whole log in append order (loads it into memory: prefer QueryEvents).
  std::vector<Event> ReadEvents(std::string_view job_id);
  // A streaming query in append order that holds only one page in memory.
  EventCursor QueryEvents(const EventQuery& query);
  // The last `n` events matching the query (q.limit is ignored), in append
  // order. Reads only those rows: as fast on a million-event log as on ten.
  std::vector<Event> LastEvents(const EventQuery& query, int64_t n);
  // Calls `fn` for each matching event; stop early by returning false.
  void ForEachEvent(const EventQuery& query, const std::function<bool(const Event&)>& fn);
  int64_t CountEvents(const EventQuery& query);
  std::vector<GroupCount> GroupEvents(const EventQuery& query, EventGroupBy by);
  std::vector<EventJobSummary> ListEventJobs();
  // Deletes the matching events (limit is ignored) and rewrites the mirrors of
  // the jobs involved. Returns how many were deleted.
  int64_t DeleteEvents(const EventQuery& query);

  // ---- Dead-letter queue (DeadLetteredItem) -------------------------------
  // Adds or replaces the item. REQUIRES: an object with a non-empty string
  // "item_id" and RFC 3339 "first_attempt" and "last_attempt".
  void AddDlqItem(std::string_view job_id, std::string_view item_json);
  std::optional<DlqItem> GetDlqItem(std::string_view job_id, std::string_view item_id);
  // Newest last_attempt first.
  std::vector<DlqItem> ListDlqItems(const DlqFilter& filter = {});
  // Returns false when the item did not exist.
  bool RemoveDlqItem(std::string_view job_id, std::string_view item_id);
  // Statistics of one job, or of every job when job_id is empty.
  DlqStats GetDlqStats(std::string_view job_id = {});
  // Removes items whose last_attempt is before `cutoff_ns` (of one job, or of
  // all when job_id is empty). Returns how many were removed.
  int64_t PurgeDlqItems(int64_t cutoff_ns, std::string_view job_id = {});
  // Marks items for reprocessing (all reprocess-eligible items of the job
  // when item_ids is empty). Returns how many were marked. An item id that
  // does not exist is kNotFound and marks nothing.
  int64_t MarkDlqForReprocessing(std::string_view job_id, std::span<const std::string> item_ids = {});
  std::vector<std::string> ListDlqJobs();

  // ---- Sessions -------------------------------------------------------------
  // Saves (inserts or replaces) a session. REQUIRES: an object with a string
  // "session_id" (cook SessionState) or "id" (unified session).
  void SaveSession(std::string_view session_json);
  std::optional<Session> LoadSession(std::string_view session_id);
  // Most recently updated first; only those with `status` when given.
  std::vector<Session> ListSessions(std::optional<std::string_view> status = std::nullopt);
  bool DeleteSession(std::string_view session_id);
  // Sets the document's "status" field, keeping every other field and the
  // key order. Throws kNotFound when there is no such session.
  void UpdateSessionStatus(std::string_view session_id, std::string_view status);

  // ---- Workflow checkpoints ----------------------------------------------
  // REQUIRES: an object with a string "workflow_id".
  void SaveCheckpoint(std::string_view checkpoint_json);
  std::optional<WorkflowCheckpoint> LoadCheckpoint(std::string_view workflow_id);
  // Newest (by the document's timestamp) first.
  std::vector<WorkflowCheckpoint> ListCheckpoints();
  std::optional<WorkflowCheckpoint> LatestCheckpoint();
  bool DeleteCheckpoint(std::string_view workflow_id);

  // ---- Mirrors and checks ---------------------------------------------------
  // Rewrites every mirror file from the database and removes mirror files
  // that no longer correspond to a row.
  void RegenerateMirrors();
  // Writes the mirror files of every change committed so far, before
  // returning. Without it they follow within `mirror_delay_ms` of each commit
  // and when the store is closed (docs/configuration.md).
  void FlushMirrors();
  // Compares every mirror file with what the database would write (after
  // writing what is pending).
  std::vector<MirrorProblem> CheckMirrors();
  // PRAGMA integrity_check; empty when the database is sound.
  std::vector<std::string> CheckIntegrity();

  struct Impl;

 private:
  friend struct internal::StorageAccess;
  explicit GlobalStorage(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Iterates over a query's events page by page (bounded memory). It holds no
// transaction between pages, so writers are never blocked by a slow reader;
// events appended while iterating are seen if they match.
// REQUIRES: the GlobalStorage that returned it outlives it: a cursor reads
// through its storage (moving the storage is fine, destroying it is not).
class EventCursor {
 public:
  EventCursor(EventCursor&&) noexcept;
  EventCursor& operator=(EventCursor&&) noexcept;
  ~EventCursor();
  // Fills *event with the next match; false at the end.
  bool Next(Event* event);
  // seq of the last event returned (the "after" cursor to resume from).
  int64_t last_seq() const;

 private:
  friend class GlobalStorage;
  struct State;
  explicit EventCursor(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// "AgentCompleted", "d_l_q_item_added", "DLQItemAdded" -> "agent_completed",
// "dlq_item_added", "dlq_item_added".
std::string NormalizeEventType(std::string_view type);

// Parses an RFC 3339 timestamp ("2025-09-20T17:03:12.482913Z", any offset,
// 0-9 fractional digits) to nanoseconds since the epoch; nullopt when the text
// is not one or its instant has no 64-bit count (outside 1677-09-21..2262-04-11).
std::optional<int64_t> ParseTimestamp(std::string_view text);
// Formats ns since the epoch as RFC 3339 UTC with 6 fractional digits and "Z".
std::string FormatTimestamp(int64_t ns);
int64_t NowNs();

// Maps an id to a file name that stays inside its folder: ids made only of
// [A-Za-z0-9._-] that do not start with '.' are kept; any other byte
// (including '/', '\\', NUL and '%') becomes %XX, a leading '.' becomes %2E,
// and a name over 200 bytes is cut and suffixed with a hash of the whole id.
std::string EncodeFileName(std::string_view id);

}  // namespace prodigy

#endif  // PRODIGY_STORAGE_H_
