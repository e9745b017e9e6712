// Many real processes writing one repository at once: nothing is lost, order
// per process holds, and "database is locked" never reaches a caller.
#include <doctest/doctest.h>

#include <map>

#include "test_util.h"

using namespace prodigy;
using namespace prodigy::test;

namespace {

// Starts `n` children that block until released, so they really run together.
class Herd {
 public:
  explicit Herd(int n) : n_(n) { REQUIRE(::pipe(gate_) == 0); }
  void Spawn(const std::function<int(int)>& fn) {
    for (int i = 0; i < n_; ++i) {
      const pid_t pid = ::fork();
      if (pid == 0) {
        ::close(gate_[1]);
        char c;
        while (::read(gate_[0], &c, 1) < 0 && errno == EINTR) {
        }
        int code = 97;
        try {
          code = fn(i);
        } catch (const std::exception& e) {
          std::fprintf(stderr, "child %d: %s\n", i, e.what());
          code = 98;
        }
        ::_exit(code);
      }
      pids_.push_back(pid);
    }
  }
  // Releases all children and returns how many failed.
  int Run() {
    ::close(gate_[0]);
    ::close(gate_[1]);  // EOF wakes every reader at once
    int failed = 0;
    for (pid_t pid : pids_) {
      int status = 0;
      ::waitpid(pid, &status, 0);
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed;
    }
    return failed;
  }

 private:
  int n_;
  int gate_[2];
  std::vector<pid_t> pids_;
};

}  // namespace

TEST_CASE("4 processes x 2000 single appends into one job of a repository none of them created") {
  Sandbox sb;
  const int kProcs = StressScale() > 1 ? 8 : 4;
  const int kEach = 2000 * StressScale();
  Herd herd(kProcs);
  herd.Spawn([&](int p) {
    auto storage = sb.Open();  // all children create the database at the same moment
    for (int i = 0; i < kEach; ++i) {
      storage.AppendEvent("mapreduce-1",
                          EventJson(p * 100000 + i, "agent_progress", "m", fmt::format("proc-{}", p)));
    }
    return 0;
  });
  CHECK(herd.Run() == 0);

  auto storage = sb.Open();
  CHECK(storage.CheckIntegrity().empty());
  std::map<std::string, int> next;  // agent -> next expected index
  int64_t total = 0;
  storage.ForEachEvent({}, [&](const Event& e) {
    const int n = std::stoi(e.item_id.substr(5));
    CHECK_MESSAGE(n % 100000 == next[e.agent_id], e.agent_id << " out of order at " << n);
    next[e.agent_id] = n % 100000 + 1;
    ++total;
    return true;
  });
  CHECK(total == kProcs * kEach);
  for (int p = 0; p < kProcs; ++p) CHECK(next[fmt::format("proc-{}", p)] == kEach);
  // The mirror holds every line, in commit order.
  CHECK(storage.CheckMirrors().empty());
}

TEST_CASE("8 processes mixing batches, DLQ, state and sessions") {
  Sandbox sb;
  constexpr int kProcs = 8;
  { auto storage = sb.Open(); }
  Herd herd(kProcs);
  herd.Spawn([&](int p) {
    auto storage = sb.Open();
    const std::string job = fmt::format("job-{}", p % 3);
    for (int round = 0; round < 40 * StressScale(); ++round) {
      std::vector<std::string> batch;
      for (int k = 0; k < 25; ++k) batch.push_back(EventJson(p * 100000 + round * 25 + k));
      storage.AppendEvents(job, batch);
      storage.AddDlqItem(job, DlqItemJson(fmt::format("item-{}-{}", p, round), "2025-09-20T17:05:40Z"));
      storage.WriteState(fmt::format("state-{}", p), StateJson(fmt::format("state-{}", p), round));
      storage.SaveSession(SessionJson(fmt::format("session-{}", p), round % 2 ? "InProgress" : "Completed"));
    }
    return 0;
  });
  CHECK(herd.Run() == 0);
  auto storage = sb.Open();
  const RepositoryInfo info = storage.Info();
  CHECK(info.counts.events == kProcs * 40 * StressScale() * 25);
  CHECK(info.counts.dlq_items == kProcs * 40 * StressScale());
  CHECK(info.counts.job_states == kProcs * 3);
  CHECK(info.counts.sessions == kProcs);
  CHECK(storage.CheckIntegrity().empty());
  CHECK(storage.CheckMirrors().empty());
}
