// sync: a repository copied SQLite -> PostgreSQL -> SQLite comes back
// identical, is verified on both sides, and never overwrites data of another
// origin without --replace.
#include <doctest/doctest.h>

#include "pg_test_util.h"

using namespace prodigy;
using namespace prodigy::test;

namespace {

// A store with every kind of document, including bytes JSON keeps verbatim.
void Fill(GlobalStorage& s, int events) {
  std::vector<std::string> batch;
  for (int i = 0; i < events; ++i) batch.push_back(EventJson(i));
  s.AppendEvents("mapreduce-20250920_170312", batch);
  s.AppendEvent("other-log", EventJson(1000, "agent_completed"));
  s.AddDlqItem("job-1", DlqItemJson("item-1", "2025-09-20T17:03:12Z"));
  s.AddDlqItem("job-1", DlqItemJson("item-2", "2025-09-21T17:03:12Z"));
  s.WriteState("job-1", StateJson("job-1", 1));
  s.WriteState("job-1", StateJson("job-1", 2, true));
  s.SaveSession(SessionJson("session-1", "running"));
  s.SaveCheckpoint(CheckpointJson("workflow-1", "2025-09-20T17:03:12Z"));
}

// Everything the public API returns, as one string to compare.
std::string Dump(GlobalStorage& s) {
  std::string out;
  for (const auto& job : s.ListEventJobs()) {
    for (const Event& e : s.ReadEvents(job.job_id)) out += fmt::format("{} {} {}\n", e.seq, e.job_id, e.json);
  }
  for (const DlqItem& d : s.ListDlqItems()) out += d.json + "\n";
  for (const JobState& j : s.StateHistory("job-1")) out += j.json + j.written_at + "\n";
  for (const Session& x : s.ListSessions()) out += x.json + x.updated_at + "\n";
  for (const WorkflowCheckpoint& c : s.ListCheckpoints()) out += c.json + "\n";
  return out;
}

SyncOptions To(const std::string& url, bool replace = false) {
  SyncOptions o;
  o.url = url;
  o.replace = replace;
  return o;
}

}  // namespace

TEST_CASE("SQLite -> PostgreSQL -> SQLite: the same data, verified per table on both sides") {
  TestDatabase db;
  Sandbox first;
  std::string before;
  {
    GlobalStorage s = first.Open();
    Fill(s, 250);
    s.DeleteEvents([] {
      EventQuery q;
      q.before_seq = 3;
      return q;
    }());  // a gap in seq must survive the trip
    before = Dump(s);
  }
  int64_t progress_calls = 0;
  SyncOptions options = To(db.url());
  options.progress = [&](std::string_view, int64_t) { ++progress_calls; };
  const SyncReport to = SyncToServer(first.repo, first.Config(), options);
  CHECK(progress_calls > 0);
  CHECK(to.repository_key == "my-repo");
  REQUIRE(to.tables.size() == 8);
  CHECK(to.tables[1].table == "events");
  CHECK(to.tables[1].rows == 249);

  // Another machine: same folder name (the default key), an empty root.
  Sandbox second;
  const SyncReport from = SyncFromServer(second.repo, second.Config(), To(db.url()));
  REQUIRE(from.tables.size() == to.tables.size());
  for (size_t i = 0; i < to.tables.size(); ++i) {
    CAPTURE(to.tables[i].table);
    CHECK(from.tables[i].rows == to.tables[i].rows);
    CHECK(from.tables[i].sha256 == to.tables[i].sha256);
  }
  GlobalStorage copy = second.Open();
  CHECK(Dump(copy) == before);
  // Appending continues after the highest seq, as on the original.
  CHECK(copy.AppendEvent("other-log", EventJson(2000)) == 252);
}

TEST_CASE("sync refuses to overwrite another origin's data without --replace, and changes nothing then") {
  TestDatabase db;
  Sandbox a, b;
  {
    GlobalStorage s = a.Open();
    Fill(s, 3);
  }
  {
    GlobalStorage s = b.Open();
    Fill(s, 7);
  }
  SyncToServer(a.repo, a.Config(), To(db.url()));
  // The same store again is a refresh, not a conflict.
  SyncToServer(a.repo, a.Config(), To(db.url()));
  CHECK_PRODIGY_ERROR(SyncToServer(b.repo, b.Config(), To(db.url())), ErrorCode::kInvalidArgument,
                      "already holds repository 'my-repo' with data from another store");
  const SyncReport replaced = SyncToServer(b.repo, b.Config(), To(db.url(), true));
  CHECK(replaced.tables[1].rows == 8);

  // Locally: a store with data is only overwritten with --replace.
  CHECK_PRODIGY_ERROR(SyncFromServer(a.repo, a.Config(), To(db.url())), ErrorCode::kInvalidArgument,
                      "already holds data; nothing was changed");
  {
    GlobalStorage s = a.Open();
    CHECK(s.CountEvents({}) == 4);
  }
  SyncFromServer(a.repo, a.Config(), To(db.url(), true));
  GlobalStorage s = a.Open();
  CHECK(s.CountEvents({}) == 8);
}

TEST_CASE("sync errors name the server without the password") {
  Sandbox box;
  {
    GlobalStorage s = box.Open();
    Fill(s, 1);
  }
  try {
    SyncToServer(box.repo, box.Config(), To("postgresql://bob:hunter2@/x?host=/nonexistent"));
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::kIo);
    CHECK(e.message().find("hunter2") == std::string::npos);
    CHECK(e.message().find("bob@/nonexistent") != std::string::npos);
  }
  Sandbox empty;
  CHECK_PRODIGY_ERROR(SyncToServer(empty.repo, empty.Config(), To(ServerUrl())), ErrorCode::kNotFound,
                      "has no local store to copy");
}
