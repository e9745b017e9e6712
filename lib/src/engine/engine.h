// The storage-engine seam: what GlobalStorage, the mirrors and the legacy
// importer need from a database, and nothing about how a database does it.
//
// Like LiteCore's DataFile/KeyStore: the layers above validate documents and
// extract their columns (store/rows.h), decide what a kind is (store/kinds.h)
// and what files it mirrors to; an engine stores and finds rows. Every engine
// stores the same columns (engine/schema.h). The SQLite engine lives in
// lib/src/sqlite/ and holds all of the library's SQL; a PostgreSQL engine
// implements the same interface.
//
// Transactions are objects: a function that writes takes a WriteTxn&, so a
// write outside a transaction does not compile. Engine::Write and Engine::Read
// are the only places that lock: an Engine may be shared between threads, its
// calls are serialized.
//
// Errors: every function throws prodigy::Error (engines map their own errors:
// busy -> kBusy, damaged -> kCorruption, full disk -> kIo, ...), naming the
// database. An exception inside Write rolls the transaction back.
#ifndef PRODIGY_ENGINE_ENGINE_H_
#define PRODIGY_ENGINE_ENGINE_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/schema.h"
#include "prodigy/coordination.h"
#include "prodigy/records.h"

namespace prodigy::engine {

// Called for each row; return false to stop.
using RowFn = std::function<bool(const RowView& row)>;

// ---- Row types of the engine's own bookkeeping tables ----------------------

// A mirror change: the mirror file(s) of (kind, key1[, key2]) need writing.
// Kinds: "events", "events_rewrite", "dlq", "state", "session",
// "checkpoint", and "gap" (regenerate everything).
struct Change {
  int64_t seq = 0;
  std::string kind;
  std::string key1;
  std::optional<std::string> key2;
};

// One imported legacy source (the import ledger).
struct LedgerRow {
  int64_t id = 0;  // assigned by LedgerInsert
  std::string path;
  std::string legacy_root;
  std::string rel_path;
  std::string kind;
  std::string job_id;
  uint64_t bytes = 0;
  std::string sha256;
  int64_t mtime_ns = 0;
  uint64_t inode = 0;
  int64_t rows = 0;
  int64_t unparsed = 0;
  bool final_newline = true;
  std::string content_sha256;
  std::optional<int64_t> first_seq;
  std::optional<int64_t> last_seq;
  std::string row_table;  // the document row it wrote: its table and key
  std::string row_key1;
  std::string row_key2;
  std::string status;  // "imported", "verified", "removed"
  std::string note;
  std::string imported_at;
  std::string verified_at;
  std::string removed_at;
};

// Aggregates of one event log, for ListEventJobs.
struct EventJobStats {
  std::string job_id;
  int64_t events = 0;
  std::optional<int64_t> first_ts_ns;
  std::optional<int64_t> last_ts_ns;
  int64_t started = 0;    // job_started events
  int64_t completed = 0;  // job_completed events
  int64_t failed = 0;     // job_failed events
};

// The outcome of AcquireLease.
struct LeaseGrant {
  bool granted = false;
  Lease lease;  // the new lease when granted, else the live holder's
};

// Rows removed by a bulk delete, and the groups (jobs) they belonged to, so
// the caller can log the mirror changes in the same transaction.
struct Removed {
  int64_t count = 0;
  std::vector<std::string> jobs;
};

// ---- Transactions -------------------------------------------------------

// Reads. A ReadTxn from Engine::Snapshot sees one consistent state across all
// its calls; one from Engine::Read only per call (cheaper: no transaction).
class ReadTxn {
 public:
  virtual ~ReadTxn() = default;

  // -- Rows of any table, by key (the generic paths every kind uses) --
  // Calls fn with the row whose key columns equal `key`; false when none.
  virtual bool Get(const TableSpec& t, std::span<const Value> key, const RowFn& fn) = 0;
  // Rows whose leading key columns equal `prefix` (all rows when empty), in
  // key order, descending when `descending`.
  virtual void Scan(const TableSpec& t, std::span<const Value> prefix, bool descending, const RowFn& fn) = 0;
  // Distinct values of t.group_column, ascending.
  virtual std::vector<std::string> Groups(const TableSpec& t) = 0;
  virtual int64_t Count(const TableSpec& t) = 0;

  // -- Events --
  // Events matching q with seq > q.after_seq in seq order, at most `limit`
  // (q.limit is ignored: the caller pages).
  virtual void QueryEvents(const EventQuery& q, int64_t limit, const RowFn& fn) = 0;
  // The newest `limit` events matching q, newest first: reads only those
  // rows (an index walked backwards), whatever the length of the log.
  virtual void NewestEvents(const EventQuery& q, int64_t limit, const RowFn& fn) = 0;
  virtual int64_t CountEvents(const EventQuery& q) = 0;
  // The newest event seq of the repository (any job), 0 when it has none.
  virtual int64_t LastEventSeq() = 0;
  // Most frequent first, then by key; NULL keys count as "".
  virtual std::vector<GroupCount> GroupEvents(const EventQuery& q, EventGroupBy by) = 0;
  // Every log, the most recently appended to first.
  virtual std::vector<EventJobStats> EventJobs() = 0;
  // (seq, json) of one job's log with seq > after_seq, in seq order (the mirror).
  virtual void EventLog(std::string_view job_id, int64_t after_seq,
                        const std::function<bool(int64_t seq, std::string_view json)>& fn) = 0;

