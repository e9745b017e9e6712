// prodigy-notify-bench: how long a waiter takes to see an event another
// process appended, with Redis Stream notifications and with the engine's own
// wait (SQLite: polling; PostgreSQL: LISTEN/NOTIFY).
//
//   prodigy-notify-bench [EVENTS] [POLL_MS]      (defaults 200 and 200)
//
// A writer process appends EVENTS single events at random gaps of 10-60 ms;
// the waiter (this process) waits with prodigy::EventWaiter and notes, for
// every event, the time from the start of its append call to the wake-up
// that saw it (CLOCK_MONOTONIC, shared by both processes). The Redis run
// needs a build with -Dredis=enabled and starts its own redis-server on a
// unix socket (PRODIGY_TEST_REDIS_SERVER, default /usr/bin/redis-server).
// With PRODIGY_TEST_ENGINE=postgres and PRODIGY_TEST_PG_URL the store is on
// that PostgreSQL server.
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "../tests/coordination/redis_server.h"
#include "../tests/unit/test_util.h"
#include "coord/coord.h"

namespace {

using namespace prodigy;
using Clock = std::chrono::steady_clock;

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch()).count();
}

struct Result {
  std::vector<double> latencies_ms;
  bool notified = false;
};

Result Measure(const test::Sandbox& box, const StorageConfig& config, int events,
               std::chrono::milliseconds poll) {
  GlobalStorage storage = GlobalStorage::OpenWithConfig(box.repo, config);
  const int64_t base = storage.AppendEvent("bench", test::EventJson(0));
  // Append-start times, written by the writer, read by the waiter.
  auto* start_us =
      static_cast<std::atomic<int64_t>*>(::mmap(nullptr, sizeof(std::atomic<int64_t>) * (events + 1),
                                                PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  EventWaiter waiter(storage, poll);
  const pid_t writer = ::fork();
  if (writer == 0) {
    GlobalStorage w = GlobalStorage::OpenWithConfig(box.repo, config);
    std::minstd_rand rng(42);
    for (int i = 1; i <= events; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10 + rng() % 51));
      start_us[i].store(NowUs());
      w.AppendEvent("bench", test::EventJson(i));
    }
    ::_exit(0);
  }
  Result result;
  result.notified = waiter.notified();
  int64_t seen = base;
  while (seen < base + events) {
    if (!waiter.Wait(seen, std::chrono::seconds(10))) break;
    const int64_t woke = NowUs();
    const int64_t newest = std::min(waiter.LastSeq(), base + events);
    for (int64_t seq = seen + 1; seq <= newest; ++seq) {
      result.latencies_ms.push_back(static_cast<double>(woke - start_us[seq - base].load()) / 1000.0);
    }
    seen = newest;
  }
  ::waitpid(writer, nullptr, 0);
  ::munmap(start_us, sizeof(std::atomic<int64_t>) * (events + 1));
  return result;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

void Print(const char* mode, const Result& r) {
  fmt::print("{:<34} {:>6} {:>9.2f} {:>9.2f} {:>9.2f}\n", mode, r.latencies_ms.size(),
             Percentile(r.latencies_ms, 0.5), Percentile(r.latencies_ms, 0.99),
             Percentile(r.latencies_ms, 1.0));
}

}  // namespace

int main(int argc, char** argv) {
  const int events = argc > 1 ? std::atoi(argv[1]) : 200;
  const auto poll = std::chrono::milliseconds(argc > 2 ? std::atoi(argv[2]) : 200);
  try {
    fmt::print(
        "{} events, 10-60 ms apart, one writer process; latency = append call start -> waiter wake-up\n",
        events);
    fmt::print("{:<34} {:>6} {:>9} {:>9} {:>9}\n", "mode", "events", "p50 ms", "p99 ms", "max ms");
    {
      test::Sandbox box;
      // Without Redis a waiter uses the engine's own wait: polling the newest
      // seq on SQLite, LISTEN/NOTIFY on PostgreSQL (PRODIGY_TEST_ENGINE).
      Print(fmt::format("no Redis: {} engine's wait", test::OnPostgres() ? "PostgreSQL" : "SQLite").c_str(),
            Measure(box, box.Config(), events, poll));
    }
    if (internal::RedisBuilt()) {
      test::Sandbox box;
      if (!std::getenv("PRODIGY_TEST_REDIS_SERVER"))
        ::setenv("PRODIGY_TEST_REDIS_SERVER", "/usr/bin/redis-server", 1);
      test::RedisServer redis(box.tmp.path());
      StorageConfig config = box.Config();
      config.redis_url = redis.url();
      const Result r = Measure(box, config, events, poll);
      Print(r.notified ? "Redis Stream notification" : "Redis (NOT notified: polling)", r);
    } else {
      fmt::print("(Redis: not built; configure with -Dredis=enabled)\n");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "prodigy-notify-bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
