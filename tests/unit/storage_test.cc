// GlobalStorage: repository identity, job state, DLQ, sessions, workflow checkpoints.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "test_util.h"

using namespace prodigy;
using namespace prodigy::test;

TEST_CASE("open creates <root>/<repo>/prodigy.db with a 0700 root and records the repository" *
          doctest::test_suite("sqlite")) {
  Sandbox sb;
  auto storage = sb.Open();
  CHECK(storage.location().name == "my-repo");
  CHECK(storage.location().db_path == sb.root / "my-repo" / "prodigy.db");
  CHECK(fs::exists(storage.location().db_path));
  struct stat st;
  REQUIRE(::stat(sb.root.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  const RepositoryInfo info = storage.Info();
  CHECK(info.repo_path == fs::canonical(sb.repo));
  CHECK(info.schema_version >= 1);
  CHECK(info.counts.events == 0);
}

TEST_CASE("two repositories with the same folder name never share a database" *
          doctest::test_suite("sqlite")) {
  Sandbox sb;
  const fs::path other = sb.tmp / "elsewhere" / "my-repo";
  fs::create_directories(other);
  auto first = sb.Open();
  auto second = GlobalStorage::OpenWithConfig(other, sb.Config());
  CHECK(first.location().dir != second.location().dir);
  CHECK(second.location().name.starts_with("my-repo-"));
  CHECK(second.location().name.size() == std::string("my-repo-").size() + 8);
  // Stable: opening again finds the same folders.
  auto again = GlobalStorage::OpenWithConfig(other, sb.Config());
  CHECK(again.location().dir == second.location().dir);
  auto first_again = sb.Open();
  CHECK(first_again.location().dir == first.location().dir);
  // Symlinked path to the first repository resolves to the first database.
  fs::create_symlink(sb.repo, sb.tmp / "link");
  auto via_link = GlobalStorage::OpenWithConfig(sb.tmp / "link", sb.Config());
  CHECK(via_link.location().dir == first.location().dir);
}

TEST_CASE("a repository named like a legacy top-level folder gets a disambiguated folder") {
  Sandbox sb;
  const fs::path repo = sb.tmp / "events";
  fs::create_directories(repo);
  auto storage = GlobalStorage::OpenWithConfig(repo, sb.Config());
  CHECK(storage.location().name.starts_with("events-"));
}

TEST_CASE("job state: versions, history, pruning, stale writers, verbatim round trip") {
  Sandbox sb;
  auto storage = sb.Open();
  const std::string job = "mapreduce-1758387792480";
  CHECK_FALSE(storage.ReadState(job).has_value());
  for (int v = 1; v <= 5; ++v) CHECK(storage.WriteState(job, StateJson(job, v)) == v);
  auto latest = storage.ReadState(job);
  REQUIRE(latest);
  CHECK(latest->version == 5);
  CHECK(latest->json == StateJson(job, 5));  // byte for byte, unknown field included
  CHECK(latest->successful_count == 5);
  CHECK(latest->total_items == 10);
  // Three versions kept (the default), newest first.
  auto history = storage.StateHistory(job);
  REQUIRE(history.size() == 3);
  CHECK(history[0].version == 5);
  CHECK(history[2].version == 3);
  CHECK_FALSE(storage.ReadStateVersion(job, 2).has_value());
  CHECK(storage.ReadStateVersion(job, 4)->json == StateJson(job, 4));
  // Rewriting the newest version replaces it; an older one is a stale writer.
  storage.WriteState(job, StateJson(job, 5, true));
  CHECK(storage.ReadState(job)->is_complete);
  CHECK_PRODIGY_ERROR(storage.WriteState(job, StateJson(job, 4)), ErrorCode::kInvalidArgument,
                      "older than the stored version 5");
  CHECK(storage.ReadState(job)->json == StateJson(job, 5, true));
  // The job id inside must match.
  CHECK_PRODIGY_ERROR(storage.WriteState("other-job", StateJson(job, 6)), ErrorCode::kInvalidArgument,
                      "the document's job_id is \"mapreduce-1758387792480\"");
  auto jobs = storage.ListJobStates();
  REQUIRE(jobs.size() == 1);
  CHECK(jobs[0].version == 5);
}

TEST_CASE("state_versions_kept is honoured") {
  Sandbox sb;
  StorageConfig config = sb.Config();
  config.state_versions_kept = 1;
  auto storage = GlobalStorage::OpenWithConfig(sb.repo, config);
  storage.WriteState("j", StateJson("j", 1));
  storage.WriteState("j", StateJson("j", 2));
  CHECK(storage.StateHistory("j").size() == 1);
}

TEST_CASE("DLQ: add, get, list with filters, stats, mark, remove, purge") {
  Sandbox sb;
  auto storage = sb.Open();
  const std::string job = "mapreduce-1";
  storage.AddDlqItem(job, DlqItemJson("item_1", "2025-09-20T10:00:00Z"));
  storage.AddDlqItem(job, DlqItemJson("item_2", "2025-09-20T11:00:00Z", "Timeout::agent timed out"));
  storage.AddDlqItem(job,
                     DlqItemJson("src/parser.rs", "2025-09-20T12:00:00Z", "Timeout::agent timed out", false));
  storage.AddDlqItem("mapreduce-2", DlqItemJson("item_1", "2025-09-21T12:00:00Z"));

  auto item = storage.GetDlqItem(job, "src/parser.rs");
  REQUIRE(item);
  CHECK(item->json ==
        DlqItemJson("src/parser.rs", "2025-09-20T12:00:00Z", "Timeout::agent timed out", false));
  CHECK(item->failure_count == 3);
  CHECK(item->error_type == "Unknown");
  CHECK_FALSE(item->reprocess_eligible);
  CHECK_FALSE(storage.GetDlqItem(job, "nope").has_value());

  DlqFilter by_job;
  by_job.job_id = job;
  auto items = storage.ListDlqItems(by_job);
  REQUIRE(items.size() == 3);
  CHECK(items[0].item_id == "src/parser.rs");  // newest last_attempt first
  DlqFilter by_sig;
  by_sig.error_signature = "Timeout";
  CHECK(storage.ListDlqItems(by_sig).size() == 2);
  DlqFilter eligible;
  eligible.job_id = job;
  eligible.reprocess_eligible = true;
  CHECK(storage.ListDlqItems(eligible).size() == 2);
  DlqFilter window;
  window.since_ns = *ParseTimestamp("2025-09-20T10:30:00Z");
  window.until_ns = *ParseTimestamp("2025-09-20T12:00:00Z");
  CHECK(storage.ListDlqItems(window).size() == 1);
  DlqFilter limited;
  limited.limit = 2;
  CHECK(storage.ListDlqItems(limited).size() == 2);

  DlqStats stats = storage.GetDlqStats(job);
  CHECK(stats.total_items == 3);
  CHECK(stats.eligible_for_reprocess == 2);
  CHECK(stats.oldest_item == "2025-09-20T17:05:40.000093Z");
  CHECK(stats.newest_item == "2025-09-20T12:00:00Z");
  REQUIRE(stats.error_categories.size() == 2);
  CHECK(stats.error_categories[0].key == "Timeout::agent timed out");
  CHECK(stats.error_categories[0].count == 2);
  CHECK(storage.GetDlqStats().total_items == 4);

  // Marking: all eligible of a job, or named items; an unknown id marks nothing.
  CHECK(storage.MarkDlqForReprocessing(job) == 2);
  const std::vector<std::string> bad = {"item_1", "missing"};
  CHECK_PRODIGY_ERROR(storage.MarkDlqForReprocessing("mapreduce-2", bad), ErrorCode::kNotFound,
                      "DLQ item missing of job mapreduce-2 does not exist");
  CHECK_FALSE(storage.GetDlqItem("mapreduce-2", "item_1")->reprocess_requested_at.has_value());
  DlqFilter marked;
  marked.reprocess_requested = true;
  CHECK(storage.ListDlqItems(marked).size() == 2);
  CHECK(storage.GetDlqStats(job).marked_for_reprocess == 2);

  CHECK(storage.RemoveDlqItem(job, "item_2"));
  CHECK_FALSE(storage.RemoveDlqItem(job, "item_2"));
  CHECK(storage.PurgeDlqItems(*ParseTimestamp("2025-09-20T11:30:00Z")) == 1);  // item_1 of job
  CHECK(storage.ListDlqItems(by_job).size() == 1);
  CHECK(storage.ListDlqJobs() == std::vector<std::string>{"mapreduce-1", "mapreduce-2"});
}

// The statistics are kept as items change (migration 0005 on SQLite): after
// every kind of change they equal a count over the items themselves.
TEST_CASE("DLQ statistics equal a count over the items after every kind of change") {
  Sandbox sb;
  auto storage = sb.Open();
  auto counted = [&](const std::string& job) {
    DlqFilter filter;
    if (!job.empty()) filter.job_id = job;
    DlqStats want;
    std::map<std::string, int64_t> by_signature;
    for (const DlqItem& d : storage.ListDlqItems(filter)) {
      ++want.total_items;
      want.eligible_for_reprocess += d.reprocess_eligible;
      want.requiring_manual_review += d.manual_review_required;
      want.marked_for_reprocess += d.reprocess_requested_at.has_value();
      if (!want.oldest_item || d.first_attempt < *want.oldest_item) want.oldest_item = d.first_attempt;
      if (!want.newest_item || d.last_attempt > *want.newest_item) want.newest_item = d.last_attempt;
      ++by_signature[d.error_signature];
    }
    for (const auto& [signature, n] : by_signature) want.error_categories.push_back({signature, n});
    std::stable_sort(want.error_categories.begin(), want.error_categories.end(),
                     [](const GroupCount& a, const GroupCount& b) { return a.count > b.count; });
    return want;
  };
  auto check = [&](const std::string& job) {
    CAPTURE(job);
    const DlqStats got = storage.GetDlqStats(job);
    const DlqStats want = counted(job);
    CHECK(got.total_items == want.total_items);
    CHECK(got.eligible_for_reprocess == want.eligible_for_reprocess);
    CHECK(got.requiring_manual_review == want.requiring_manual_review);
    CHECK(got.marked_for_reprocess == want.marked_for_reprocess);
    CHECK(got.oldest_item == want.oldest_item);
    CHECK(got.newest_item == want.newest_item);
    REQUIRE(got.error_categories.size() == want.error_categories.size());
    for (size_t i = 0; i < got.error_categories.size(); ++i) {
      CHECK(got.error_categories[i].key == want.error_categories[i].key);
      CHECK(got.error_categories[i].count == want.error_categories[i].count);
    }
  };
  const std::string signatures[] = {"Timeout::agent timed out", "Unknown::exit 1", "Unknown::exit 2"};
  std::mt19937 rng(12);
  for (int step = 0; step < 300; ++step) {
    const std::string job = fmt::format("job-{}", rng() % 3);
    const std::string item = fmt::format("item_{}", rng() % 12);
    const std::string last = fmt::format("2025-09-20T1{}:00:00Z", rng() % 10);
    switch (rng() % 6) {
      case 0:
      case 1:  // add, or replace an item with another signature or eligibility
        storage.AddDlqItem(job, DlqItemJson(item, last, signatures[rng() % 3], rng() % 2 == 0));
        break;
      case 2:
        storage.RemoveDlqItem(job, item);
        break;
      case 3:
        storage.MarkDlqForReprocessing(job);
        break;
      case 4:
        if (storage.GetDlqItem(job, item)) {
          const std::string ids[] = {item};
          storage.MarkDlqForReprocessing(job, ids);
        }
        break;
      case 5:
        if (rng() % 4 == 0) storage.PurgeDlqItems(*ParseTimestamp(last), rng() % 2 ? job : "");
        break;
    }
    if (step % 10 == 0) {
      check("");
      for (int j = 0; j < 3; ++j) check(fmt::format("job-{}", j));
    }
  }
  check("");
}

TEST_CASE("sessions: save, load, list, update status keeping the document, delete") {
  Sandbox sb;
  auto storage = sb.Open();
  storage.SaveSession(SessionJson("session-a", "InProgress"));
  storage.SaveSession(SessionJson("session-b", "Completed"));
  storage.SaveSession(R"({"id":"unified-1","session_type":"Workflow","status":"Running"})");
  CHECK(storage.LoadSession("session-a")->json == SessionJson("session-a", "InProgress"));
  CHECK(storage.LoadSession("unified-1")->status == "Running");
  CHECK(storage.ListSessions().size() == 3);
  CHECK(storage.ListSessions(std::string_view("Completed")).size() == 1);

  storage.UpdateSessionStatus("session-a", "Interrupted");
  auto s = storage.LoadSession("session-a");
  CHECK(s->status == "Interrupted");
  // Only the status changed: same keys in the same order, still pretty.
  std::string expected = SessionJson("session-a", "Interrupted");
  CHECK(s->json == expected);
  CHECK_PRODIGY_ERROR(storage.UpdateSessionStatus("nope", "Failed"), ErrorCode::kNotFound,
                      "session nope does not exist");
  CHECK(storage.DeleteSession("session-b"));
  CHECK_FALSE(storage.DeleteSession("session-b"));
  CHECK_FALSE(storage.LoadSession("session-b").has_value());
}

TEST_CASE("workflow checkpoints: save, load, list newest first, latest, delete") {
  Sandbox sb;
  auto storage = sb.Open();
  storage.SaveCheckpoint(CheckpointJson("workflow-1", "2025-09-18T04:00:00.000001Z"));
  storage.SaveCheckpoint(CheckpointJson("workflow-2", "2025-09-18T05:00:00.000001Z"));
  CHECK(storage.LatestCheckpoint()->workflow_id == "workflow-2");
  auto list = storage.ListCheckpoints();
  REQUIRE(list.size() == 2);
  CHECK(list[1].workflow_id == "workflow-1");
  auto cp = storage.LoadCheckpoint("workflow-1");
  CHECK(cp->status == "Running");
  CHECK(cp->total_steps == 5);
  CHECK(cp->workflow_name == "implement");
  CHECK(storage.DeleteCheckpoint("workflow-2"));
  CHECK(storage.LatestCheckpoint()->workflow_id == "workflow-1");
}

TEST_CASE("the 37 real workflow checkpoints Prodigy wrote round-trip byte for byte") {
  const char* data = std::getenv("PRODIGY_SHARED_DATA");
  REQUIRE_MESSAGE(data != nullptr,
                  "PRODIGY_SHARED_DATA is not set: meson sets it when ../shared is beside the checkout; "
                  "elsewhere export it");
  const fs::path dir = fs::path(data) / "checkpoints";
  REQUIRE(fs::is_directory(dir));
  Sandbox sb;
  auto storage = sb.Open();
  int n = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string text = ReadAll(entry.path());
    storage.SaveCheckpoint(text);
    const std::string id =
        entry.path().filename().string().substr(0, entry.path().filename().string().find('.'));
    auto back = storage.LoadCheckpoint(id);
    REQUIRE(back);
    CHECK(back->json == text);
    CHECK(back->status == "Running");
    // The mirror file is the same bytes as Prodigy's original (mirrors are SQLite-side).
    storage.FlushMirrors();
    if (!OnPostgres()) CHECK(ReadAll(sb.root / "my-repo" / "checkpoints" / entry.path().filename()) == text);
    ++n;
  }
  CHECK(n == 37);
  CHECK(storage.LatestCheckpoint()->workflow_id == "workflow-1758167434332");
}

TEST_CASE("the early .mmm session state is accepted as a session") {
  const char* data = std::getenv("PRODIGY_SHARED_DATA");
  REQUIRE(data != nullptr);
  Sandbox sb;
  auto storage = sb.Open();
  const std::string text = ReadAll(fs::path(data) / "mmm" / "state.json");
  storage.SaveSession(text);
  auto s = storage.LoadSession("cook-1754076473");
  REQUIRE(s);
  CHECK(s->status == "Completed");
  CHECK(s->json == text);
}

TEST_CASE("a GlobalStorage may be shared between threads") {
  Sandbox sb;
  StorageConfig config = sb.Config();
  config.mirror_delay_ms = 1;  // the store's mirror thread runs between the callers' writes
  auto storage = GlobalStorage::OpenWithConfig(sb.repo, config);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        storage.AppendEvent(fmt::format("job-{}", t), EventJson(t * 1000 + i));
        if (t == 0 && i % 10 == 9) storage.FlushMirrors();
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(storage.Info().counts.events == 200);
  CHECK(storage.CheckMirrors().empty());
}

TEST_CASE("storage operations are logged at debug level, and only when asked") {
  Sandbox sb;
  auto storage = sb.Open();
  const fs::path log = sb.tmp / "stderr.log";
  auto capture = [&](const std::function<void()>& fn) {
    std::fflush(stderr);
    const int saved = ::dup(2);
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 2);
    ::close(fd);
    fn();
    std::fflush(stderr);
    ::dup2(saved, 2);
    ::close(saved);
    return ReadAll(log);
  };
  CHECK(capture([&] { storage.AppendEvent("quiet-job", EventJson(1)); }).empty());
  SetLogLevel(LogLevel::kDebug);
  const std::string out = capture([&] { storage.AppendEvent("loud-job", EventJson(2)); });
  SetLogLevel(LogLevel::kWarn);
  CHECK(out.find("[debug]") != std::string::npos);
  CHECK(out.find("append_event job=loud-job") != std::string::npos);
}
