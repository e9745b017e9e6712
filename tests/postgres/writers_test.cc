// Many machines on one repository: 8 writer processes (single and batch
// appends, DLQ items, job state) and a reader against one PostgreSQL
// repository. No errors, every event present, in order per process, and the
// reader's "after seq" cursor never skips an event that committed late.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <array>
#include <map>

#include "engine/tables.h"
#include "pg_test_util.h"
#include "postgres/postgres_engine.h"

using namespace prodigy;
using namespace prodigy::test;
namespace tables = prodigy::engine::tables;
using engine::Value;

namespace {

constexpr int kWriters = 8;

std::unique_ptr<engine::Engine> OpenEngine(const std::string& url) {
  StorageConfig config;
  config.storage_url = url;
  return internal::OpenPostgresEngine(config, {"shared", "shared", "/src/shared"});
}

Event MakeEvent(int writer, int n) {
  Event e;
  e.job_id = fmt::format("writer-{}", writer);
  e.record_id = fmt::format("{}-{}", writer, n);
  e.timestamp = "2025-09-20T17:03:12Z";
  e.event_type = "AgentCompleted";
  e.event_name = "agent_completed";
  e.json = fmt::format(R"({{"id":"{}-{}","writer":{},"n":{}}})", writer, n, writer, n);
  return e;
}

void Append(engine::WriteTxn& txn, const Event& e) {
  std::array<Value, 14> row;
  tables::kEventCodec.Values(e, {}, &row);
  txn.AppendEvent(row);
}

int Writer(const std::string& url, int writer, int rounds) {
  auto eng = OpenEngine(url);
  int n = 0;
  for (int round = 0; round < rounds; ++round) {
    eng->Write([&](engine::WriteTxn& txn) { Append(txn, MakeEvent(writer, n)); });
    ++n;
    eng->Write([&](engine::WriteTxn& txn) {
      for (int i = 0; i < 5; ++i) Append(txn, MakeEvent(writer, n + i));
    });
    n += 5;
    eng->Write([&](engine::WriteTxn& txn) {
      DlqItem item;
      item.job_id = fmt::format("writer-{}", writer);
      item.item_id = fmt::format("item-{}", round);
      item.json = "{}";
      item.updated_at = "now";
      std::array<Value, 14> row;
      tables::kDlqCodec.Values(item, {}, &row);
      txn.Put(tables::kDlqItems, row);
      JobState state;
      state.job_id = fmt::format("writer-{}", writer);
      state.version = round + 1;
      state.json = "{}";
      state.written_at = "now";
      std::array<Value, 10> srow;
      tables::kStateCodec.Values(state, {}, &srow);
      txn.Put(tables::kJobStates, srow);
      txn.PruneStates(state.job_id, 3);
    });
  }
  return 0;
}

}  // namespace

TEST_CASE("8 writer processes and a cursor reader on one repository") {
  TestDatabase db;
  const int rounds = 25 * StressScale();
  OpenEngine(db.url());  // the repository row, before the race
  std::vector<pid_t> pids;
  for (int w = 0; w < kWriters; ++w) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      int code = 1;
      try {
        code = Writer(db.url(), w, rounds);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "writer %d: %s\n", w, e.what());
      }
      ::_exit(code);
    }
    pids.push_back(pid);
  }

  // The reader follows with an "after seq" cursor while the writers run;
  // reads never wait for writers.
  auto reader = OpenEngine(db.url());
  const int64_t total = static_cast<int64_t>(kWriters) * rounds * 6;
  int64_t cursor = 0;
  int64_t seen = 0;
  std::map<int, int> next_n;  // per writer: the n expected next
  bool in_order = true;
  while (seen < total) {
    const int64_t newest = reader->WaitForEvents(cursor, std::chrono::seconds(30));
    REQUIRE(newest > cursor);
    reader->Read([&](engine::ReadTxn& txn) {
      EventQuery q;
      q.after_seq = cursor;
      txn.QueryEvents(q, 1000, [&](const engine::RowView& r) {
        const Event e = tables::kEventCodec.Read(r);
        if (e.seq != cursor + 1)
          in_order = false;  // seqs are dense: nothing committed below the cursor later
        cursor = e.seq;
        const int writer = std::stoi(e.job_id.substr(7));
        const int n = std::stoi(e.record_id.substr(e.record_id.find('-') + 1));
        if (next_n[writer] != n) in_order = false;
        next_n[writer] = n + 1;
        ++seen;
        return true;
      });
    });
  }
  for (pid_t pid : pids) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  CHECK(in_order);
  CHECK(seen == total);
  reader->Read([&](engine::ReadTxn& txn) {
    const TableCounts c = txn.Counts();
    CHECK(c.events == total);
    CHECK(c.dlq_items == kWriters * rounds);
    CHECK(c.job_states == kWriters * 3);
  });
  CHECK(reader->CheckIntegrity().empty());
}
