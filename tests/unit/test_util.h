// Helpers shared by the library's tests: temporary storage roots and sample
// documents in Prodigy's shapes (reference: docs/storage-layout.md).
#ifndef PRODIGY_TESTS_TEST_UTIL_H_
#define PRODIGY_TESTS_TEST_UTIL_H_

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "prodigy/prodigy.h"

namespace prodigy::test {

namespace fs = std::filesystem;

// A fresh folder under /tmp, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/prodigy-test-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

// The engine the library's tests run against: SQLite, unless the test was
// registered for the postgres suite (tests/unit/meson.build), which sets
// PRODIGY_TEST_ENGINE=postgres and a server in PRODIGY_TEST_PG_URL
// (tests/servers/with_postgres.sh). Same tests, same assertions.
inline bool OnPostgres() {
  const char* engine = std::getenv("PRODIGY_TEST_ENGINE");
  return engine != nullptr && std::string(engine) == "postgres";
}

// A storage root and a repository folder inside one temp dir, with a
// configuration that ignores the process environment. On PostgreSQL each
// sandbox is its own repository on the server (its key is the temp dir's name).
struct Sandbox {
  TempDir tmp;
  fs::path root = tmp / "root";
  fs::path repo = tmp / "my-repo";
  fs::path home = tmp / "home";

  Sandbox() {
    fs::create_directories(repo);
    fs::create_directories(home);
  }
  StorageConfig Config() const {
    ResolveOptions options;
    options.use_process_env = false;
    options.home = home.string();
    options.storage_dir_flag = root;
    if (OnPostgres()) {
      const char* url = std::getenv("PRODIGY_TEST_PG_URL");
      if (url == nullptr || *url == '\0') {
        throw std::runtime_error(
            "PRODIGY_TEST_ENGINE=postgres needs PRODIGY_TEST_PG_URL (tests/servers/with_postgres.sh)");
      }
      options.storage_url_flag = url;
    }
    StorageConfig config = ResolveConfig(options);
    config.migration = MigrationPolicy::kOff;
    if (OnPostgres()) config.repository_key = tmp.path().filename().string();
    return config;
  }
  GlobalStorage Open() const { return GlobalStorage::OpenWithConfig(repo, Config()); }
};

inline std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

inline void WriteAll(const fs::path& p, const std::string& content) {
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  out << content;
}

// An EventRecord line. `n` makes ids and timestamps distinct and ordered.
inline std::string EventJson(int n, const std::string& type = "agent_started",
                             const std::string& job = "mapreduce-1758387792480",
                             const std::string& agent = "agent-0-item_0") {
  return fmt::format(
      R"({{"id":"00000000-0000-4000-8000-{:012}","timestamp":"2025-09-20T17:{:02}:{:02}.{:06}Z",)"
      R"("correlation_id":"a1c4e7f0-2b3d-4e5f-8a9b-0c1d2e3f4a5b","event":{{"event_type":"{}",)"
      R"("job_id":"{}","agent_id":"{}","item_id":"item_{}","worktree":"w","attempt":1}},)"
      R"("metadata":{{"pid":48211,"host":"localhost","thread":"tokio-runtime-worker"}}}})",
      n, (n / 60) % 60, n % 60, n % 1000000, type, job, agent, n);
}

// A pretty DeadLetteredItem as Prodigy writes it (contract §2.2).
inline std::string DlqItemJson(const std::string& item_id, const std::string& last_attempt,
                               const std::string& signature = "Unknown::Command failed with exit code",
                               bool eligible = true) {
  return fmt::format(R"({{
  "item_id": {},
  "item_data": {{
    "priority": 3,
    "task": "refactor parser"
  }},
  "first_attempt": "2025-09-20T17:05:40.000093Z",
  "last_attempt": "{}",
  "failure_count": 3,
  "failure_history": [
    {{
      "attempt_number": 3,
      "timestamp": "2025-09-20T17:05:40.000081Z",
      "error_type": "Unknown",
      "error_message": "Command failed with exit code 101",
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
                     nlohmann::json(item_id).dump(), last_attempt, signature, eligible ? "true" : "false");
}

// A MapReduceJobState (abridged but with every key kinds of readers use).
inline std::string StateJson(const std::string& job_id, int version, bool complete = false) {
  return fmt::format(R"({{
  "job_id": "{}",
  "config": {{
    "input": "work-items.json",
    "json_path": "$.items[*]",
    "max_parallel": 5,
    "timeout_per_agent": 600,
    "retry_on_failure": 2
  }},
  "started_at": "2025-09-20T17:03:12.480551Z",
  "updated_at": "2025-09-20T17:04:{:02}.502310Z",
  "work_items": [],
  "agent_results": {{}},
  "completed_agents": [],
  "failed_agents": {{}},
  "pending_items": [],
  "checkpoint_version": {},
  "checkpoint_format_version": 1,
  "parent_worktree": null,
  "reduce_phase_state": null,
  "total_items": 10,
  "successful_count": {},
  "failed_count": 1,
  "is_complete": {},
  "agent_template": [],
  "reduce_commands": null,
  "variables": {{}},
  "setup_output": null,
  "setup_completed": false,
  "a_field_from_the_future": {{"kept": true}}
}})",
                     job_id, version % 60, version, version, complete ? "true" : "false");
}

inline std::string SessionJson(const std::string& id, const std::string& status) {
  return fmt::format(R"({{
  "session_id": "{}",
  "status": "{}",
  "started_at": "2025-09-18T03:50:31.118204Z",
  "ended_at": null,
  "iterations_completed": 1,
  "files_changed": 3,
  "errors": [],
  "working_directory": "/home/alice/src/my-repo",
  "worktree_name": null,
  "checkpoint_version": 1,
  "last_validated_at": null
}})",
                     id, status);
}

