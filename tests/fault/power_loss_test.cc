// Simulated power loss (issue: reliability campaign, item 2).
//
// A child process appends events and writes job states, reporting each call
// that returned (an acknowledged write) through a pipe. At a random write or
// sync of its database files the fault VFS "cuts the power": the files are
// put back to what a disk could hold (unsynced writes dropped, a random subset
// kept, or kept torn at 512-byte sectors) and the child exits at once. The
// parent then opens the store like the next run of Prodigy would and checks:
//   - PRAGMA integrity_check passes, every batch is whole, and the events
//     present are a prefix of the appended ones (no holes);
//   - synchronous=full: every acknowledged write is present;
//   - synchronous=normal: every write acknowledged before the last sync of
//     the WAL is present; the number lost beyond that is measured;
//   - the mirror files match the database after the open, and writes work.
#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <random>

#include <doctest/doctest.h>

#include "fault_util.h"
#include "fault_vfs.h"

namespace prodigy::test {
namespace {

constexpr int kOps = 120;  // write calls per child
constexpr int kBatch = 5;  // every 10th call appends a batch of this many
constexpr int kExitPowerLoss = 42;

void Say(int fd, const std::string& line) {
  if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) ::_exit(97);
}

// In a child: starts keeping unsynced writes and arms the power cut at the
// `power_at`th write or sync (0: never). The returned cut, which a child also
// calls after its last call, runs `before`, loses the power and exits.
std::function<void()> ArmPowerCut(int64_t power_at, fault::LossMode mode, uint64_t seed,
                                  std::function<void()> before = nullptr) {
  fault::TrackUnsynced();
  std::function<void()> cut = [=] {
    if (before) before();
    fault::PowerLoss(mode, seed);
    ::_exit(kExitPowerLoss);
  };
  fault::OnNthWriteOrSync(power_at, power_at > 0 ? cut : nullptr);
  return cut;
}

// The child's work; `power_at` is the write/sync at which the power goes
// (0: never; the child then reports how many it did).
[[noreturn]] void Child(const Sandbox& sb, const StorageConfig& config, int fd, int64_t power_at,
                        fault::LossMode mode, uint64_t seed) {
  const auto cut =
      ArmPowerCut(power_at, mode, seed, [fd] { Say(fd, fmt::format("L {}\n", fault::WalSyncs())); });
  try {
    GlobalStorage s = GlobalStorage::OpenWithConfig(sb.repo, config);
    int next_id = 0;
    int version = 1;
    for (int op = 0; op < kOps; ++op) {
      if (op % 10 == 9) {
        std::vector<std::string> batch;
        for (int i = 0; i < kBatch; ++i) batch.push_back(EventJson(next_id + i, "agent_completed", kJob));
        s.AppendEvents(kJob, batch);
        next_id += kBatch;
        Say(fd, fmt::format("E {} {}\n", next_id, fault::WalSyncs()));
      } else if (op % 10 == 4) {
        s.WriteState(kJob, StateJson(kJob, ++version));
        Say(fd, fmt::format("S {} {}\n", version, fault::WalSyncs()));
      } else {
        s.AppendEvent(kJob, EventJson(next_id++, "agent_started", kJob));
        Say(fd, fmt::format("E {} {}\n", next_id, fault::WalSyncs()));
      }
    }
  } catch (const std::exception& e) {
    Say(fd, fmt::format("X {}\n", e.what()));
    ::_exit(98);
  }
  if (power_at > 0) cut();  // the power goes after the last call
  // A clean run reports its count: the range to pick power-loss points from.
  Say(fd, fmt::format("T {}\n", fault::WritesOrSyncs()));
  ::_exit(0);
}

struct ChildResult {
  int status = -1;
  std::vector<std::string> lines;
};

// Runs `child` (which never returns) in a forked process and collects the
// lines it reported through the pipe it is given.
ChildResult RunReporting(const std::function<void(int fd)>& child) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    child(fds[1]);
    ::_exit(96);
  }
  ::close(fds[1]);
  ChildResult r;
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) r.lines.push_back(line);
  return r;
}

struct Figures {
  int trials = 0;
  int max_lost_events = 0;   // acknowledged events missing after the power loss
  int max_lost_commits = 0;  // acknowledged write calls missing
  int trials_with_loss = 0;
};

