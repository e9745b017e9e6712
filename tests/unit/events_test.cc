// Event logs: append, batches, streaming filtered queries, stats, deletion.
#include <doctest/doctest.h>

#include "test_util.h"

using namespace prodigy;
using namespace prodigy::test;

namespace {

std::vector<std::string> Seqs(GlobalStorage& storage, const EventQuery& q) {
  std::vector<std::string> ids;
  storage.ForEachEvent(q, [&](const Event& e) {
    ids.push_back(e.record_id.substr(e.record_id.size() - 4));
    return true;
  });
  return ids;
}

}  // namespace

TEST_CASE("append and read back verbatim, with extracted columns") {
  Sandbox sb;
  auto storage = sb.Open();
  const std::string line = EventJson(7, "d_l_q_item_added");
  const int64_t seq = storage.AppendEvent("mapreduce-20250920_170312", line);
  CHECK(seq > 0);
  auto events = storage.ReadEvents("mapreduce-20250920_170312");
  REQUIRE(events.size() == 1);
  const Event& e = events[0];
  CHECK(e.json == line);
  CHECK(e.seq == seq);
  CHECK(e.event_type == "d_l_q_item_added");
  CHECK(e.event_name == "dlq_item_added");
  CHECK(e.event_job_id == "mapreduce-1758387792480");
  CHECK(e.agent_id == "agent-0-item_0");
  CHECK(e.item_id == "item_7");
  CHECK(e.timestamp == "2025-09-20T17:00:07.000007Z");
  CHECK(e.ts_ns == ParseTimestamp("2025-09-20T17:00:07.000007Z"));
  CHECK(storage.ReadEvents("other").empty());
}

TEST_CASE("a multi-line record is stored as one JSONL line") {
  Sandbox sb;
  auto storage = sb.Open();
  storage.AppendEvent("j",
                      "{\n  \"id\": \"x\",\n  \"timestamp\": \"2025-09-20T17:00:00Z\",\n  \"event\": "
                      "{\"event_type\": \"job_paused\", \"job_id\": \"j\", \"checkpoint_version\": 2}\n}");
  auto e = storage.ReadEvents("j");
  REQUIRE(e.size() == 1);
  CHECK(
      e[0].json ==
      R"({"id":"x","timestamp":"2025-09-20T17:00:00Z","event":{"event_type":"job_paused","job_id":"j","checkpoint_version":2}})");
}

TEST_CASE("a batch is stored in one transaction: one bad record stores nothing") {
  Sandbox sb;
  auto storage = sb.Open();
  std::vector<std::string> batch;
  for (int i = 0; i < 100; ++i) batch.push_back(EventJson(i));
  CHECK(storage.AppendEvents("j", batch) > 0);
  CHECK(storage.ReadEvents("j").size() == 100);
  batch[57] = R"({"id":"bad","timestamp":"not a time","event":{"event_type":"x"}})";
  CHECK_PRODIGY_ERROR(storage.AppendEvents("j", batch), ErrorCode::kInvalidArgument,
                      "record 58 of 100 in the batch");
  CHECK(storage.ReadEvents("j").size() == 100);
  CHECK(storage.AppendEvents("j", std::vector<std::string>{}) == 0);
}