inline std::string CheckpointJson(const std::string& workflow_id, const std::string& timestamp) {
  return fmt::format(R"({{
  "workflow_id": "{}",
  "execution_state": {{
    "current_step_index": 2,
    "total_steps": 5,
    "status": "Running",
    "start_time": "2025-09-18T03:50:31.118204Z",
    "last_checkpoint": "{}",
    "current_iteration": null,
    "total_iterations": null
  }},
  "completed_steps": [],
  "variable_state": {{}},
  "mapreduce_state": null,
  "timestamp": "{}",
  "version": 1,
  "workflow_hash": "3",
  "total_steps": 5,
  "workflow_name": "implement",
  "workflow_path": null
}})",
                     workflow_id, timestamp, timestamp);
}

// How much longer the process tests run: 1 normally, more in the stress
// suite (PRODIGY_STRESS_SCALE, set by tests/unit/meson.build).
inline int StressScale() {
  const char* v = std::getenv("PRODIGY_STRESS_SCALE");
  return v ? std::max(1, std::atoi(v)) : 1;
}

// Runs fn in a forked child; returns its exit status (or 128+signal).
inline int RunChild(const std::function<int()>& fn) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    int code = 99;
    try {
      code = fn();
    } catch (...) {
      code = 98;
    }
    ::_exit(code);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Expects fn to throw prodigy::Error with `code` and a message containing `part`.
#define CHECK_PRODIGY_ERROR(expr, code_, part)                                   \
  do {                                                                           \
    bool thrown_ = false;                                                        \
    try {                                                                        \
      (void)(expr);                                                              \
    } catch (const ::prodigy::Error& e_) {                                       \
      thrown_ = true;                                                            \
      CHECK_MESSAGE(e_.code() == (code_), e_.message());                         \
      CHECK_MESSAGE(e_.message().find(part) != std::string::npos, e_.message()); \
    }                                                                            \
    CHECK_MESSAGE(thrown_, "expected prodigy::Error from " #expr);               \
  } while (0)

}  // namespace prodigy::test

#endif  // PRODIGY_TESTS_TEST_UTIL_H_
