// Leases with fencing tokens and event waiting, with real processes. The same
// cases run through the database (PRODIGY_TEST_LEASES=database) and through a
// real redis-server started per case (PRODIGY_TEST_LEASES=redis).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <optional>
#include <thread>

#include <doctest/doctest.h>

#include "../unit/test_util.h"
#include "redis_server.h"

namespace prodigy::test {
namespace {

using std::chrono::milliseconds;

bool UseRedis() {
  const char* v = std::getenv("PRODIGY_TEST_LEASES");
  return v != nullptr && std::string(v) == "redis";
}

// A sandbox with a redis-server when the run is through Redis.
struct Coord {
  Sandbox box;
  std::unique_ptr<RedisServer> redis;
  Coord() {
    if (UseRedis()) redis = std::make_unique<RedisServer>(box.tmp.path());
  }
  StorageConfig Config() const {
    StorageConfig config = box.Config();
    if (redis) config.redis_url = redis->url();
    return config;
  }
  GlobalStorage Open() const { return GlobalStorage::OpenWithConfig(box.repo, Config()); }
};

ErrorCode CodeOf(const std::function<void()>& fn, std::string* message = nullptr) {
  try {
    fn();
  } catch (const Error& e) {
    if (message != nullptr) *message = e.message();
    return e.code();
  }
  FAIL("no error");
  return ErrorCode::kInternal;
}

int WaitExit(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

// Runs fn in a child process; its return value is the exit code, an
// exception is 99.
template <class F>
pid_t Spawn(F&& fn) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    int code = 99;
    try {
      code = fn();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: %s\n", e.what());
    }
    ::_exit(code);
  }
  return pid;
}

TEST_CASE("a lease is granted to one holder at a time, with growing tokens") {
  Coord c;
  GlobalStorage storage = c.Open();
  Leases leases(storage);
  CHECK(leases.backend() == (UseRedis() ? "redis" : "database"));
  std::optional<Lease> a = leases.TryAcquire("job-1", "host-a:1", milliseconds(5000));
  REQUIRE(a);
  CHECK(a->token == 1);
  CHECK(a->holder == "host-a:1");
  CHECK_FALSE(leases.TryAcquire("job-1", "host-b:2", milliseconds(5000)));
  // Another key is independent.
  REQUIRE(leases.TryAcquire("job-2", "host-b:2", milliseconds(5000)));

  std::vector<Lease> held = leases.List();
  REQUIRE(held.size() == 2);
  CHECK(held[0].key == "job-1");
  CHECK(held[0].holder == "host-a:1");
  CHECK(held[0].expires_at_ns > NowNs());

  Lease extended = leases.Extend(*a, milliseconds(9000));
  CHECK(extended.token == a->token);
  CHECK(leases.Release(*a));
  CHECK_FALSE(leases.Release(*a));  // already released: nothing changes
  std::optional<Lease> b = leases.TryAcquire("job-1", "host-b:2", milliseconds(5000));
  REQUIRE(b);
  CHECK(b->token > a->token);

  std::string message;
  CHECK(CodeOf([&] { leases.Acquire("job-1", "host-c:3", milliseconds(1000), milliseconds(50)); },
               &message) == ErrorCode::kBusy);
  CHECK(message.find("lease job-1 not acquired by host-c:3 within 50 ms: it is held by host-b:2") !=
        std::string::npos);
  CHECK(message.find("leases release job-1 --force") != std::string::npos);

  std::optional<Lease> ended = leases.ForceRelease("job-1");
  REQUIRE(ended);
  CHECK(ended->holder == "host-b:2");
  CHECK_FALSE(leases.ForceRelease("job-1"));
  CHECK(CodeOf([&] { leases.TryAcquire("", "h", milliseconds(10)); }) == ErrorCode::kInvalidArgument);
  CHECK(CodeOf([&] { leases.TryAcquire("k", "h", milliseconds(0)); }) == ErrorCode::kInvalidArgument);
}

TEST_CASE("an expired lease goes to the next holder; the old one can neither extend nor write") {
  Coord c;
  GlobalStorage storage = c.Open();
  Leases leases(storage);
  Lease old = *leases.TryAcquire("job-1", "old", milliseconds(50));
  storage.WriteState("job-1", StateJson("job-1", 1), old.token);
  std::this_thread::sleep_for(milliseconds(120));
  Lease next = *leases.TryAcquire("job-1", "next", milliseconds(5000));
  CHECK(next.token > old.token);

  std::string message;
  CHECK(CodeOf([&] { leases.Extend(old, milliseconds(5000)); }, &message) == ErrorCode::kFenced);
  CHECK(message.find(fmt::format("lease job-1 (token {}) of old cannot be extended", old.token)) !=
        std::string::npos);
  CHECK(message.find(fmt::format("held by next with token {}", next.token)) != std::string::npos);
  CHECK_FALSE(leases.Release(old));

  // The new holder has not written yet: the grant alone fences the old one.
  CHECK(CodeOf([&] { storage.WriteState("job-1", StateJson("job-1", 2), old.token); }, &message) ==
        ErrorCode::kFenced);
  CHECK(message ==
        fmt::format("state of job job-1 not written: its lease token {} is older than token {}, the "
                    "newest granted for this job; the lease was lost (expired or taken over), so stop "
                    "working on the job and acquire its lease again",
                    old.token, next.token));
  CHECK(storage.ReadState("job-1")->version == 1);
  CHECK(storage.WriteState("job-1", StateJson("job-1", 2), next.token) == 2);
  CHECK(CodeOf([&] { storage.WriteState("job-1", StateJson("job-1", 3), 0); }) ==
        ErrorCode::kInvalidArgument);
}

TEST_CASE("two processes contend: exactly one holds the lease at any time, tokens grow") {
  Coord c;
  c.Open();  // create the database before the children race to open it
  const fs::path inside = c.box.tmp / "inside";
  const fs::path tokens = c.box.tmp / "tokens.log";
  constexpr int kRounds = 25;
  std::vector<pid_t> children;
  for (int child = 0; child < 2; ++child) {
    children.push_back(Spawn([&, child] {
      GlobalStorage storage = c.Open();
      Leases leases(storage);
      for (int i = 0; i < kRounds; ++i) {
        Lease lease =
            leases.Acquire("job-1", fmt::format("child-{}", child), milliseconds(5000), milliseconds(30000));
        // O_EXCL: a second holder inside the critical section fails here.
        const int fd = ::open(inside.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0600);
        if (fd < 0) return 3;
        ::close(fd);
        const std::string line = fmt::format("{}\n", lease.token);
        const int log = ::open(tokens.c_str(), O_CREAT | O_APPEND | O_WRONLY, 0600);
        if (::write(log, line.data(), line.size()) != static_cast<ssize_t>(line.size())) return 4;
        ::close(log);
        // Versions grow with the tokens: each holder continues the last state.
        storage.WriteState("job-1", StateJson("job-1", static_cast<int>(lease.token)), lease.token);
        std::this_thread::sleep_for(milliseconds(2));
        ::unlink(inside.c_str());
        if (!leases.Release(lease)) return 5;
      }
      return 0;
    }));
  }
  for (pid_t pid : children) CHECK(WaitExit(pid) == 0);
  std::istringstream in(ReadAll(tokens));
  int64_t previous = 0;
  int count = 0;
  for (int64_t token; in >> token; ++count) {
    CHECK(token > previous);
    previous = token;
  }
  CHECK(count == 2 * kRounds);
}

TEST_CASE("a holder stopped past its TTL loses the lease; its write after SIGCONT is refused") {
  Coord c;
  c.Open();
  int to_parent[2];
  int to_child[2];
  REQUIRE(::pipe(to_parent) == 0);
  REQUIRE(::pipe(to_child) == 0);
  const pid_t holder = Spawn([&] {
    GlobalStorage storage = c.Open();
    Leases leases(storage);
    Lease lease = *leases.TryAcquire("job-1", "stopped", milliseconds(300));
    storage.WriteState("job-1", StateJson("job-1", 1), lease.token);
    if (::write(to_parent[1], &lease.token, sizeof(lease.token)) != sizeof(lease.token)) return 2;
    char go;
    if (::read(to_child[0], &go, 1) != 1) return 2;  // SIGSTOP arrives while waiting here
    // Resumed long after the TTL: a newer holder exists.
    try {
      storage.WriteState("job-1", StateJson("job-1", 7), lease.token);
      return 1;
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kFenced) return 3;
    }
    try {
      leases.Extend(lease, milliseconds(300));
      return 4;
    } catch (const Error& e) {
      return e.code() == ErrorCode::kFenced ? 0 : 5;
    }
  });
  int64_t old_token = 0;
  REQUIRE(::read(to_parent[0], &old_token, sizeof(old_token)) == sizeof(old_token));
  REQUIRE(::kill(holder, SIGSTOP) == 0);
  std::this_thread::sleep_for(milliseconds(500));
  GlobalStorage storage = c.Open();
  Leases leases(storage);
  Lease next = leases.Acquire("job-1", "next", milliseconds(5000), milliseconds(5000));
  CHECK(next.token > old_token);
  storage.WriteState("job-1", StateJson("job-1", 2), next.token);
  REQUIRE(::kill(holder, SIGCONT) == 0);
  REQUIRE(::write(to_child[1], "g", 1) == 1);
  CHECK(WaitExit(holder) == 0);
  std::optional<JobState> state = storage.ReadState("job-1");
  REQUIRE(state);
  CHECK(state->version == 2);  // the stale holder's version 7 never landed
  for (int fd : {to_parent[0], to_parent[1], to_child[0], to_child[1]}) ::close(fd);
}

