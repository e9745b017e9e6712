// The document tables: each one's columns spelled once, in the order of
// migrations/0001_core.sql, with the record field each column holds.
// Engines build their statements from these; the layers above read and write
// records through them (RowCodec::Values / RowCodec::Read).
#ifndef PRODIGY_ENGINE_TABLES_H_
#define PRODIGY_ENGINE_TABLES_H_

#include "engine/engine.h"
#include "engine/schema.h"
#include "prodigy/records.h"

namespace prodigy::engine::tables {

using field::Generated;
using field::Int;
using field::OptInt;
using field::OptText;
using field::Text;

inline constexpr RowCodec<Event, 14> kEventCodec(std::array<Field<Event>, 14>{{
    Generated<&Event::seq>("seq"),
    Text<&Event::job_id>("job_id", true),
    Text<&Event::record_id>("record_id"),
    Text<&Event::timestamp>("timestamp"),
    OptInt<&Event::ts_ns>("ts_ns"),
    Text<&Event::event_type>("event_type"),
    Text<&Event::event_name>("event_name"),
    Text<&Event::event_job_id>("event_job_id"),
    Text<&Event::agent_id>("agent_id"),
    Text<&Event::item_id>("item_id"),
    Text<&Event::correlation_id>("correlation_id"),
    Text<&Event::json>("json", true),
    field::SourceId<Event>(),
    field::LineNo<Event>(),
}});
inline constexpr TableSpec kEvents{"events", kEventCodec.columns, 1, "job_id", "source_id"};

inline constexpr RowCodec<DlqItem, 14> kDlqCodec(std::array<Field<DlqItem>, 14>{{
    Text<&DlqItem::job_id>("job_id", true),
    Text<&DlqItem::item_id>("item_id", true),
    Text<&DlqItem::first_attempt>("first_attempt"),
    Text<&DlqItem::last_attempt>("last_attempt"),
    OptInt<&DlqItem::last_attempt_ns>("last_attempt_ns"),
    Int<&DlqItem::failure_count>("failure_count"),
    Text<&DlqItem::error_signature>("error_signature"),
    Text<&DlqItem::error_type>("error_type"),
    Int<&DlqItem::reprocess_eligible>("reprocess_eligible"),
    Int<&DlqItem::manual_review_required>("manual_review_required"),
    OptText<&DlqItem::reprocess_requested_at>("reprocess_requested_at"),
    Text<&DlqItem::json>("json", true),
    Text<&DlqItem::updated_at>("updated_at", true),
    field::SourceId<DlqItem>(),
}});
inline constexpr TableSpec kDlqItems{"dlq_items", kDlqCodec.columns, 2, "job_id", "source_id"};

inline constexpr RowCodec<JobState, 10> kStateCodec(std::array<Field<JobState>, 10>{{
    Text<&JobState::job_id>("job_id", true),
    Int<&JobState::version>("version"),
    Int<&JobState::is_complete>("is_complete"),
    Int<&JobState::total_items>("total_items"),
    Int<&JobState::successful_count>("successful_count"),
    Int<&JobState::failed_count>("failed_count"),
    Text<&JobState::updated_at>("updated_at"),
    Text<&JobState::json>("json", true),
    Text<&JobState::written_at>("written_at", true),
    field::SourceId<JobState>(),
}});
inline constexpr TableSpec kJobStates{"job_states", kStateCodec.columns, 2, "job_id", "source_id"};

inline constexpr RowCodec<Session, 8> kSessionCodec(std::array<Field<Session>, 8>{{
    Text<&Session::session_id>("session_id", true),
    Text<&Session::status>("status"),
    Text<&Session::started_at>("started_at"),
    Text<&Session::ended_at>("ended_at"),
    Text<&Session::working_directory>("working_directory"),
    Text<&Session::json>("json", true),
    Text<&Session::updated_at>("updated_at", true),
    field::SourceId<Session>(),
}});
inline constexpr TableSpec kSessions{"sessions", kSessionCodec.columns, 1, "session_id", "source_id"};

// ts_ns is the document timestamp in ns (the list order), computed on write.
std::optional<int64_t> CheckpointTimeNs(const WorkflowCheckpoint& c);
inline constexpr RowCodec<WorkflowCheckpoint, 10> kCheckpointCodec(std::array<Field<WorkflowCheckpoint>, 10>{{
    Text<&WorkflowCheckpoint::workflow_id>("workflow_id", true),
    Text<&WorkflowCheckpoint::status>("status"),
    Int<&WorkflowCheckpoint::current_step_index>("current_step_index"),
    Int<&WorkflowCheckpoint::total_steps>("total_steps"),
    Text<&WorkflowCheckpoint::workflow_name>("workflow_name"),
    Text<&WorkflowCheckpoint::timestamp>("timestamp"),
    Field<WorkflowCheckpoint>{Column{"ts_ns", ColumnType::kInt},
                              [](const WorkflowCheckpoint& c, const WriteOrigin&) -> Value {
                                const auto ns = CheckpointTimeNs(c);
                                return ns ? Value(*ns) : Value();
                              },
                              nullptr},
    Text<&WorkflowCheckpoint::json>("json", true),
    Text<&WorkflowCheckpoint::updated_at>("updated_at", true),
    field::SourceId<WorkflowCheckpoint>(),
}});
inline constexpr TableSpec kWorkflowCheckpoints{"workflow_checkpoints", kCheckpointCodec.columns, 1,
                                                "workflow_id", "source_id"};

// The import ledger (migrations/0002_legacy_import.sql). rows_changed is kept
// by the database itself (triggers) and read on its own (RowsChanged).
inline constexpr RowCodec<LedgerRow, 24> kLedgerCodec(std::array<Field<LedgerRow>, 24>{{
    Generated<&LedgerRow::id>("id"),
    Text<&LedgerRow::path>("path", true),
    Text<&LedgerRow::legacy_root>("legacy_root", true),
    Text<&LedgerRow::rel_path>("rel_path", true),
    Text<&LedgerRow::kind>("kind", true),
    Text<&LedgerRow::job_id>("job_id"),
    Int<&LedgerRow::bytes>("bytes"),
    Text<&LedgerRow::sha256>("sha256", true),
    Int<&LedgerRow::mtime_ns>("mtime_ns"),
    Int<&LedgerRow::inode>("inode"),
    Int<&LedgerRow::rows>("rows"),
    Int<&LedgerRow::unparsed>("unparsed"),
    Int<&LedgerRow::final_newline>("final_newline"),
    Text<&LedgerRow::content_sha256>("content_sha256"),
    OptInt<&LedgerRow::first_seq>("first_seq"),
    OptInt<&LedgerRow::last_seq>("last_seq"),
    Text<&LedgerRow::row_table>("row_table"),
    Text<&LedgerRow::row_key1>("row_key1"),
    Text<&LedgerRow::row_key2>("row_key2"),
    Text<&LedgerRow::status>("status", true),
    Text<&LedgerRow::note>("note"),
    Text<&LedgerRow::imported_at>("imported_at", true),
    Text<&LedgerRow::verified_at>("verified_at"),
    Text<&LedgerRow::removed_at>("removed_at"),
}});
inline constexpr TableSpec kImportSources{"import_sources", kLedgerCodec.columns, 1, "", ""};

}  // namespace prodigy::engine::tables

#endif  // PRODIGY_ENGINE_TABLES_H_
