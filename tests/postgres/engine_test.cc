// The PostgreSQL engine through the engine interface: rows round-trip
// verbatim, seq is handed out in commit order, repositories sharing a
// database stay apart, and waiting for events wakes on NOTIFY.
#include <doctest/doctest.h>

#include <array>
#include <thread>

#include "engine/tables.h"
#include "pg_test_util.h"
#include "postgres/migrations.h"
#include "postgres/postgres_engine.h"

using namespace prodigy;
using namespace prodigy::test;
namespace tables = prodigy::engine::tables;
using engine::Value;

namespace {

StorageConfig ConfigFor(const std::string& url, bool notify = true) {
  StorageConfig config;
  config.storage_url = url;
  config.notify = notify;
  return config;
}

std::unique_ptr<engine::Engine> OpenEngine(const std::string& url, const std::string& key = "my-repo",
                                           bool notify = true) {
  return internal::OpenPostgresEngine(ConfigFor(url, notify), {key, key, "/src/" + key});
}

Event MakeEvent(const std::string& job, int n) {
  Event e;
  e.job_id = job;
  e.record_id = fmt::format("id-{}", n);
  e.timestamp = "2025-09-06T08:00:00Z";
  e.ts_ns = 1757145600000000000 + n;
  e.event_type = "AgentCompleted";
  e.event_name = "agent_completed";
  e.agent_id = n % 2 ? "agent-1" : "";
  e.json = fmt::format(R"({{"id":"id-{}",  "b":1, "a":2, "a":3, "z":"\u0000", "timestamp":"{}"}})", n,
                       e.timestamp);
  return e;
}

int64_t Append(engine::WriteTxn& txn, const Event& e) {
  std::array<Value, 14> row;
  tables::kEventCodec.Values(e, {}, &row);
  return txn.AppendEvent(row);
}

std::vector<Event> AllEvents(engine::Engine& eng, const EventQuery& q = {}) {
  std::vector<Event> out;
  eng.Read([&](engine::ReadTxn& txn) {
    txn.QueryEvents(q, 1000000, [&](const engine::RowView& r) {
      out.push_back(tables::kEventCodec.Read(r));
      return true;
    });
  });
  return out;
}

}  // namespace

TEST_CASE("events round-trip verbatim with their columns, filters and counts") {
  TestDatabase db;
  auto eng = OpenEngine(db.url());
  CHECK(eng->name() == "postgres");
  CHECK(eng->SchemaVersion() == internal::LatestPostgresSchemaVersion());
  int64_t last = 0;
  eng->Write([&](engine::WriteTxn& txn) {
    for (int i = 1; i <= 5; ++i) last = Append(txn, MakeEvent(i <= 3 ? "job-a" : "job-b", i));
  });
  CHECK(last == 5);
  const std::vector<Event> all = AllEvents(*eng);
  REQUIRE(all.size() == 5);
  CHECK(all[0].seq == 1);
  CHECK(all[0].json == MakeEvent("job-a", 1).json);
  CHECK(all[0].agent_id == "agent-1");
  CHECK(all[1].agent_id == "");  // "" is stored as NULL and read back as ""
  CHECK(all[4].job_id == "job-b");
  CHECK(all[4].ts_ns == 1757145600000000005);

  EventQuery q;
  q.job_id = "job-a";
  q.after_seq = 1;
  CHECK(AllEvents(*eng, q).size() == 2);
  q = {};
  q.agent_id = "agent-1";
  q.types = {"AgentCompleted"};
  CHECK(AllEvents(*eng, q).size() == 3);
  eng->Read([&](engine::ReadTxn& txn) {
    CHECK(txn.CountEvents({}) == 5);
    const auto groups = txn.GroupEvents({}, EventGroupBy::kJob);
    REQUIRE(groups.size() == 2);
    CHECK(groups[0].key == "job-a");
    CHECK(groups[0].count == 3);
    const auto jobs = txn.EventJobs();
    REQUIRE(jobs.size() == 2);
    CHECK(jobs[0].job_id == "job-b");  // most recently appended to first
    CHECK(txn.Counts().events == 5);
  });
  eng->Write([&](engine::WriteTxn& txn) {
    EventQuery del;
    del.job_id = "job-a";
    const engine::Removed removed = txn.DeleteEvents(del);
    CHECK(removed.count == 3);
    CHECK(removed.jobs == std::vector<std::string>{"job-a"});
  });
  CHECK(AllEvents(*eng).size() == 2);
  // The counter never goes back: a deleted seq is not handed out again.
  eng->Write([&](engine::WriteTxn& txn) { CHECK(Append(txn, MakeEvent("job-a", 6)) == 6); });
  CHECK(eng->CheckIntegrity().empty());
}