  // -- Dead-letter queue --
  // Filtered, newest last_attempt first (then job, item).
  virtual void ListDlq(const DlqFilter& f, const RowFn& fn) = 0;
  // Statistics of one job, or of all when job_id is empty.
  virtual DlqStats DlqStatistics(std::string_view job_id) = 0;

  // -- Job state --
  virtual std::optional<int64_t> MaxStateVersion(std::string_view job_id) = 0;
  // The newest version of every job, most recently written first.
  virtual void LatestStates(const RowFn& fn) = 0;

  // -- Sessions and workflow checkpoints --
  // Most recently updated first; only those with `status` when given.
  virtual void ListSessions(std::optional<std::string_view> status, const RowFn& fn) = 0;
  // Newest document timestamp first (rows without one last).
  virtual void ListCheckpoints(std::optional<int64_t> limit, const RowFn& fn) = 0;

  // -- The repository --
  // The canonical path recorded by ClaimRepository, if any.
  virtual std::optional<std::string> RecordedRepository() = 0;
  virtual std::optional<std::string> Meta(std::string_view key) = 0;
  virtual TableCounts Counts() = 0;

  // -- Leases and fencing tokens (docs/coordination.md) --
  // Times are wall-clock ns (NowNs()); a lease whose expires_at_ns <= now_ns
  // is free. The newest fencing token recorded for `key`, 0 when none.
  virtual int64_t Fence(std::string_view key) = 0;
  // The live holder of `key`, if any.
  virtual std::optional<Lease> CurrentLease(std::string_view key, int64_t now_ns) = 0;
  // Live leases by key.
  virtual std::vector<Lease> ListLeases(int64_t now_ns) = 0;

  // -- Mirror change log --
  // min and max seq of the log; nullopt when empty.
  virtual std::optional<std::pair<int64_t, int64_t>> ChangeRange() = 0;
  // Distinct changes with after < seq <= upto.
  virtual void Changes(int64_t after, int64_t upto, const std::function<void(const Change&)>& fn) = 0;

  // -- Import ledger and what imports keep --
  // (One row by id, or all of them: legacy/ledger.h, through Get and Scan.)
  virtual std::vector<LedgerRow> LedgerByPath(std::string_view path) = 0;
  // Rows of the source removed or replaced after its import.
  virtual int64_t RowsChanged(int64_t source_id) = 0;
  virtual bool HasBlob(int64_t source_id) = 0;
  // Kept bytes in chunk order; fn(chunk_no, bytes).
  virtual void Blob(int64_t source_id, const std::function<bool(int64_t, std::string_view)>& fn) = 0;
  // Events a line source wrote (seq in [first_seq, last_seq]), in seq order: fn(line_no, json).
  virtual void ImportedEvents(int64_t source_id, int64_t first_seq, int64_t last_seq,
                              const std::function<bool(int64_t, std::string_view)>& fn) = 0;
  virtual int64_t CountImportedEvents(int64_t source_id, int64_t first_seq, int64_t last_seq) = 0;
  // Unparsed lines with line_no >= from_line in line order: fn(line_no, raw).
  virtual void UnparsedLines(int64_t source_id, int64_t from_line,
                             const std::function<bool(int64_t, std::string_view)>& fn) = 0;
  virtual int64_t CountUnparsed(int64_t source_id) = 0;
};

class WriteTxn : public ReadTxn {
 public:
  // -- Rows of any table --
  // Inserts or replaces the row with the same key. `row` holds a value per
  // column of t in order (generated columns ignored).
  virtual void Put(const TableSpec& t, std::span<const Value> row) = 0;
  // Deletes the row with this key; false when there was none.
  virtual bool Delete(const TableSpec& t, std::span<const Value> key) = 0;
  // Clears t.source_column of the keyed row when it names `source_id`.
  virtual void Detach(const TableSpec& t, std::span<const Value> key, int64_t source_id) = 0;

  // -- Events --
  // Appends a row to the events table and returns its seq. Seqs increase in
  // COMMIT order: a reader that paged up to seq N never later finds a
  // committed event with seq <= N (cursors resume "after seq").
  virtual int64_t AppendEvent(std::span<const Value> row) = 0;
  // When the events table is empty: its secondary indexes are built once when
  // this transaction commits instead of row by row (a first import). The
  // transaction stays atomic; a rollback keeps the indexes. May do nothing.
  virtual void DeferEventIndexes() = 0;
  virtual Removed DeleteEvents(const EventQuery& q) = 0;
  // The events a source wrote (re-import); returns the job they belonged to.
  virtual Removed DeleteImportedEvents(int64_t source_id, int64_t first_seq, int64_t last_seq) = 0;