TEST_CASE("a waiter wakes when another process appends, and reads the rows by seq") {
  Coord c;
  GlobalStorage storage = c.Open();
  const int64_t before = storage.AppendEvent("job-1", EventJson(1));
  EventWaiter waiter(storage, milliseconds(50));
  CHECK(waiter.notified() == UseRedis());
  CHECK(waiter.Wait(before - 1, milliseconds(10)));  // already there
  CHECK_FALSE(waiter.Wait(before, milliseconds(100)));
  const pid_t writer = Spawn([&] {
    std::this_thread::sleep_for(milliseconds(100));
    c.Open().AppendEvent("job-1", EventJson(2));
    return 0;
  });
  CHECK(waiter.Wait(before, milliseconds(10000)));
  CHECK(WaitExit(writer) == 0);
  EventQuery q;
  q.after_seq = before;
  CHECK(storage.CountEvents(q) == 1);
}

TEST_CASE("Redis killed mid-lease: clear errors, appends and fenced writes go on, no data lost") {
  if (!UseRedis()) return;
  Coord c;
  GlobalStorage storage = c.Open();
  Leases leases(storage);
  Lease lease = *leases.TryAcquire("job-1", "holder", milliseconds(10000));
  storage.WriteState("job-1", StateJson("job-1", 1), lease.token);
  EventWaiter waiter(storage, milliseconds(20));
  const int64_t seq = storage.AppendEvent("job-1", EventJson(1));

  c.redis->Kill();
  std::string message;
  CHECK(CodeOf([&] { leases.Extend(lease, milliseconds(10000)); }, &message) == ErrorCode::kIo);
  CHECK(message.find("Redis at " + c.redis->url()) == 0);
  CHECK(message.find("PRODIGY_REDIS_URL") != std::string::npos);
  // Unreachable is an error, never "held by nobody" or "not held".
  CHECK(CodeOf([&] { leases.TryAcquire("job-1", "other", milliseconds(1000)); }) == ErrorCode::kIo);
  CHECK(CodeOf([&] { leases.Release(lease); }) == ErrorCode::kIo);
  CHECK(CodeOf([&] { leases.List(); }) == ErrorCode::kIo);

  // The store does not depend on Redis: appends succeed, waiters poll.
  const int64_t seq2 = storage.AppendEvent("job-1", EventJson(2));
  CHECK(seq2 == seq + 1);
  CHECK(waiter.Wait(seq, milliseconds(5000)));
  CHECK_FALSE(waiter.notified());
  storage.WriteState("job-1", StateJson("job-1", 2), lease.token);
  CHECK(storage.ReadState("job-1")->version == 2);
  CHECK(storage.ReadEvents("job-1").size() == 2);

  // A fresh Redis lost every key and counter; the store's fence keeps tokens growing.
  c.redis->Start();
  Lease next = *leases.TryAcquire("job-1", "other", milliseconds(10000));
  CHECK(next.token > lease.token);
  CHECK(CodeOf([&] { storage.WriteState("job-1", StateJson("job-1", 3), lease.token); }) ==
        ErrorCode::kFenced);
  storage.WriteState("job-1", StateJson("job-1", 3), next.token);
  // Notifications resume.
  const int64_t seq3 = storage.AppendEvent("job-1", EventJson(3));
  std::this_thread::sleep_for(milliseconds(2100));  // past the publisher's and the waiter's retry pauses
  const pid_t writer = Spawn([&] {
    std::this_thread::sleep_for(milliseconds(100));
    c.Open().AppendEvent("job-1", EventJson(4));
    return 0;
  });
  CHECK(waiter.Wait(seq3, milliseconds(10000)));
  CHECK(waiter.notified());
  CHECK(WaitExit(writer) == 0);
}

