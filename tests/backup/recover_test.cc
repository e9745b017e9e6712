// Recovery of a damaged database (RecoverDatabase, `check --repair`): random
// page damage on a store with mirrors must give back every document the
// mirrors hold, in order, and leave a database that passes every check.
#include <doctest/doctest.h>

#include <random>

#include "../unit/test_util.h"
#include "prodigy/backup.h"

namespace prodigy::test {
namespace {

constexpr int kPageSize = 4096;

// What the mirrors hold, read through the public API of a sound store.
struct Expected {
  std::map<std::string, std::vector<std::string>> events;  // job -> jsons in order
  std::map<std::pair<std::string, std::string>, std::string> dlq;
  std::map<std::pair<std::string, int64_t>, std::string> states;
  std::map<std::string, std::string> sessions;
  std::map<std::string, std::string> checkpoints;
};

Expected ReadAllDocuments(GlobalStorage& s) {
  Expected e;
  for (const EventJobSummary& j : s.ListEventJobs()) {
    for (const Event& ev : s.ReadEvents(j.job_id)) e.events[j.job_id].push_back(ev.json);
  }
  for (const DlqItem& d : s.ListDlqItems()) e.dlq[{d.job_id, d.item_id}] = d.json;
  for (const JobState& latest : s.ListJobStates()) {
    for (const JobState& st : s.StateHistory(latest.job_id)) e.states[{st.job_id, st.version}] = st.json;
  }
  for (const Session& ss : s.ListSessions()) e.sessions[ss.session_id] = ss.json;
  for (const WorkflowCheckpoint& c : s.ListCheckpoints()) e.checkpoints[c.workflow_id] = c.json;
  return e;
}

// Three jobs of interleaved events (many pages), DLQ items, state versions,
// sessions and workflow checkpoints; small documents, so no overflow pages.
void Populate(const Sandbox& sb) {
  GlobalStorage s = sb.Open();
  const std::string jobs[] = {"job-a", "job-b", "job/with slash"};
  for (int n = 0; n < 300; ++n) s.AppendEvent(jobs[n % 3], EventJson(n, "agent_started", jobs[n % 3]));
  for (int i = 0; i < 12; ++i) {
    s.AddDlqItem("job-a",
                 DlqItemJson(fmt::format("item_{}", i), fmt::format("2025-09-20T17:0{}:00Z", i % 10)));
  }
  for (int v = 1; v <= 3; ++v) s.WriteState("job-a", StateJson("job-a", v, v == 3));
  for (int i = 0; i < 5; ++i) s.SaveSession(SessionJson(fmt::format("session-{}", i), "InProgress"));
  for (int i = 0; i < 3; ++i) {
    s.SaveCheckpoint(CheckpointJson(fmt::format("wf-{}", i), fmt::format("2025-09-20T17:0{}:00Z", i)));
  }
}

void CheckSound(const Sandbox& sb, const StorageConfig& config, const Expected& want,
                const std::string& trial) {
  GlobalStorage s = GlobalStorage::OpenWithConfig(sb.repo, config);
  CHECK_MESSAGE(s.CheckIntegrity().empty(), trial);
  CHECK_MESSAGE(s.CheckMirrors().empty(), trial);
  const Expected got = ReadAllDocuments(s);
  CHECK_MESSAGE(got.events == want.events, trial);
  CHECK_MESSAGE(got.dlq == want.dlq, trial);
  CHECK_MESSAGE(got.states == want.states, trial);
  CHECK_MESSAGE(got.sessions == want.sessions, trial);
  CHECK_MESSAGE(got.checkpoints == want.checkpoints, trial);
}

void OverwritePage(const fs::path& db, int64_t page, std::mt19937_64& rng, bool zeros) {
  std::string bytes(kPageSize, '\0');
  if (!zeros) {
    for (char& c : bytes) c = static_cast<char>(rng());
  }
  std::fstream f(db, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp((page - 1) * kPageSize);
  f.write(bytes.data(), kPageSize);
}

TEST_CASE("100 trials of random page damage: every document of the mirrors comes back and check passes") {
  Sandbox sb;
  Populate(sb);  // closed: the -wal is folded into the database file
  Expected want;
  {
    GlobalStorage s = sb.Open();
    want = ReadAllDocuments(s);
  }
  REQUIRE(want.events.size() == 3);
  const fs::path template_root = sb.tmp / "template";
  fs::copy(sb.root, template_root, fs::copy_options::recursive);
  const int64_t pages =
      static_cast<int64_t>(fs::file_size(template_root / "my-repo" / "prodigy.db")) / kPageSize;
  REQUIRE(pages > 20);

  std::mt19937_64 rng(20261202);
  int recovered = 0;
  for (int trial = 0; trial < 100; ++trial) {
    fs::remove_all(sb.root);
    fs::copy(template_root, sb.root, fs::copy_options::recursive);
    const int64_t page = 1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(pages));
    const std::string name = fmt::format("trial {} (page {} of {})", trial, page, pages);
    OverwritePage(sb.root / "my-repo" / "prodigy.db", page, rng, trial % 4 == 0);
    const RecoveryReport report = RecoverDatabase(sb.repo, sb.Config());
    if (report.needed) {
      ++recovered;
      CHECK_MESSAGE(fs::exists(report.damaged_copy), name);
    }
    CheckSound(sb, sb.Config(), want, name);
  }
  CHECK(recovered > 50);  // a few pages (e.g. of an index) may be damaged harmlessly
}

// The byte offset of `marker` in the file, to damage one known page.
int64_t PageOf(const fs::path& db, const std::string& marker) {
  const std::string content = ReadAll(db);
  const size_t at = content.find(marker);
  REQUIRE(at != std::string::npos);
  return static_cast<int64_t>(at / kPageSize) + 1;
}

TEST_CASE("a sound database is left alone") {
  Sandbox sb;
  Populate(sb);
  const std::string before = ReadAll(sb.root / "my-repo" / "prodigy.db");
  const RecoveryReport report = RecoverDatabase(sb.repo, sb.Config());
  CHECK_FALSE(report.needed);
  CHECK(ReadAll(sb.root / "my-repo" / "prodigy.db") == before);
}

TEST_CASE("newest wins: a mirror file written after its row replaces the damaged database's copy") {
  Sandbox sb;
  Populate(sb);
  const fs::path db = sb.root / "my-repo" / "prodigy.db";
  // A later write the database lost (as with a lost -wal): the mirror has it.
  const fs::path session_file = sb.root / "my-repo" / "sessions" / "session-2.json";
  const std::string newer = SessionJson("session-2", "Completed");
  WriteAll(session_file, newer);
  fs::last_write_time(session_file, fs::file_time_type::clock::now() + std::chrono::hours(1));
  // An older mirror copy than the row must lose.
  const fs::path older_file = sb.root / "my-repo" / "sessions" / "session-3.json";
  const std::string kept = ReadAll(older_file);
  WriteAll(older_file, SessionJson("session-3", "Failed"));
  fs::last_write_time(older_file, fs::file_time_type::clock::now() - std::chrono::hours(24 * 365));
  // Damage the page holding one event only: sessions stay readable.
  std::mt19937_64 rng(7);
  OverwritePage(db, PageOf(db, "00000000-0000-4000-8000-000000000150"), rng, false);

  const RecoveryReport report = RecoverDatabase(sb.repo, sb.Config());
  REQUIRE(report.needed);
  GlobalStorage s = sb.Open();
  CHECK(s.LoadSession("session-2")->json == newer);
  CHECK(s.LoadSession("session-3")->json == kept);
  CHECK(s.CheckIntegrity().empty());
  CHECK(s.ReadEvents("job-a").size() == 100);
  bool sessions_reported = false;
  for (const RecoveryKindReport& k : report.kinds) {
    if (k.kind == "sessions") {
      sessions_reported = true;
      CHECK(k.from_database == 5);
      CHECK(k.mirror_newer == 1);
    }
    if (k.kind == "events") CHECK(k.from_mirrors > 0);
  }
  CHECK(sessions_reported);
}

TEST_CASE(
    "with the schema page lost the mirrors alone give every mirrored event back; a torn line is set aside") {
  Sandbox sb;
  StorageConfig no_mirrors = sb.Config();
  {
    GlobalStorage s = sb.Open();
    for (int n = 0; n < 10; ++n) s.AppendEvent("job-a", EventJson(n, "agent_started", "job-a"));
  }
  {
    // Written with mirrors off: only the database has these.
    no_mirrors.mirrors = false;
    GlobalStorage s = GlobalStorage::OpenWithConfig(sb.repo, no_mirrors);
    for (int n = 10; n < 15; ++n) s.AppendEvent("job-a", EventJson(n, "agent_started", "job-a"));
  }
  const fs::path mirror = sb.root / "my-repo" / "events" / "job-a" / "events.jsonl";
  {
    std::ofstream out(mirror, std::ios::app | std::ios::binary);
    out << "{\"torn";
  }
  const fs::path db = sb.root / "my-repo" / "prodigy.db";
  // Page 1 holds the schema: nothing of the database is readable.
  std::mt19937_64 rng(3);
  OverwritePage(db, 1, rng, true);
  RecoveryReport report = RecoverDatabase(sb.repo, sb.Config());
  REQUIRE(report.needed);
  GlobalStorage s = sb.Open();
  CHECK(s.ReadEvents("job-a").size() == 10);  // the 5 unmirrored ones were on lost pages
  CHECK(fs::exists(report.damaged_copy.parent_path() / "rejected-mirrors" / "events" / "job-a" /
                   "events.jsonl"));
  bool torn_reported = false;
  for (const std::string& p : report.problems) torn_reported |= p.find("events.jsonl") != std::string::npos;
  CHECK(torn_reported);
}

}  // namespace
}  // namespace prodigy::test