TEST_CASE("documents by key: put, get, scan, replace, delete, prune, statistics") {
  TestDatabase db;
  auto eng = OpenEngine(db.url());
  eng->Write([&](engine::WriteTxn& txn) {
    for (int v = 1; v <= 4; ++v) {
      JobState s;
      s.job_id = "job-1";
      s.version = v;
      s.json = fmt::format(R"({{"job_id":"job-1","checkpoint_version":{}}})", v);
      s.written_at = fmt::format("2025-01-0{}T00:00:00Z", v);
      std::array<Value, 10> row;
      tables::kStateCodec.Values(s, {}, &row);
      txn.Put(tables::kJobStates, row);
    }
    txn.PruneStates("job-1", 3);
    for (int i = 0; i < 3; ++i) {
      DlqItem item;
      item.job_id = "job-1";
      item.item_id = fmt::format("item-{}", i);
      item.last_attempt_ns = i == 1 ? std::nullopt : std::optional<int64_t>(i);
      item.error_signature = i ? "Timeout after 30s" : "";
      item.reprocess_eligible = i != 0;
      item.json = "{}";
      item.updated_at = "now";
      std::array<Value, 14> row;
      tables::kDlqCodec.Values(item, {}, &row);
      txn.Put(tables::kDlqItems, row);
    }
    CHECK(txn.MarkDlqJob("job-1", "2025-01-05T00:00:00Z") == 2);
  });
  eng->Read([&](engine::ReadTxn& txn) {
    CHECK(txn.MaxStateVersion("job-1") == 4);
    CHECK_FALSE(txn.MaxStateVersion("job-2").has_value());
    std::vector<int64_t> versions;
    const Value prefix[] = {std::string_view("job-1")};
    txn.Scan(tables::kJobStates, prefix, true, [&](const engine::RowView& r) {
      versions.push_back(tables::kStateCodec.Read(r).version);
      return true;
    });
    CHECK(versions == std::vector<int64_t>{4, 3, 2});
    int latest = 0;
    txn.LatestStates([&](const engine::RowView& r) {
      CHECK(tables::kStateCodec.Read(r).version == 4);
      ++latest;
      return true;
    });
    CHECK(latest == 1);

    std::vector<std::string> order;
    txn.ListDlq({}, [&](const engine::RowView& r) {
      const DlqItem item = tables::kDlqCodec.Read(r);
      order.push_back(item.item_id);
      CHECK(item.error_signature == (item.item_id == "item-0" ? "" : "Timeout after 30s"));
      return true;
    });
    // Newest last attempt first; an item without one last (as in SQLite).
    CHECK(order == std::vector<std::string>{"item-2", "item-0", "item-1"});
    DlqFilter f;
    f.error_signature = "Timeout";
    f.reprocess_requested = true;
    int n = 0;
    txn.ListDlq(f, [&](const engine::RowView&) { return ++n, true; });
    CHECK(n == 2);
    const DlqStats stats = txn.DlqStatistics("job-1");
    CHECK(stats.total_items == 3);
    CHECK(stats.eligible_for_reprocess == 2);
    CHECK(stats.marked_for_reprocess == 2);
    REQUIRE(stats.error_categories.size() == 2);
    CHECK(stats.error_categories[0].key == "Timeout after 30s");
    CHECK(txn.Groups(tables::kDlqItems) == std::vector<std::string>{"job-1"});
  });
  eng->Write([&](engine::WriteTxn& txn) {
    const Value key[] = {std::string_view("job-1"), std::string_view("item-0")};
    CHECK(txn.Delete(tables::kDlqItems, key));
    CHECK_FALSE(txn.Delete(tables::kDlqItems, key));
    txn.SetMeta("database_id", "42");
    txn.SetMeta("database_id", "43");
    CHECK(txn.Meta("database_id") == "43");
  });
}

