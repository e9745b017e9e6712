#include "data_gen.h"

#include <ctime>

#include <fmt/format.h>

#include "prodigy/storage.h"

namespace prodigy::bench {
namespace {

constexpr const char* kWords[] = {
    "the",     "parser",  "refactor", "function",  "returns", "error",  "when",    "input",  "is",
    "empty",   "I'll",    "update",   "tests",     "module",  "cargo",  "build",   "passes", "now",
    "let",     "me",      "check",    "workflow",  "agent",   "commit", "branch",  "merge",  "config",
    "value",   "handler", "storage",  "événement", "naïve",   "—",      "because", "should", "instead",
    "of",      "calling", "unwrap()", "Result<T>", "async",   "fn",     "struct",  "impl",   "match",
    "Some(x)", "None",    "path",     "file",
};
constexpr size_t kWordCount = sizeof(kWords) / sizeof(kWords[0]);

// A message text as serde_json writes it: escaped quotes and newlines,
// non-ASCII kept as UTF-8.
std::string Paragraph(Rng& rng, size_t target_len) {
  std::string s;
  s.reserve(target_len + 64);
  while (s.size() < target_len) {
    const uint64_t r = rng.Below(100);
    if (r < 4) {
      s += "\\n\\n```rust\\nfn main() {\\n    println!(\\\"hello\\\");\\n}\\n```\\n";
    } else if (r < 10) {
      s += ".\\n";
    } else if (r < 13) {
      s += " \\\"";
      s += kWords[rng.Below(kWordCount)];
      s += "\\\"";
    } else {
      if (!s.empty()) s += ' ';
      s += kWords[rng.Below(kWordCount)];
    }
  }
  return s;
}

std::string LogIdAt(int64_t ns) {
  const std::time_t secs = static_cast<std::time_t>(ns / 1000000000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  return fmt::format("mapreduce-{:04}{:02}{:02}_{:02}{:02}{:02}", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

Rng::Rng(uint64_t seed) {
  // splitmix64 seeding, as the xoshiro authors recommend.
  for (auto& s : s_) {
    seed += 0x9e3779b97f4a7c15ULL;
    uint64_t z = seed;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    s = z ^ (z >> 31);
  }
}

uint64_t Rng::Next() {
  const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return result;
}

std::string Rng::Uuid() {
  const uint64_t a = Next(), b = Next();
  return fmt::format("{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}", a >> 32, (a >> 16) & 0xffff, a & 0xfff,
                     8 + (b >> 62), (b >> 48) & 0xfff, b & 0xffffffffffffULL);
}

std::string AgentId(int index) { return fmt::format("agent-{}-item_{}", index, index); }

int64_t EventGenerator::StartNs() { return 1758387792000000000LL; }  // 2025-09-20T17:03:12Z

EventGenerator::EventGenerator(uint64_t seed, JobShape shape)
    : rng_(seed), shape_(shape), now_ns_(StartNs()), pid_(48211), correlation_id_(rng_.Uuid()) {
  // Message lengths between 200 and ~4000 bytes, most of them short-ish.
  for (int i = 0; i < 512; ++i) {
    const size_t len = 200 + rng_.Below(rng_.Chance(0.3) ? 3800 : 1200);
    paragraphs_.push_back(Paragraph(rng_, len));
  }
}

void EventGenerator::Tick(int64_t max_ms) {
  now_ns_ += static_cast<int64_t>(rng_.Below(static_cast<uint64_t>(max_ms) * 1000 + 1)) * 1000 + 1000;
}

std::string EventGenerator::Record(const std::string& event_body) {
  // Prodigy's metadata is a HashMap: its key order differs from line to line.
  static constexpr const char* kMeta[] = {
      R"("host":"localhost","pid":{0},"thread":"tokio-runtime-worker")",
      R"("pid":{0},"host":"localhost","thread":"tokio-runtime-worker")",
      R"("thread":"tokio-runtime-worker","host":"localhost","pid":{0})",
  };
  return fmt::format(
      R"({{"id":"{}","timestamp":"{}","correlation_id":"{}","event":{{{}}},"metadata":{{{}}}}})", rng_.Uuid(),
      FormatTimestamp(now_ns_), correlation_id_, event_body,
      fmt::format(fmt::runtime(kMeta[rng_.Below(3)]), pid_));
}

std::string EventGenerator::NextJobLogId() const { return LogIdAt(now_ns_); }

std::string EventGenerator::Job(const std::function<void(std::string&& line)>& sink) {
  const std::string log_id = NextJobLogId();
  const int64_t start_ns = now_ns_;
  const std::string job_id = fmt::format("mapreduce-{}", now_ns_ / 1000000);
  const std::string session = "session-" + rng_.Uuid();
  sink(Record(fmt::format(
      R"("event_type":"job_started","job_id":"{}","config":{{"input":"work-items.json","json_path":"$.items[*]","max_parallel":5,"timeout_per_agent":600,"retry_on_failure":2}},"total_items":{},"timestamp":"{}")",
      job_id, shape_.items, FormatTimestamp(now_ns_ - 1906000))));
  int failed = 0;
  for (int i = 0; i < shape_.items; ++i) {
    const std::string agent = AgentId(i);
    Tick(50);
    sink(Record(fmt::format(
        R"("event_type":"agent_started","job_id":"{}","agent_id":"{}","item_id":"item_{}","worktree":"{}-agent-{}","attempt":1)",
        session, agent, i, session, i)));
    Tick(20);
    sink(Record(fmt::format(
        R"("event_type":"claude_session_started","agent_id":"{}","session_id":"{}","model":"claude-sonnet-4-20250514","tools":["Bash","Edit","Glob","Grep","Read","Write"])",
        agent, rng_.Uuid())));
    const int messages = 1 + static_cast<int>(rng_.Below(static_cast<uint64_t>(shape_.max_claude_messages)));
    for (int m = 0; m < messages; ++m) {
      Tick(3000);
      sink(Record(fmt::format(
          R"("event_type":"claude_message","agent_id":"{}","content":"{}","message_type":"assistant")", agent,
          paragraphs_[rng_.Below(paragraphs_.size())])));
    }
    Tick(10);
    sink(Record(fmt::format(
        R"("event_type":"claude_token_usage","agent_id":"{}","input_tokens":{},"output_tokens":{},"cache_tokens":{})",
        agent, 2000 + rng_.Below(40000), 100 + rng_.Below(4000), rng_.Below(90000))));
    Tick(100);
    if (rng_.Chance(shape_.failure_rate)) {
      ++failed;
      sink(Record(fmt::format(
          R"("event_type":"agent_failed","job_id":"{}","agent_id":"{}","error":"Command failed with exit code 101","retry_eligible":true)",
          session, agent)));
      Tick(5);
      sink(Record(fmt::format(
          R"("event_type":"d_l_q_item_added","job_id":"{}","item_id":"item_{}","error_signature":"Unknown::Command failed with exit code","failure_count":3)",
          job_id, i)));
    } else {
      sink(Record(fmt::format(
          R"("event_type":"agent_completed","job_id":"{}","agent_id":"{}","duration":[{},{}],"commits":["[{}] {:08x}"])",
          session, agent, 20 + rng_.Below(300), rng_.Below(1000000000), agent, rng_.Next() >> 32)));
    }
  }
  Tick(500);
  const int64_t took = now_ns_ - start_ns;
  sink(Record(fmt::format(
      R"("event_type":"job_completed","job_id":"{}","duration":[{},{}],"success_count":{},"failure_count":{})",
      job_id, took / 1000000000, took % 1000000000, shape_.items - failed, failed)));
  // The next run starts a little later, in another second (a new log id).
  now_ns_ += 1000000000LL + static_cast<int64_t>(rng_.Below(60)) * 1000000000LL;
  return log_id;
}

std::vector<std::string> EventGenerator::Lines(size_t n, std::vector<std::string>* log_ids) {
  std::vector<std::string> out;
  out.reserve(n + 4096);
  while (out.size() < n) {
    const std::string id = Job([&](std::string&& line) { out.push_back(std::move(line)); });
    if (log_ids) log_ids->resize(out.size(), id);
  }
  return out;
}

DlqDoc MakeDlqItem(Rng& rng, int index, int64_t ts_ns) {
  struct Failure {
    const char* error_type;  // the serialized ErrorType
    const char* message;
    const char* signature;
  };
  static constexpr Failure kFailures[] = {
      {R"("Unknown")", "Command failed with exit code 101", "Unknown::Command failed with exit code"},
      {R"("Timeout")", "Agent timed out after 600 seconds", "Timeout::Agent timed out after seconds"},
      {R"({
        "CommandFailed": {
          "exit_code": 1
        }
      })",
       "cargo test failed: 3 tests failed",
       "CommandFailed { exit_code: 1 }::cargo test failed: tests failed"},
      {R"("MergeConflict")", "Merge conflict in src/parser.rs", "MergeConflict::Merge conflict in"},
      {R"("WorktreeError")", "Failed to create worktree", "WorktreeError::Failed to create worktree"},
  };
  // Most failures look alike; the long tail is what error_categories is for.
  const uint64_t r = rng.Below(100);
  const Failure& f = kFailures[r < 60 ? 0 : r < 80 ? 1 : r < 92 ? 2 : r < 97 ? 3 : 4];
  const bool workflow_policy = rng.Chance(0.1);  // the second producer: map-agent, count 1
  const int count = workflow_policy ? 1 : 3;
  DlqDoc d;
  d.item_id = fmt::format("item_{}", index);
  const std::string first = FormatTimestamp(ts_ns);
  const std::string last =
      FormatTimestamp(ts_ns + (workflow_policy ? 0 : 2000 + static_cast<int64_t>(rng.Below(90000000))));
  d.json = fmt::format(R"({{
  "item_id": "{0}",
  "item_data": {{
    "priority": {1},
    "task": "refactor module {2}"
  }},
  "first_attempt": "{3}",
  "last_attempt": "{4}",
  "failure_count": {5},
  "failure_history": [
    {{
      "attempt_number": {5},
      "timestamp": "{4}",
      "error_type": {6},
      "error_message": "{7}",
      "stack_trace": null,
      "agent_id": "{8}",
      "step_failed": "{9}",
      "duration_ms": 0
    }}
  ],
  "error_signature": "{10}",
  "worktree_artifacts": null,
  "reprocess_eligible": {11},
  "manual_review_required": {12}
}})",
                       d.item_id, 1 + rng.Below(5), index, first, last, count, f.error_type, f.message,
                       workflow_policy ? "map-agent" : fmt::format("agent_{}", index),
                       workflow_policy ? "map_phase" : "execute_agent_commands", f.signature,
                       rng.Chance(0.9) ? "true" : "false", rng.Chance(0.05) ? "true" : "false");
  return d;
}

}  // namespace prodigy::bench