void Trial(Synchronous sync, fault::LossMode mode, int64_t power_at, uint64_t seed, Figures* fig) {
  CAPTURE(static_cast<int>(sync));
  CAPTURE(fault::LossModeName(mode));
  CAPTURE(power_at);
  CAPTURE(seed);
  Sandbox sb;
  StorageConfig config = sb.Config();
  config.synchronous = sync;
  {
    GlobalStorage s = GlobalStorage::OpenWithConfig(sb.repo, config);
    s.WriteState(kJob, StateJson(kJob, 1));
  }
  const ChildResult child = RunReporting([&](int fd) { Child(sb, config, fd, power_at, mode, seed); });
  REQUIRE_MESSAGE(child.status == kExitPowerLoss, "child exited with ", child.status,
                  child.lines.empty() ? "" : " after " + child.lines.back());
  // What the child was told had succeeded.
  int acked_events = 0, acked_version = 1, durable_events = 0, durable_version = 1, acked_calls = 0;
  int64_t final_syncs = -1;
  std::vector<std::pair<int, int64_t>> event_acks, state_acks;
  for (const std::string& line : child.lines) {
    char kind = 0;
    long long a = 0, b = 0;
    if (std::sscanf(line.c_str(), "%c %lld %lld", &kind, &a, &b) < 2) continue;
    if (kind == 'E') event_acks.emplace_back(static_cast<int>(a), b);
    if (kind == 'S') state_acks.emplace_back(static_cast<int>(a), b);
    if (kind == 'L') final_syncs = a;
  }
  REQUIRE(final_syncs >= 0);
  for (const auto& [n, syncs] : event_acks) {
    acked_events = n;
    if (syncs < final_syncs) durable_events = n;
  }
  for (const auto& [v, syncs] : state_acks) {
    acked_version = v;
    if (syncs < final_syncs) durable_version = v;
  }
  acked_calls = static_cast<int>(event_acks.size() + state_acks.size());

  GlobalStorage s = GlobalStorage::OpenWithConfig(sb.repo, config);
  REQUIRE(s.CheckIntegrity().empty());
  const std::vector<Event> events = s.ReadEvents(kJob);
  const int present = static_cast<int>(events.size());
  for (int i = 0; i < present; ++i) {
    CHECK_MESSAGE(events[i].record_id == fmt::format("00000000-0000-4000-8000-{:012}", i),
                  "events are not a prefix of the appended ones at ", i);
  }
  // Batches are whole: the count ends on a call boundary.
  bool on_boundary = present == 0;
  for (const auto& [n, syncs] : event_acks) on_boundary = on_boundary || n == present;
  // The call in flight at the power loss may have committed: one batch or event past the acks.
  on_boundary = on_boundary || present == acked_events + 1 || present == acked_events + kBatch;
  CHECK_MESSAGE(on_boundary, present, " events is not a whole number of calls");
  const std::optional<JobState> state = s.ReadState(kJob);
  REQUIRE(state.has_value());
  if (sync == Synchronous::kFull) {
    CHECK_MESSAGE(present >= acked_events, "acknowledged events lost with synchronous=full");
    CHECK_MESSAGE(state->version >= acked_version, "an acknowledged state lost with synchronous=full");
  } else {
    CHECK_MESSAGE(present >= durable_events, "events acknowledged before the last WAL sync were lost");
    CHECK(state->version >= durable_version);
  }
  const int lost_events = std::max(0, acked_events - present);
  int lost_calls = 0;
  for (const auto& [n, syncs] : event_acks) lost_calls += n > present;
  for (const auto& [v, syncs] : state_acks) lost_calls += v > state->version;
  ++fig->trials;
  fig->max_lost_events = std::max(fig->max_lost_events, lost_events);
  fig->max_lost_commits = std::max(fig->max_lost_commits, lost_calls);
  if (lost_calls > 0) ++fig->trials_with_loss;
  (void)acked_calls;

  // The mirrors follow the database, whatever the power loss took, and writes work.
  const std::vector<MirrorProblem> problems = s.CheckMirrors();
  for (const MirrorProblem& p : problems) MESSAGE(p.path, ": ", p.problem);
  CHECK(problems.empty());
  s.AppendEvent(kJob, EventJson(9000, "agent_started", kJob));
  CHECK(s.CheckMirrors().empty());
}

TEST_CASE("power loss never corrupts the database nor loses what synchronous promises") {
  fault::Install();
  const int trials = 12 * StressScale();
  std::mt19937_64 rng(20261202);
  for (Synchronous sync : {Synchronous::kFull, Synchronous::kNormal}) {
    // A clean child run counts the writes and syncs to choose power-loss points from.
    int64_t total = 0;
    {
      Sandbox sb;
      StorageConfig config = sb.Config();
      config.synchronous = sync;
      {
        GlobalStorage s = GlobalStorage::OpenWithConfig(sb.repo, config);
        s.WriteState(kJob, StateJson(kJob, 1));
      }
      const ChildResult clean =
          RunReporting([&](int fd) { Child(sb, config, fd, 0, fault::LossMode::kDropAll, 0); });
      REQUIRE(clean.status == 0);
      REQUIRE(std::sscanf(clean.lines.back().c_str(), "T %ld", &total) == 1);
      REQUIRE(total > kOps);
    }
    for (fault::LossMode mode :
         {fault::LossMode::kDropAll, fault::LossMode::kRandomKeep, fault::LossMode::kTorn}) {
      Figures fig;
      for (int t = 0; t < trials; ++t) {
        const int64_t at = 1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(total));
        Trial(sync, mode, at, rng(), &fig);
      }
      MESSAGE(
          fmt::format("synchronous={} {}: {} trials, {} with acknowledged writes lost, at most {} calls "
                      "({} events) lost",
                      sync == Synchronous::kFull ? "full" : "normal", fault::LossModeName(mode), fig.trials,
                      fig.trials_with_loss, fig.max_lost_commits, fig.max_lost_events));
    }
  }
}