  // -- Dead-letter queue --
  virtual Removed PurgeDlq(int64_t cutoff_ns, std::string_view job_id) = 0;
  // Sets reprocess_requested_at = now on every reprocess-eligible item of the job.
  virtual int64_t MarkDlqJob(std::string_view job_id, std::string_view now) = 0;
  // On one item; false when it does not exist.
  virtual bool MarkDlqItem(std::string_view job_id, std::string_view item_id, std::string_view now) = 0;

  // -- Job state --
  // Deletes all but the newest `keep` versions of the job.
  virtual void PruneStates(std::string_view job_id, int64_t keep) = 0;

  // -- Leases and fencing tokens --
  // Records `token` as the newest seen for `key` when it is newer; returns the
  // newest recorded before (0 when none). Never lowers it.
  virtual int64_t RaiseFence(std::string_view key, int64_t token) = 0;
  // Grants `key` to `holder` until expires_at_ns when it is free at now_ns,
  // with the token after the key's fence, and raises the fence to it.
  virtual LeaseGrant AcquireLease(std::string_view key, std::string_view holder, int64_t now_ns,
                                  int64_t expires_at_ns) = 0;
  // Moves the end of the live lease (key, token); false when it expired or
  // another token holds the key.
  virtual bool ExtendLease(std::string_view key, int64_t token, int64_t now_ns, int64_t expires_at_ns) = 0;
  // Ends the live lease (key, token); false when it was not held.
  virtual bool ReleaseLease(std::string_view key, int64_t token, int64_t now_ns) = 0;
  // Ends whatever lease holds `key`; returns it when it was live.
  virtual std::optional<Lease> ForceReleaseLease(std::string_view key, int64_t now_ns) = 0;

  // -- The repository --
  // Records the repository unless one is recorded; returns the recorded path.
  virtual std::string ClaimRepository(std::string_view canonical_path, std::string_view name,
                                      std::string_view created_at) = 0;
  virtual void SetMeta(std::string_view key, std::string_view value) = 0;

  // -- Mirror change log --
  virtual void LogChange(std::string_view kind, std::string_view key1,
                         std::optional<std::string_view> key2 = std::nullopt) = 0;
  // Drops changes with seq < before.
  virtual void PruneChanges(int64_t before) = 0;
  // Replaces the log by one "gap" change (mirrors off: keeps it small).
  virtual void CollapseChanges() = 0;

  // -- Import ledger --
  virtual int64_t LedgerInsert(const LedgerRow& row) = 0;
  virtual void LedgerUpdate(const LedgerRow& row) = 0;
  // Sets the status and, for "verified"/"removed", its time.
  virtual void LedgerSetStatus(int64_t id, std::string_view status, std::string_view now) = 0;
  // Deletes the ledger row with its unparsed lines and kept bytes.
  virtual void LedgerDelete(int64_t id) = 0;
  virtual void AppendBlob(int64_t source_id, int64_t chunk, std::string_view bytes) = 0;
  virtual void InsertUnparsed(int64_t source_id, int64_t line_no, std::string_view raw,
                              std::string_view reason) = 0;
};

// ---- The engine ------------------------------------------------------------

class Engine {
 public:
  virtual ~Engine() = default;

  // "sqlite", "postgres".
  virtual std::string_view name() const = 0;
  // The database, as messages name it (a path, a URL without password).
  virtual const std::string& where() const = 0;
  virtual int SchemaVersion() = 0;

  // One write transaction: all of fn's writes commit or none. Waits for other
  // writers (other processes) up to the configured busy timeout and retries;
  // only then kBusy. Nested calls join the outer transaction.
  virtual void Write(const std::function<void(WriteTxn&)>& fn) = 0;
  // Reads without a transaction (each call is consistent on its own).
  virtual void Read(const std::function<void(ReadTxn&)>& fn) = 0;
  // Reads inside one read transaction: one consistent state.
  virtual void Snapshot(const std::function<void(ReadTxn&)>& fn) = 0;

  // "Notify me of new events": returns the highest event seq once it exceeds
  // after_seq, or after_seq when `timeout` passes first. Events of other
  // processes count.
  virtual int64_t WaitForEvents(int64_t after_seq, std::chrono::milliseconds timeout) = 0;

  // The engine's own consistency check; empty when sound.
  virtual std::vector<std::string> CheckIntegrity() = 0;
  // A hint for bulk reads that touch every row once (verification, export);
  // ends when the returned object is destroyed.
  virtual std::shared_ptr<void> BulkReads() = 0;
  // A hint for one write transaction that adds many rows (a large legacy
  // log), taken outside any transaction; ends when the returned object is
  // destroyed. SQLite then writes new pages once (a rollback journal instead
  // of WAL) if no other connection has the database open.
  virtual std::shared_ptr<void> BulkWrites() = 0;
};

}  // namespace prodigy::engine

#endif  // PRODIGY_ENGINE_ENGINE_H_
