// Writes sample data through the library for the CLI tests (cli_test.py):
//
//   cli_fixture ROOT REPO populate        the data set described below
//   cli_fixture ROOT REPO append JOB N     N more events to JOB, 50 ms apart
//
// Documents have Prodigy's shapes (reference §2). Data set:
//   events  mapreduce-20250920_170312: 10 events of one MapReduce run on
//           2025-09-20 (job_started ... job_completed, 3 agents, a
//           d_l_q_item_added); session-recent: 5 agent events in the last hour.
//   dlq     mapreduce-1758387792480: 5 items, 2 error signatures, 3 hours;
//           item_4 is not eligible for reprocessing.
//   state   mapreduce-1758387792480 versions 1-3 (3 complete).
//   sessions  session-aaa (InProgress), cook-1754076473 (Completed).
//   checkpoints  3 real WorkflowCheckpoints from $PRODIGY_SHARED_DATA when
//           set, else one constructed.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "prodigy/prodigy.h"

namespace {

namespace fs = std::filesystem;
using prodigy::FormatTimestamp;
using prodigy::GlobalStorage;

constexpr const char* kCorrelation = "a1c4e7f0-2b3d-4e5f-8a9b-0c1d2e3f4a5b";
constexpr int64_t kMinuteNs = 60LL * 1'000'000'000;

std::string Record(int n, const std::string& timestamp, const std::string& event) {
  return fmt::format(
      R"({{"id":"00000000-0000-4000-8000-{:012}","timestamp":"{}","correlation_id":"{}","event":{},)"
      R"("metadata":{{"pid":48211,"host":"localhost","thread":"tokio-runtime-worker"}}}})",
      n, timestamp, kCorrelation, event);
}

std::vector<std::string> OldRun() {
  const std::string job = "mapreduce-1758387792480";
  const std::string session = "session-6feea3fd-8b9a-4891-9326-45ddd35fbd70";
  auto at = [](int sec) { return fmt::format("2025-09-20T17:{:02}:{:02}.482913Z", 3 + sec / 60, sec % 60); };
  std::vector<std::string> events;
  int n = 0;
  events.push_back(Record(
      ++n, at(0),
      fmt::format(
          R"({{"event_type":"job_started","job_id":"{}","config":{{"input":"work-items.json","json_path":"$.items[*]",)"
          R"("max_parallel":5,"timeout_per_agent":600,"retry_on_failure":2}},"total_items":3,"timestamp":"{}"}})",
          job, at(0))));
  for (int a = 0; a < 3; ++a) {
    events.push_back(Record(
        ++n, at(1 + a),
        fmt::format(
            R"({{"event_type":"agent_started","job_id":"{}","agent_id":"agent-{}-item_{}","item_id":"item_{}",)"
            R"("worktree":"mapreduce-agent-{}","attempt":1}})",
            session, a, a, a, a)));
  }
  events.push_back(Record(
      ++n, at(61),
      fmt::format(
          R"({{"event_type":"agent_completed","job_id":"{}","agent_id":"agent-0-item_0","duration":[61,5000000],)"
          R"("commits":["[agent-0-item_0] 7ca920a0"]}})",
          session)));
  events.push_back(Record(
      ++n, at(95),
      fmt::format(
          R"({{"event_type":"agent_completed","job_id":"{}","agent_id":"agent-1-item_1","duration":[93,250000000],)"
          R"("commits":[]}})",
          session)));
  events.push_back(Record(
      ++n, at(120),
      fmt::format(
          R"({{"event_type":"agent_failed","job_id":"{}","agent_id":"agent-2-item_2","error":"Command failed with exit code 101",)"
          R"("retry_eligible":true}})",
          session)));
  events.push_back(Record(
      ++n, at(121),
      fmt::format(
          R"({{"event_type":"agent_retrying","job_id":"{}","agent_id":"agent-2-item_2","attempt":2,"backoff_ms":1000}})",
          session)));
  events.push_back(
      Record(++n, at(148),
             fmt::format(R"({{"event_type":"d_l_q_item_added","job_id":"{}","item_id":"item_2",)"
                         R"("error_signature":"Unknown::Command failed with exit code","failure_count":3}})",
                         job)));
  events.push_back(Record(
      ++n, at(170),
      fmt::format(
          R"({{"event_type":"job_completed","job_id":"{}","duration":[170,219004000],"success_count":2,"failure_count":1}})",
          job)));
  return events;
}

std::vector<std::string> RecentEvents(int first, int count, int64_t start_ns) {
  std::vector<std::string> events;
  for (int i = 0; i < count; ++i) {
    const int n = first + i;
    events.push_back(Record(
        n, FormatTimestamp(start_ns + i * kMinuteNs / 10),
        fmt::format(
            R"({{"event_type":"agent_progress","job_id":"session-recent","agent_id":"agent-{}","step":"step {}",)"
            R"("progress_pct":{}.5}})",
            i % 2, n, i * 10)));
  }
  return events;
}

std::string DlqItem(const std::string& item, const std::string& last_attempt, const std::string& error_type,
                    const std::string& message, bool eligible) {
  const std::string type_json =
      error_type == "CommandFailed" ? R"({"CommandFailed":{"exit_code":1}})" : "\"" + error_type + "\"";
  const std::string signature = error_type == "CommandFailed" ? "CommandFailed { exit_code: 1 }::" + message
                                                              : error_type + "::" + message;
  return fmt::format(R"({{
  "item_id": "{}",
  "item_data": {{
    "task": "refactor {}"
  }},
  "first_attempt": "2025-09-20T16:59:40.000093Z",
  "last_attempt": "{}",
  "failure_count": 3,
  "failure_history": [
    {{
      "attempt_number": 3,
      "timestamp": "{}",
      "error_type": {},
      "error_message": "{}",
      "stack_trace": null,
      "agent_id": "agent_2",
      "step_failed": "execute_agent_commands",
      "duration_ms": 0
    }}
  ],
  "error_signature": "{}",
  "worktree_artifacts": null,
  "reprocess_eligible": {},
  "manual_review_required": false
}})",
                     item, item, last_attempt, last_attempt, type_json, message, signature,
                     eligible ? "true" : "false");
}