// ---- A bulk import (a legacy log of 8 MiB or more: rollback journal, indexes
// built at the commit; docs/performance.md "Round 3") losing power ----------

constexpr int kLogLines = 25000;  // 9.3 MB

void WriteLegacyLog(const Sandbox& sb) {
  std::string text;
  for (int i = 0; i < kLogLines; ++i) text += EventJson(i, "agent_started", kJob) + "\n";
  const fs::path log = sb.repo / ".prodigy" / "mapreduce" / "events" / kJob / "events.jsonl";
  fs::create_directories(log.parent_path());
  WriteAll(log, text);
}

MigrationOptions KeepOriginals() {
  MigrationOptions keep;
  keep.keep_originals = true;
  return keep;
}

[[noreturn]] void ImportChild(const Sandbox& sb, int fd, int64_t power_at, fault::LossMode mode,
                              uint64_t seed) {
  const auto cut = ArmPowerCut(power_at, mode, seed);
  try {
    if (!Migrate(sb.repo, sb.Config(), KeepOriginals()).ok()) {
      Say(fd, "X the migration reported a failure\n");
      ::_exit(98);
    }
  } catch (const std::exception& e) {
    Say(fd, fmt::format("X {}\n", e.what()));
    ::_exit(98);
  }
  if (power_at > 0) cut();
  Say(fd, fmt::format("T {}\n", fault::WritesOrSyncs()));
  ::_exit(0);
}

std::string JournalMode(const fs::path& db) {
  sqlite3* h = nullptr;
  std::string mode;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(h, "PRAGMA journal_mode", -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
      mode = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
  }
  sqlite3_close(h);
  return mode;
}

TEST_CASE("power loss during a bulk import leaves the log in the database whole or not at all") {
  fault::Install();
  const auto prepare = [](const Sandbox& sb) {
    WriteLegacyLog(sb);
    GlobalStorage s = sb.Open();
    s.WriteState(kJob, StateJson(kJob, 1));
  };
  int64_t total = 0;
  {
    Sandbox sb;
    prepare(sb);
    const ChildResult clean =
        RunReporting([&](int fd) { ImportChild(sb, fd, 0, fault::LossMode::kDropAll, 0); });
    REQUIRE_MESSAGE(clean.status == 0, (clean.lines.empty() ? std::string() : clean.lines.back()));
    REQUIRE(std::sscanf(clean.lines.back().c_str(), "T %ld", &total) == 1);
    GlobalStorage s = sb.Open();
    CHECK(s.CountEvents(EventQuery{}) == kLogLines);
  }
  std::mt19937_64 rng(20261203);
  int whole = 0, absent = 0;
  for (fault::LossMode mode :
       {fault::LossMode::kDropAll, fault::LossMode::kRandomKeep, fault::LossMode::kTorn}) {
    for (int t = 0; t < 3 * StressScale(); ++t) {
      // Most writes belong to the import's transaction; every third trial
      // cuts among the last few (the commit, the switch back to WAL, the ledger).
      const int64_t at = t % 3 == 2 ? std::max<int64_t>(1, total - static_cast<int64_t>(rng() % 16))
                                    : 1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(total));
      const uint64_t seed = rng();
      CAPTURE(fault::LossModeName(mode));
      CAPTURE(at);
      CAPTURE(seed);
      Sandbox sb;
      prepare(sb);
      const ChildResult child = RunReporting([&](int fd) { ImportChild(sb, fd, at, mode, seed); });
      REQUIRE_MESSAGE(child.status == kExitPowerLoss, "child exited with ", child.status,
                      child.lines.empty() ? "" : " after " + child.lines.back());
      {
        GlobalStorage s = sb.Open();
        REQUIRE(s.CheckIntegrity().empty());
        CHECK(JournalMode(s.location().db_path) == "wal");
        const int64_t events = s.CountEvents(EventQuery{});
        CHECK((events == 0 || events == kLogLines));
        (events == 0 ? absent : whole) += 1;
        for (const ImportProblem& p : CheckImports(s)) FAIL_CHECK(p.path.string() << ": " << p.problem);
        REQUIRE(s.ReadState(kJob).has_value());
        CHECK(s.ReadState(kJob)->version == 1);
      }
      // The re-run completes, without duplicates.
      CHECK(Migrate(sb.repo, sb.Config(), KeepOriginals()).ok());
      GlobalStorage s = sb.Open();
      CHECK(s.CountEvents(EventQuery{}) == kLogLines);
      CHECK(CheckImports(s).empty());
    }
  }
  MESSAGE(fmt::format("bulk import: {} power losses of {} writes and syncs: log whole {} times, absent {}",
                      whole + absent, total, whole, absent));
}

}  // namespace
}  // namespace prodigy::test
