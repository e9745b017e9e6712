// Helpers of the reliability tests: a fingerprint of everything a repository
// holds, read through the public API only, and throw-away copies of a store.
#ifndef PRODIGY_TESTS_FAULT_FAULT_UTIL_H_
#define PRODIGY_TESTS_FAULT_FAULT_UTIL_H_

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "../unit/test_util.h"
#include "prodigy/migrate.h"

namespace prodigy::test {

// Every document of the repository with its keys, in a stable order. Rows of
// the job `skip_job` (used to probe that the store still accepts writes) are
// left out.
inline std::string Fingerprint(GlobalStorage& storage, const std::string& skip_job = "next-call") {
  std::string out;
  for (const EventJobSummary& job : storage.ListEventJobs()) {
    if (job.job_id == skip_job) continue;
    // The position within the job, not the seq: seqs are numbered across jobs in
    // import order, which a re-run after a failed source legitimately changes.
    int64_t position = 0;
    for (const Event& e : storage.ReadEvents(job.job_id)) {
      out += fmt::format("E {} {} {}\n", e.job_id, position++, e.json);
    }
  }
  for (const DlqItem& item : storage.ListDlqItems()) {
    out += fmt::format("D {} {} {} {}\n", item.job_id, item.item_id,
                       item.reprocess_requested_at ? "marked" : "-", item.json);  // when marked varies
  }
  for (const JobState& latest : storage.ListJobStates()) {
    for (const JobState& s : storage.StateHistory(latest.job_id)) {
      out += fmt::format("S {} {} {}\n", s.job_id, s.version, s.json);
    }
  }
  for (const Session& s : storage.ListSessions()) out += fmt::format("P {} {}\n", s.session_id, s.json);
  for (const WorkflowCheckpoint& c : storage.ListCheckpoints()) {
    out += fmt::format("C {} {}\n", c.workflow_id, c.json);
  }
  // Lists ordered by time may order ties differently: compare as sets of lines.
  std::vector<std::string> lines;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::sort(lines.begin(), lines.end());
  out.clear();
  for (const std::string& line : lines) out += line + "\n";
  return out;
}

// The N at which to inject a fault into a run of `count` operations: every N
// in the stress suite; otherwise every N of the first 32 and 32 spread evenly
// over the rest, which keeps a whole legacy migration (thousands of
// operations) within minutes.
inline std::vector<int64_t> FaultPoints(int64_t count) {
  std::vector<int64_t> points;
  const int64_t dense = 32;
  for (int64_t n = 1; n <= count && (n <= dense || StressScale() > 1); ++n) points.push_back(n);
  if (count <= dense || StressScale() > 1) return points;
  const int64_t rest = count - dense;
  for (int64_t i = 1; i <= dense; ++i) points.push_back(dense + std::max<int64_t>(1, rest * i / dense));
  points.erase(std::unique(points.begin(), points.end()), points.end());
  return points;
}

// The lines of two fingerprints that differ ("-" only in `want`, "+" only in `got`), for messages.
inline std::string FingerprintDiff(const std::string& want, const std::string& got) {
  auto lines = [](const std::string& text) {
    std::multiset<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.insert(line);
    return out;
  };
  const auto a = lines(want), b = lines(got);
  std::string out;
  for (const auto& l : a) {
    if (!b.count(l)) out += "- " + l.substr(0, 160) + "\n";
  }
  for (const auto& l : b) {
    if (!a.count(l)) out += "+ " + l.substr(0, 160) + "\n";
  }
  return out;
}

// Replaces `to` by a copy of the folder `from` (a closed store).
inline void ReplaceTree(const fs::path& from, const fs::path& to) {
  fs::remove_all(to);
  fs::create_directories(to.parent_path());
  fs::copy(from, to, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
}

struct WritePath {
  const char* name;
  std::function<void(GlobalStorage&)> setup;  // the baseline, written without faults
  std::function<void(GlobalStorage&)> run;    // the write under test
  Synchronous synchronous = Synchronous::kNormal;
};

inline const std::string kJob = "mapreduce-1758387792480";

inline void Baseline(GlobalStorage& s) {
  for (int i = 0; i < 20; ++i) s.AppendEvent(kJob, EventJson(i));
  std::vector<std::string> batch;
  for (int i = 20; i < 40; ++i) batch.push_back(EventJson(i, "agent_completed", "job-b"));
  s.AppendEvents("job-b", batch);
  s.AddDlqItem(kJob, DlqItemJson("item_1", "2025-09-20T17:05:40.000093Z"));
  s.AddDlqItem(kJob, DlqItemJson("item_2", "2025-09-21T17:05:40.000093Z"));
  s.AddDlqItem(kJob, DlqItemJson("item_3", "2025-09-22T17:05:40.000093Z"));
  for (int v = 1; v <= 3; ++v) s.WriteState(kJob, StateJson(kJob, v));
  s.SaveSession(SessionJson("cook-1754076473", "InProgress"));
  s.SaveCheckpoint(CheckpointJson("workflow-1", "2025-09-18T03:51:00.000000Z"));
}

// Every write path of the API, each from the same baseline.
inline std::vector<WritePath> WritePaths() {
  std::vector<WritePath> paths;
  paths.push_back({"single append", Baseline, [](GlobalStorage& s) { s.AppendEvent(kJob, EventJson(100)); }});
  paths.push_back({"single append, synchronous=full", Baseline,
                   [](GlobalStorage& s) { s.AppendEvent(kJob, EventJson(100)); }, Synchronous::kFull});
  paths.push_back({"batch append", Baseline, [](GlobalStorage& s) {
                     std::vector<std::string> batch;
                     for (int i = 100; i < 150; ++i) batch.push_back(EventJson(i));
                     s.AppendEvents(kJob, batch);
                   }});
  paths.push_back({"state write with version pruning", Baseline,
                   [](GlobalStorage& s) { s.WriteState(kJob, StateJson(kJob, 4)); }});
  paths.push_back({"DLQ add", Baseline, [](GlobalStorage& s) {
                     s.AddDlqItem(kJob, DlqItemJson("item_9", "2025-09-23T17:05:40.000093Z"));
                   }});
  paths.push_back({"DLQ remove", Baseline, [](GlobalStorage& s) { s.RemoveDlqItem(kJob, "item_2"); }});
  paths.push_back({"DLQ purge", Baseline,
                   [](GlobalStorage& s) { s.PurgeDlqItems(*ParseTimestamp("2025-09-22T00:00:00Z")); }});
  paths.push_back(
      {"DLQ mark for reprocessing", Baseline, [](GlobalStorage& s) { s.MarkDlqForReprocessing(kJob); }});
  paths.push_back({"session save", Baseline,
                   [](GlobalStorage& s) { s.SaveSession(SessionJson("cook-2", "InProgress")); }});
  paths.push_back({"session update", Baseline,
                   [](GlobalStorage& s) { s.UpdateSessionStatus("cook-1754076473", "Completed"); }});
  paths.push_back({"checkpoint save", Baseline, [](GlobalStorage& s) {
                     s.SaveCheckpoint(CheckpointJson("workflow-2", "2025-09-19T03:51:00.000000Z"));
                   }});
  paths.push_back({"events clean", Baseline, [](GlobalStorage& s) {
                     EventQuery q;
                     q.until_ns = ParseTimestamp("2025-09-20T17:00:10Z");
                     s.DeleteEvents(q);
                   }});
  return paths;
}

// Runs `fn` and returns the error message it threw ("" when it succeeded).
// Anything but a prodigy::Error is a test failure.
inline std::optional<std::string> Outcome(const std::function<void()>& fn) {
  try {
    fn();
    return std::nullopt;
  } catch (const Error& e) {
    return e.message();
  } catch (const std::exception& e) {
    FAIL("a non-prodigy exception left the library: ", e.what());
  }
  return std::string("?");
}

// The full legacy fixture (every layout and kind) in a sandbox.
inline void CopyLegacyFixture(const Sandbox& sb) {
  const char* data = std::getenv("PRODIGY_TEST_DATA");
  REQUIRE_MESSAGE(data != nullptr, "PRODIGY_TEST_DATA is not set (run the tests through meson)");
  const fs::path full = fs::path(data) / "legacy" / "full";
  fs::copy(full / "repo", sb.repo, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  fs::copy(full / "global", sb.root, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
}

// Relative path -> bytes of every file under `dir`.
inline std::map<std::string, std::string> Files(const fs::path& dir) {
  std::map<std::string, std::string> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) out[e.path().lexically_relative(dir).string()] = ReadAll(e.path());
  }
  return out;
}

// A migration of the full legacy fixture without faults: the rows it stores
// and the originals it removes. `arm` and `disarm` run around it (to count
// the operations a fault can hit).
struct CleanMigration {
  std::string rows;
  std::set<std::string> removed;
};
inline CleanMigration MigrateFixture(const std::function<void(const Sandbox&)>& arm,
                                     const std::function<void()>& disarm) {
  Sandbox sb;
  CopyLegacyFixture(sb);
  const auto originals = Files(sb.repo);
  arm(sb);
  const MigrationReport report = Migrate(sb.repo, sb.Config());
  disarm();
  REQUIRE(report.ok());
  CleanMigration out;
  GlobalStorage s = sb.Open();
  out.rows = Fingerprint(s);
  for (const auto& [rel, bytes] : originals) {
    if (!fs::exists(sb.repo / rel)) out.removed.insert(rel);
  }
  REQUIRE(!out.removed.empty());
  return out;
}

// After a migration that met a fault: no original is gone unless the ledger
// records its verified import, and none was changed; then a re-run finishes
// the job with the rows and removals of a clean migration.
inline void CheckMigrationRecovers(const Sandbox& sb, const std::map<std::string, std::string>& originals,
                                   const std::string& expected,
                                   const std::set<std::string>& expected_removed) {
  std::set<std::string> verified;
  if (fs::exists(sb.root / "my-repo" / "prodigy.db")) {
    GlobalStorage s = sb.Open();
    CHECK(s.CheckIntegrity().empty());
    for (const ImportRecord& r : ListImports(s)) {
      if (r.status == "removed") verified.insert(fs::path(r.path).lexically_relative(sb.repo).string());
    }
  }
  for (const auto& [name, bytes] : originals) {
    const std::string& rel = name;  // clang 14 cannot capture a structured binding in CHECK_MESSAGE
    if (!fs::exists(sb.repo / rel)) {
      CHECK_MESSAGE(verified.count(rel), rel, " was deleted without a verified import");
    } else {
      CHECK_MESSAGE(ReadAll(sb.repo / rel) == bytes, rel, " was changed");
    }
  }
  const MigrationReport rerun = Migrate(sb.repo, sb.Config());
  CHECK(rerun.ok());
  GlobalStorage s = sb.Open();
  CHECK(s.CheckIntegrity().empty());
  const std::string got = Fingerprint(s);
  // Each job's events in the same order as after one clean migration (a log part that failed holds back
  // the later parts of its log until the re-run).
  CHECK_MESSAGE(got == expected, FingerprintDiff(expected, got));
  for (const std::string& rel : expected_removed) CHECK_MESSAGE(!fs::exists(sb.repo / rel), rel);
}

}  // namespace prodigy::test

#endif  // PRODIGY_TESTS_FAULT_FAULT_UTIL_H_