TEST_CASE("a failed write leaves nothing, and seq is not consumed") {
  TestDatabase db;
  auto eng = OpenEngine(db.url());
  CHECK_THROWS_AS(eng->Write([&](engine::WriteTxn& txn) {
    Append(txn, MakeEvent("job", 1));
    throw Error(ErrorCode::kInvalidArgument, "the caller gave up");
  }),
                  Error);
  CHECK(AllEvents(*eng).empty());
  eng->Write([&](engine::WriteTxn& txn) { CHECK(Append(txn, MakeEvent("job", 2)) == 1); });
}

TEST_CASE("seq follows commit order: a reader's cursor never skips a late commit") {
  TestDatabase db;
  auto reader = OpenEngine(db.url());
  auto slow = OpenEngine(db.url());
  auto fast = OpenEngine(db.url());
  reader->Write([&](engine::WriteTxn& txn) { Append(txn, MakeEvent("job", 0)); });

  std::atomic<bool> slow_appended{false};
  int64_t slow_seq = 0, fast_seq = 0;
  std::thread slow_writer([&]() {
    slow->Write([&](engine::WriteTxn& txn) {
      slow_seq = Append(txn, MakeEvent("slow", 1));
      slow_appended = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    });
  });
  while (!slow_appended) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::thread fast_writer(
      [&]() { fast->Write([&](engine::WriteTxn& txn) { fast_seq = Append(txn, MakeEvent("fast", 2)); }); });
  // While the slow transaction is open, a reader sees only the first event.
  CHECK(AllEvents(*reader).size() == 1);
  slow_writer.join();
  fast_writer.join();
  CHECK(slow_seq == 2);
  CHECK(fast_seq == 3);
  const auto all = AllEvents(*reader);
  REQUIRE(all.size() == 3);
  CHECK(all[1].job_id == "slow");
  CHECK(all[2].job_id == "fast");
}

TEST_CASE("repositories sharing a database stay apart; the key finds the same repository again") {
  TestDatabase db;
  auto a = OpenEngine(db.url(), "github.com/org/a");
  auto b = OpenEngine(db.url(), "github.com/org/b");
  a->Write([&](engine::WriteTxn& txn) { Append(txn, MakeEvent("job", 1)); });
  b->Write([&](engine::WriteTxn& txn) {
    Append(txn, MakeEvent("job", 1));
    Append(txn, MakeEvent("job", 2));
  });
  CHECK(AllEvents(*a).size() == 1);
  CHECK(AllEvents(*b).size() == 2);
  CHECK(AllEvents(*b).back().seq == 2);  // each repository counts its own seq
  auto a_again =
      internal::OpenPostgresEngine(ConfigFor(db.url()), {"github.com/org/a", "a", "/elsewhere/a"}, false);
  CHECK(AllEvents(*a_again).size() == 1);
  a_again->Read([&](engine::ReadTxn& txn) { CHECK(txn.RecordedRepository() == "/src/github.com/org/a"); });
  CHECK_PRODIGY_ERROR(internal::OpenPostgresEngine(ConfigFor(db.url()), {"no-such-key", "x", "/x"}, false),
                      ErrorCode::kNotFound, "has no repository with the key 'no-such-key'");
}

TEST_CASE("waiting for events wakes on another connection's commit, with and without NOTIFY") {
  for (bool notify : {true, false}) {
    CAPTURE(notify);
    TestDatabase db;
    auto waiter = OpenEngine(db.url(), "my-repo", notify);
    auto writer = OpenEngine(db.url(), "my-repo", notify);
    CHECK(waiter->WaitForEvents(0, std::chrono::milliseconds(50)) == 0);
    std::thread t([&]() {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      writer->Write([&](engine::WriteTxn& txn) { Append(txn, MakeEvent("job", 1)); });
    });
    CHECK(waiter->WaitForEvents(0, std::chrono::seconds(60)) == 1);
    t.join();
  }
}

TEST_CASE("a snapshot sees one state across its reads") {
  TestDatabase db;
  auto eng = OpenEngine(db.url());
  auto other = OpenEngine(db.url());
  eng->Write([&](engine::WriteTxn& txn) { Append(txn, MakeEvent("job", 1)); });
  eng->Snapshot([&](engine::ReadTxn& txn) {
    CHECK(txn.CountEvents({}) == 1);
    other->Write([&](engine::WriteTxn& w) { Append(w, MakeEvent("job", 2)); });
    CHECK(txn.CountEvents({}) == 1);
  });
  eng->Read([&](engine::ReadTxn& txn) { CHECK(txn.CountEvents({}) == 2); });
}
