// Extraction of query columns from Prodigy documents, and the row writers.
// Shared by the GlobalStorage API and the legacy importer, so a document is
// stored the same way whichever door it came in by.
#ifndef PRODIGY_STORE_ROWS_H_
#define PRODIGY_STORE_ROWS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "engine/engine.h"
#include "prodigy/records.h"

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
int64_t InsertEvent(engine::WriteTxn& txn, const Event& e, std::optional<int64_t> source_id = std::nullopt,
                    std::optional<int64_t> line_no = std::nullopt);
void UpsertDlqItem(engine::WriteTxn& txn, const DlqItem& item,
                   std::optional<int64_t> source_id = std::nullopt);
// Inserts or replaces (job_id, version), then prunes versions beyond `keep`.
// Refuses a version older than the newest kept one unless `allow_older`.
void InsertJobState(engine::WriteTxn& txn, const JobState& state, int keep, bool allow_older = false,
                    std::optional<int64_t> source_id = std::nullopt);
void UpsertSession(engine::WriteTxn& txn, const Session& session,
                   std::optional<int64_t> source_id = std::nullopt);
void UpsertCheckpoint(engine::WriteTxn& txn, const WorkflowCheckpoint& cp,
                      std::optional<int64_t> source_id = std::nullopt);

// Mirror change kinds (see mirror/mirror.h).
inline constexpr const char* kChangeEvents = "events";
inline constexpr const char* kChangeEventsRewrite = "events_rewrite";
inline constexpr const char* kChangeDlq = "dlq";  // key2: item id, or NULL for the whole job
inline constexpr const char* kChangeState = "state";
inline constexpr const char* kChangeSession = "session";
inline constexpr const char* kChangeCheckpoint = "checkpoint";

}  // namespace prodigy::internal

#endif  // PRODIGY_STORE_ROWS_H_
