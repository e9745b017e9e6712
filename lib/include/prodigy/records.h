// Plain records returned by GlobalStorage. Each carries the stored document
// verbatim in `json` (exactly the text that was written) plus the fields the
// store extracted from it for queries.
#ifndef PRODIGY_RECORDS_H_
#define PRODIGY_RECORDS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace prodigy {

// One Prodigy EventRecord.
struct Event {
  int64_t seq = 0;               // append order within the repository; a query cursor
  std::string job_id;            // the log it was appended to (events/<job_id>/events.jsonl)
  std::string record_id;         // EventRecord.id
  std::string timestamp;         // as written
  std::optional<int64_t> ts_ns;  // timestamp in ns since the epoch, when parseable
  std::string event_type;        // tag as written, e.g. "d_l_q_item_added"
  std::string event_name;        // normalized, e.g. "dlq_item_added"
  std::string event_job_id;      // event.job_id inside the record, if any
  std::string agent_id;          // event.agent_id, if any
  std::string item_id;           // event.item_id, if any
  std::string correlation_id;
  std::string json;  // the record, one line, verbatim
};

// A filtered, streaming event query. Unset fields do not filter.
struct EventQuery {
  std::optional<std::string> job_id;
  // Event types in any spelling Prodigy users meet: "agent_completed",
  // "AgentCompleted", "dlq_item_added", "d_l_q_item_added", "DLQItemAdded".
  std::vector<std::string> types;
  std::optional<std::string> agent_id;
  std::optional<int64_t> since_ns;    // timestamp >= since
  std::optional<int64_t> until_ns;    // timestamp < until
  int64_t after_seq = 0;              // cursor: only events with seq > after_seq
  std::optional<int64_t> before_seq;  // only events with seq < before_seq
  std::optional<int64_t> limit;       // at most this many events
};

enum class EventGroupBy { kType, kAgent, kJob };

struct GroupCount {
  std::string key;
  int64_t count = 0;
};

// One event log (job) in the repository.
struct EventJobSummary {
  std::string job_id;
  int64_t events = 0;
  std::string first_timestamp;
  std::string last_timestamp;
  // "completed", "failed", "in_progress" (started, no end) or "unknown".
  std::string status;
};

// One Prodigy DeadLetteredItem.
struct DlqItem {
  std::string job_id;
  std::string item_id;
  std::string first_attempt;
  std::string last_attempt;
  std::optional<int64_t> last_attempt_ns;
  int64_t failure_count = 0;
  std::string error_signature;
  std::string error_type;
  bool reprocess_eligible = false;
  bool manual_review_required = false;
  std::optional<std::string> reprocess_requested_at;  // set by MarkDlqForReprocessing
  std::string updated_at;
  std::string json;
};

struct DlqFilter {
  std::optional<std::string> job_id;
  std::optional<std::string> error_signature;  // substring match
  std::optional<std::string> error_type;       // exact, e.g. "Timeout"
  std::optional<bool> reprocess_eligible;
  std::optional<bool> reprocess_requested;
  std::optional<int64_t> since_ns;  // last_attempt >= since
  std::optional<int64_t> until_ns;  // last_attempt < until
  std::optional<int64_t> limit;
};

struct DlqStats {
  int64_t total_items = 0;
  int64_t eligible_for_reprocess = 0;
  int64_t requiring_manual_review = 0;
  int64_t marked_for_reprocess = 0;
  std::optional<std::string> oldest_item;    // min first_attempt
  std::optional<std::string> newest_item;    // max last_attempt
  std::vector<GroupCount> error_categories;  // by error_signature, most frequent first
};

// One kept version of a job's MapReduceJobState.
struct JobState {
  std::string job_id;
  int64_t version = 0;  // checkpoint_version
  bool is_complete = false;
  int64_t total_items = 0;
  int64_t successful_count = 0;
  int64_t failed_count = 0;
  std::string updated_at;  // from the document
  std::string written_at;  // when the store wrote this version
  std::string json;
};

// A cook session (SessionState) or unified session document.
struct Session {
  std::string session_id;
  std::string status;
  std::string started_at;
  std::string ended_at;
  std::string working_directory;
  std::string updated_at;
  std::string json;
};

// A WorkflowCheckpoint document.
struct WorkflowCheckpoint {
  std::string workflow_id;
  std::string status;
  int64_t current_step_index = 0;
  int64_t total_steps = 0;
  std::string workflow_name;
  std::string timestamp;
  std::string updated_at;
  std::string json;
};

struct TableCounts {
  int64_t events = 0;
  int64_t dlq_items = 0;
  int64_t job_states = 0;
  int64_t sessions = 0;
  int64_t workflow_checkpoints = 0;
  int64_t unparsed_lines = 0;
  int64_t import_sources = 0;

  // Calls fn(table name, count) for each table in the order above: JSON
  // output and backup manifests name the counts so, in one place.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    ForEachOf(*this, fn);
  }
  template <typename Fn>
  void ForEach(Fn&& fn) {
    ForEachOf(*this, fn);
  }
  template <typename Counts, typename Fn>
  static void ForEachOf(Counts& c, Fn& fn) {
    fn("events", c.events);
    fn("dlq_items", c.dlq_items);
    fn("job_states", c.job_states);
    fn("sessions", c.sessions);
    fn("workflow_checkpoints", c.workflow_checkpoints);
    fn("unparsed_lines", c.unparsed_lines);
    fn("import_sources", c.import_sources);
  }
};

// A difference between the mirror files and the database.
struct MirrorProblem {
  std::string path;     // the mirror file
  std::string problem;  // "missing", "differs", "unexpected file"
};

}  // namespace prodigy

#endif  // PRODIGY_RECORDS_H_