std::string State(int version) {
  return fmt::format(R"({{
  "job_id": "mapreduce-1758387792480",
  "config": {{
    "input": "work-items.json",
    "json_path": "$.items[*]",
    "max_parallel": 5,
    "timeout_per_agent": 600,
    "retry_on_failure": 2
  }},
  "started_at": "2025-09-20T17:03:12.480551Z",
  "updated_at": "2025-09-20T17:0{}:13.502310Z",
  "work_items": [],
  "agent_results": {{}},
  "completed_agents": [],
  "failed_agents": {{}},
  "pending_items": [],
  "checkpoint_version": {},
  "checkpoint_format_version": 1,
  "parent_worktree": null,
  "reduce_phase_state": null,
  "total_items": 3,
  "successful_count": {},
  "failed_count": {},
  "is_complete": {},
  "agent_template": [],
  "reduce_commands": null,
  "variables": {{}},
  "setup_output": null,
  "setup_completed": false
}})",
                     3 + version, version, version - 1, version == 3 ? 1 : 0,
                     version == 3 ? "true" : "false");
}

std::string Session(const std::string& id, const std::string& status, const std::string& ended) {
  return fmt::format(R"({{
  "session_id": "{}",
  "status": "{}",
  "started_at": "2025-09-18T03:50:31.118204Z",
  "ended_at": {},
  "iterations_completed": 1,
  "files_changed": 3,
  "errors": [],
  "working_directory": "/home/alice/src/my-repo",
  "worktree_name": null,
  "checkpoint_version": 1,
  "last_validated_at": null
}})",
                     id, status, ended);
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

GlobalStorage Open(const std::string& root, const std::string& repo) {
  prodigy::ResolveOptions options;
  options.storage_dir_flag = root;
  prodigy::StorageConfig config = prodigy::ResolveConfig(options);
  config.migration = prodigy::MigrationPolicy::kOff;
  return GlobalStorage::OpenWithConfig(repo, config);
}

void Populate(GlobalStorage& store) {
  store.AppendEvents("mapreduce-20250920_170312", OldRun());
  store.AppendEvents("session-recent", RecentEvents(100, 5, prodigy::NowNs() - 60 * kMinuteNs));

  const std::string dlq_job = "mapreduce-1758387792480";
  store.AddDlqItem(dlq_job, DlqItem("item_0", "2025-09-20T17:05:40.000095Z", "Unknown",
                                    "Command failed with exit code", true));
  store.AddDlqItem(dlq_job, DlqItem("item_1", "2025-09-20T17:35:00.000001Z", "Unknown",
                                    "Command failed with exit code", true));
  store.AddDlqItem(dlq_job, DlqItem("item_2", "2025-09-20T18:10:00.000001Z", "Unknown",
                                    "Command failed with exit code", true));
  store.AddDlqItem(dlq_job,
                   DlqItem("item_3", "2025-09-20T19:01:00.000001Z", "Timeout", "agent timed out", true));
  store.AddDlqItem(dlq_job,
                   DlqItem("item_4", "2025-09-20T19:02:00.000001Z", "Timeout", "agent timed out", false));

  for (int v = 1; v <= 3; ++v) store.WriteState("mapreduce-1758387792480", State(v));
  store.SaveSession(Session("session-aaa", "InProgress", "null"));
  store.SaveSession(Session("cook-1754076473", "Completed", "\"2025-09-18T04:18:52.004410Z\""));

  const char* shared = std::getenv("PRODIGY_SHARED_DATA");
  const fs::path real = shared ? fs::path(shared) / "checkpoints" : fs::path();
  int saved = 0;
  for (const char* name : {"workflow-1757850041656", "workflow-1758162100655", "workflow-1758167434332"}) {
    const fs::path file = real / (std::string(name) + ".checkpoint.json");
    if (shared && fs::exists(file)) {
      store.SaveCheckpoint(ReadFile(file));
      ++saved;
    }
  }
  if (saved == 0) {
    store.SaveCheckpoint(
        R"({"workflow_id":"workflow-1758167434332","execution_state":{"current_step_index":2,)"
        R"("total_steps":5,"status":"Running","start_time":"2025-09-18T03:50:31.118204Z",)"
        R"("last_checkpoint":"2025-09-18T04:18:51.000402Z"},"completed_steps":[],)"
        R"("variable_state":{},"mapreduce_state":null,"timestamp":"2025-09-18T04:18:51.000402Z",)"
        R"("version":1,"workflow_hash":"3","total_steps":5,"workflow_name":"implement"})");
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: cli_fixture ROOT REPO populate | append JOB N\n");
    return 2;
  }
  try {
    GlobalStorage store = Open(argv[1], argv[2]);
    const std::string what = argv[3];
    if (what == "populate") {
      Populate(store);
    } else if (what == "append" && argc == 6) {
      const int count = std::atoi(argv[5]);
      for (int i = 0; i < count; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        store.AppendEvents(argv[4], RecentEvents(1000 + i, 1, prodigy::NowNs()));
      }
    } else {
      std::fprintf(stderr, "cli_fixture: unknown request %s\n", what.c_str());
      return 2;
    }
  } catch (const prodigy::Error& e) {
    std::fprintf(stderr, "cli_fixture: %s\n", e.what());
    return 1;
  }
  return 0;
}
