// Extraction of query columns from Prodigy documents, and the row writers.
// Shared by the GlobalStorage API and the legacy importer, so a document is
// stored the same way whichever door it came in by.
#ifndef PRODIGY_STORE_ROWS_H_
#define PRODIGY_STORE_ROWS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "prodigy/records.h"
#include "sqlite/connection.h"

namespace prodigy::internal {

bool IsValidUtf8(std::string_view s);

// Throws kInvalidArgument unless `id` is usable as a key: non-empty, at most
// 4096 bytes, no NUL byte, valid UTF-8. `what` names it ("job id", ...).
void ValidateId(std::string_view what, std::string_view id);

// Each Extract* parses `json`, checks the required fields named in storage.h
// and fills the record (json included). Errors are kInvalidArgument naming
// the document ("event for job X", "DLQ item of job X", ...) and the field.
// A JSON text spanning several lines is stored compacted for events (a JSONL
// line cannot contain a newline); every other document is kept as given.
Event ExtractEvent(std::string_view job_id, std::string_view json);
// ExtractEvent's general path (nlohmann/json). ExtractEvent first tries a
// fast scan (store/event_scan.h) that yields the same Event; the tests
// compare the two through this function.
Event ExtractEventGeneral(std::string_view job_id, std::string_view json);
DlqItem ExtractDlqItem(std::string_view job_id, std::string_view json);
JobState ExtractJobState(std::string_view job_id, std::string_view json);
Session ExtractSession(std::string_view json);
WorkflowCheckpoint ExtractCheckpoint(std::string_view json);

// Row writers. `source_id`/`line_no` tie a row to an imported legacy file.
int64_t InsertEvent(WriteTxn& txn, const Event& e, std::optional<int64_t> source_id = std::nullopt,
                    std::optional<int64_t> line_no = std::nullopt);
void UpsertDlqItem(WriteTxn& txn, const DlqItem& item, std::optional<int64_t> source_id = std::nullopt);
// Inserts or replaces (job_id, version), then prunes versions beyond `keep`.
// Refuses a version older than the newest kept one unless `allow_older`.
void InsertJobState(WriteTxn& txn, const JobState& state, int keep, bool allow_older = false,
                    std::optional<int64_t> source_id = std::nullopt);
void UpsertSession(WriteTxn& txn, const Session& session, std::optional<int64_t> source_id = std::nullopt);
void UpsertCheckpoint(WriteTxn& txn, const WorkflowCheckpoint& cp,
                      std::optional<int64_t> source_id = std::nullopt);

// Mirror change kinds (see mirror/mirror.h).
inline constexpr const char* kChangeEvents = "events";
inline constexpr const char* kChangeEventsRewrite = "events_rewrite";
inline constexpr const char* kChangeDlq = "dlq";          // key2: item id, or NULL for the whole job
inline constexpr const char* kChangeState = "state";
inline constexpr const char* kChangeSession = "session";
inline constexpr const char* kChangeCheckpoint = "checkpoint";

// Records that a mirror file needs writing after the commit.
void LogChange(WriteTxn& txn, const char* kind, std::string_view key1,
               std::optional<std::string_view> key2 = std::nullopt);

// A column as text ("" for NULL) / as an integer (nullopt for NULL).
std::string ColumnText(SQLite::Statement& s, int i);
std::optional<int64_t> ColumnOptInt(SQLite::Statement& s, int i);

// Reading helpers: the SELECT column lists and row readers for each record.
inline constexpr const char* kEventColumns =
    "seq, job_id, record_id, timestamp, ts_ns, event_type, event_name, event_job_id, agent_id, "
    "item_id, correlation_id, json";
Event ReadEventRow(SQLite::Statement& s);
inline constexpr const char* kDlqColumns =
    "job_id, item_id, first_attempt, last_attempt, last_attempt_ns, failure_count, error_signature, "
    "error_type, reprocess_eligible, manual_review_required, reprocess_requested_at, updated_at, json";
DlqItem ReadDlqRow(SQLite::Statement& s);
inline constexpr const char* kStateColumns =
    "job_id, version, is_complete, total_items, successful_count, failed_count, updated_at, "
    "written_at, json";
JobState ReadStateRow(SQLite::Statement& s);
inline constexpr const char* kSessionColumns =
    "session_id, status, started_at, ended_at, working_directory, updated_at, json";
Session ReadSessionRow(SQLite::Statement& s);
inline constexpr const char* kCheckpointColumns =
    "workflow_id, status, current_step_index, total_steps, workflow_name, timestamp, updated_at, json";
WorkflowCheckpoint ReadCheckpointRow(SQLite::Statement& s);

}  // namespace prodigy::internal

#endif  // PRODIGY_STORE_ROWS_H_