TEST_CASE("a redis_url is refused when Redis support is not built, and malformed URLs name themselves") {
  Coord c;
  StorageConfig config = c.Config();
#if PRODIGY_TEST_REDIS_BUILT
  config.redis_url = "redis://:s3cret@localhost:notaport/0";
  std::string message;
  CHECK(CodeOf([&] { GlobalStorage::OpenWithConfig(c.box.repo, config); }, &message) == ErrorCode::kConfig);
  CHECK(message.find("redis://:***@localhost:notaport/0") != std::string::npos);
  CHECK(message.find("s3cret") == std::string::npos);
  config.redis_url = "rediss://localhost";
  CHECK(CodeOf([&] { GlobalStorage::OpenWithConfig(c.box.repo, config); }, &message) == ErrorCode::kConfig);
  CHECK(message.find("TLS") != std::string::npos);
#else
  config.redis_url = "unix:///tmp/redis.sock";
  std::string message;
  CHECK(CodeOf([&] { GlobalStorage::OpenWithConfig(c.box.repo, config); }, &message) == ErrorCode::kConfig);
  CHECK(
      message.find("built without Redis support: rebuild it with `meson configure build -Dredis=enabled`") !=
      std::string::npos);
#endif
}

}  // namespace
}  // namespace prodigy::test