TEST_CASE("queries: type in any spelling, agent, time window, cursor, limit") {
  Sandbox sb;
  auto storage = sb.Open();
  std::vector<std::string> batch;
  for (int i = 0; i < 30; ++i) {
    const char* type = i % 3 == 0 ? "agent_completed" : i % 3 == 1 ? "d_l_q_item_added" : "agent_started";
    batch.push_back(EventJson(i, type, "m", fmt::format("agent-{}", i % 2)));
  }
  storage.AppendEvents("job-a", batch);
  storage.AppendEvent("job-b", EventJson(99, "agent_completed"));

  for (const char* spelling : {"agent_completed", "AgentCompleted"}) {
    EventQuery q;
    q.job_id = "job-a";
    q.types = {spelling};
    CHECK(Seqs(storage, q).size() == 10);
  }
  for (const char* spelling : {"dlq_item_added", "d_l_q_item_added", "DLQItemAdded"}) {
    EventQuery q;
    q.types = {spelling};
    CHECK(Seqs(storage, q).size() == 10);
  }
  EventQuery two_types;
  two_types.types = {"AgentCompleted", "agent_started"};
  CHECK(storage.CountEvents(two_types) == 21);

  EventQuery agent;
  agent.job_id = "job-a";
  agent.agent_id = "agent-1";
  CHECK(storage.CountEvents(agent) == 15);

  EventQuery window;
  window.since_ns = ParseTimestamp("2025-09-20T17:00:10Z");
  window.until_ns = ParseTimestamp("2025-09-20T17:00:20Z");
  CHECK(Seqs(storage, window) == std::vector<std::string>{"0010", "0011", "0012", "0013", "0014", "0015",
                                                          "0016", "0017", "0018", "0019"});

  EventQuery limited;
  limited.job_id = "job-a";
  limited.limit = 4;
  EventCursor cursor = storage.QueryEvents(limited);
  Event e;
  int n = 0;
  while (cursor.Next(&e)) ++n;
  CHECK(n == 4);
  // Resume after the cursor.
  EventQuery rest;
  rest.job_id = "job-a";
  rest.after_seq = cursor.last_seq();
  CHECK(storage.CountEvents(rest) == 26);
}

TEST_CASE("streaming spans many pages and sees events appended while iterating") {
  Sandbox sb;
  auto storage = sb.Open();
  std::vector<std::string> batch;
  for (int i = 0; i < 1300; ++i) batch.push_back(EventJson(i));
  storage.AppendEvents("j", batch);
  EventQuery q;
  q.job_id = "j";
  EventCursor cursor = storage.QueryEvents(q);
  Event e;
  int n = 0;
  int64_t last = 0;
  while (cursor.Next(&e)) {
    CHECK(e.seq > last);
    last = e.seq;
    if (++n == 600) storage.AppendEvent("j", EventJson(5000));
  }
  CHECK(n == 1301);
}

TEST_CASE("stats by type, agent and job; job summaries with status") {
  Sandbox sb;
  auto storage = sb.Open();
  storage.AppendEvent("job-a", EventJson(1, "job_started", "m", ""));
  storage.AppendEvent("job-a", EventJson(2, "agent_completed", "m", "agent-1"));
  storage.AppendEvent("job-a", EventJson(3, "agent_completed", "m", "agent-2"));
  storage.AppendEvent("job-a", EventJson(4, "job_completed", "m", ""));
  storage.AppendEvent("job-b", EventJson(5, "job_started", "m", ""));
  storage.AppendEvent("job-c", EventJson(6, "job_started", "m", ""));
  storage.AppendEvent("job-c", EventJson(7, "job_failed", "m", ""));

  EventQuery a;
  a.job_id = "job-a";
  auto by_type = storage.GroupEvents(a, EventGroupBy::kType);
  REQUIRE(by_type.size() == 3);
  CHECK(by_type[0].key == "agent_completed");
  CHECK(by_type[0].count == 2);
  auto by_agent = storage.GroupEvents(a, EventGroupBy::kAgent);
  CHECK(by_agent.size() == 3);
  auto by_job = storage.GroupEvents({}, EventGroupBy::kJob);
  CHECK(by_job[0].key == "job-a");

  auto jobs = storage.ListEventJobs();
  REQUIRE(jobs.size() == 3);
  std::map<std::string, std::string> status;
  for (const auto& j : jobs) status[j.job_id] = j.status;
  CHECK(status["job-a"] == "completed");
  CHECK(status["job-b"] == "in_progress");
  CHECK(status["job-c"] == "failed");
  CHECK(jobs.back().first_timestamp.starts_with("2025-09-20T17:00:0"));
}

