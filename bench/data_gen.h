// Synthetic Prodigy data in the exact shapes Prodigy wrote (reference:
// prodigy-contract.md §2.1 EventRecord, §2.2 DeadLetteredItem), deterministic
// for a seed so every contender sees the same bytes.
#ifndef PRODIGY_BENCH_DATA_GEN_H_
#define PRODIGY_BENCH_DATA_GEN_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace prodigy::bench {

// xoshiro256** : fast, and the same sequence on every machine.
class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t Next();
  // Uniform in [0, n).
  uint64_t Below(uint64_t n) { return Next() % n; }
  bool Chance(double p) { return static_cast<double>(Next() >> 11) * 0x1.0p-53 < p; }
  std::string Uuid();

 private:
  uint64_t s_[4];
};

// The shape of a generated MapReduce run.
struct JobShape {
  int items = 200;              // work items (one agent each)
  double failure_rate = 0.15;   // agents that fail and are dead-lettered
  int max_claude_messages = 4;  // 1..max claude_message events per agent
};

// Writes whole MapReduce runs as EventRecord lines (no trailing newline):
// job_started (with its MapReduceConfig), then per work item agent_started,
// claude_session_started, 1..N claude_message with long multi-line text,
// claude_token_usage, and agent_completed or agent_failed +
// d_l_q_item_added; finally job_completed. The clock only moves forward,
// across jobs too, so time windows select contiguous runs.
class EventGenerator {
 public:
  explicit EventGenerator(uint64_t seed, JobShape shape = {});
  // The log id of the next job, e.g. "mapreduce-20250920_170312".
  std::string NextJobLogId() const;
  // Emits one whole job; returns its log id.
  std::string Job(const std::function<void(std::string&& line)>& sink);
  // At least `n` lines (whole jobs) into one vector; the log id of each line in `log_ids` if given.
  std::vector<std::string> Lines(size_t n, std::vector<std::string>* log_ids = nullptr);
  int64_t now_ns() const { return now_ns_; }
  static int64_t StartNs();

 private:
  std::string Record(const std::string& event_body);
  void Tick(int64_t max_ms);

  Rng rng_;
  JobShape shape_;
  int64_t now_ns_;
  int pid_;
  std::string correlation_id_;
  std::vector<std::string> paragraphs_;  // JSON-escaped message texts
};

// One pretty-printed DeadLetteredItem (serde_json::to_string_pretty: two-space
// indent, no trailing newline) with its stats-relevant facts.
struct DlqDoc {
  std::string item_id;
  std::string json;
};
DlqDoc MakeDlqItem(Rng& rng, int index, int64_t ts_ns);

// The agent id used for item `index` (Prodigy: agent-<index>-<item_id>).
std::string AgentId(int index);

}  // namespace prodigy::bench

#endif  // PRODIGY_BENCH_DATA_GEN_H_
