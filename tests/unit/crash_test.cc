// SIGKILL a writer mid-stream: the database stays sound, every append that
// returned before the kill is there, batches are all-or-nothing, and the
// mirror files heal on the next open.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>

#include <chrono>
#include <random>
#include <thread>

#include "test_util.h"

using namespace prodigy;
using namespace prodigy::test;

namespace {

// Children append forever and record each returned seq in `log` (one write(2)
// per record: it survives SIGKILL in the page cache).
pid_t StartWriter(const Sandbox& sb, const fs::path& log, int id, bool batches) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  try {
    auto storage = sb.Open();
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    for (int i = 0;; ++i) {
      int64_t seq;
      if (batches) {
        std::vector<std::string> batch;
        for (int k = 0; k < 50; ++k) {
          batch.push_back(
              EventJson(id * 1000000 + i * 50 + k, "agent_progress", "m", fmt::format("batch-{}-{}", id, i)));
        }
        seq = storage.AppendEvents(fmt::format("job-{}", id), batch);
      } else {
        seq = storage.AppendEvent(fmt::format("job-{}", id), EventJson(id * 1000000 + i));
      }
      const std::string rec = fmt::format("{}\n", seq);
      if (::write(fd, rec.data(), rec.size()) != static_cast<ssize_t>(rec.size())) ::_exit(3);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "writer %d: %s\n", id, e.what());
    ::_exit(2);
  }
}

}  // namespace

TEST_CASE("SIGKILL mid-stream loses no acknowledged append and no batch is torn") {
  Sandbox sb;
  { auto storage = sb.Open(); }
  std::mt19937 rng(12345);
  for (int round = 0; round < 5 * StressScale(); ++round) {
    const fs::path log_single = sb.tmp / fmt::format("acked-single-{}.log", round);
    const fs::path log_batch = sb.tmp / fmt::format("acked-batch-{}.log", round);
    const pid_t single = StartWriter(sb, log_single, round * 2, false);
    const pid_t batch = StartWriter(sb, log_batch, round * 2 + 1, true);
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + rng() % 400));
    ::kill(single, SIGKILL);
    ::kill(batch, SIGKILL);
    int status;
    ::waitpid(single, &status, 0);
    CHECK(WIFSIGNALED(status));
    ::waitpid(batch, &status, 0);
    CHECK(WIFSIGNALED(status));

    auto storage = sb.Open();  // also heals mirrors the kill interrupted
    CHECK(storage.CheckIntegrity().empty());
    for (const fs::path& log : {log_single, log_batch}) {
      std::istringstream acked(ReadAll(log));
      int64_t seq;
      int n = 0;
      while (acked >> seq) {
        EventQuery q;
        q.after_seq = seq - 1;
        q.limit = 1;
        auto cursor = storage.QueryEvents(q);
        Event e;
        REQUIRE(cursor.Next(&e));
        CHECK(e.seq == seq);
        ++n;
      }
      CHECK_MESSAGE(n > 0, "the writer acknowledged nothing before the kill: " << log.string());
    }
    // Batches are all-or-nothing: every batch agent has exactly 50 events.
    EventQuery q;
    q.job_id = fmt::format("job-{}", round * 2 + 1);
    for (const GroupCount& g : storage.GroupEvents(q, EventGroupBy::kAgent)) {
      CHECK_MESSAGE(g.count == 50, g.key << " has " << g.count << " events");
    }
    CHECK(storage.CheckMirrors().empty());
  }
}