TEST_CASE("deleting events by time rewrites the job's mirror") {
  Sandbox sb;
  auto storage = sb.Open();
  std::vector<std::string> batch;
  for (int i = 0; i < 10; ++i) batch.push_back(EventJson(i));
  storage.AppendEvents("j", batch);
  EventQuery old;
  old.job_id = "j";
  old.until_ns = ParseTimestamp("2025-09-20T17:00:05Z");
  CHECK(storage.DeleteEvents(old) == 5);
  CHECK(storage.ReadEvents("j").size() == 5);
  std::string expected;
  for (int i = 5; i < 10; ++i) expected += EventJson(i) + "\n";
  storage.FlushMirrors();
  if (!OnPostgres()) CHECK(ReadAll(sb.root / "my-repo" / "events" / "j" / "events.jsonl") == expected);
  EventQuery all;
  all.job_id = "j";
  CHECK(storage.DeleteEvents(all) == 5);
  storage.FlushMirrors();
  CHECK_FALSE(fs::exists(sb.root / "my-repo" / "events" / "j"));
}

TEST_CASE("event type normalization") {
  CHECK(NormalizeEventType("AgentCompleted") == "agent_completed");
  CHECK(NormalizeEventType("agent_completed") == "agent_completed");
  CHECK(NormalizeEventType("DLQItemAdded") == "dlq_item_added");
  CHECK(NormalizeEventType("d_l_q_item_added") == "dlq_item_added");
  CHECK(NormalizeEventType("dlq_item_added") == "dlq_item_added");
  CHECK(NormalizeEventType("d_l_q_analysis_generated") == "dlq_analysis_generated");
  CHECK(NormalizeEventType("ClaudeToolInvoked") == "claude_tool_invoked");
  CHECK(NormalizeEventType("JobStarted") == "job_started");
}

TEST_CASE("RFC 3339 timestamps") {
  CHECK(ParseTimestamp("1970-01-01T00:00:00Z") == 0);
  CHECK(ParseTimestamp("2025-09-20T17:06:02.700Z") == ParseTimestamp("2025-09-20T17:06:02.700000000Z"));
  CHECK(ParseTimestamp("2025-09-20T19:06:02+02:00") == ParseTimestamp("2025-09-20T17:06:02Z"));
  CHECK(*ParseTimestamp("2025-09-18T04:18:51.000402Z") % 1000000000 == 402000);
  CHECK_FALSE(ParseTimestamp("2025-09-20").has_value());
  CHECK_FALSE(ParseTimestamp("2025-13-20T00:00:00Z").has_value());
  CHECK_FALSE(ParseTimestamp("2025-09-20T00:00:00").has_value());
  CHECK_FALSE(ParseTimestamp("2025-09-20T00:00:00.Z").has_value());
  CHECK(FormatTimestamp(*ParseTimestamp("2025-09-18T04:18:51.000402Z")) == "2025-09-18T04:18:51.000402Z");
}

TEST_CASE("the last n events: with filters, in append order, the same as the tail of a full read") {
  Sandbox sb;
  auto storage = sb.Open();
  std::vector<std::string> batch;
  for (int i = 0; i < 50; ++i)
    batch.push_back(EventJson(i, i % 3 == 0 ? "agent_completed" : "agent_started"));
  storage.AppendEvents("j", batch);
  storage.AppendEvent("other", EventJson(99));
  EventQuery job;
  job.job_id = "j";
  const std::vector<Event> all = storage.ReadEvents("j");
  const std::vector<Event> last = storage.LastEvents(job, 10);
  REQUIRE(last.size() == 10);
  for (size_t i = 0; i < last.size(); ++i) {
    CHECK(last[i].seq == all[all.size() - 10 + i].seq);
    CHECK(last[i].json == all[all.size() - 10 + i].json);
  }
  EventQuery completed = job;
  completed.types = {"AgentCompleted"};
  std::vector<Event> matching;
  storage.ForEachEvent(completed, [&](const Event& e) {
    matching.push_back(e);
    return true;
  });
  const std::vector<Event> last_completed = storage.LastEvents(completed, 3);
  REQUIRE(last_completed.size() == 3);
  CHECK(last_completed.back().seq == matching.back().seq);
  CHECK(last_completed.front().seq == matching[matching.size() - 3].seq);
  CHECK(storage.LastEvents(job, 1000).size() == 50);
  CHECK(storage.LastEvents(job, 0).empty());
  EventQuery none;
  none.job_id = "nope";
  CHECK(storage.LastEvents(none, 5).empty());
  CHECK_THROWS_AS(storage.LastEvents(job, -1), Error);
}
