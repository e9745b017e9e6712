// Workload 3: 1, 2, 4 and 8 processes appending to one repository at once,
// one event per transaction. Every failed call is counted, and so is every
// event missing from the database afterwards.
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include "data_gen.h"
#include "prodigy/error.h"
#include "prodigy/storage.h"
#include "workloads.h"

namespace prodigy::bench {
namespace {

struct RunResult {
  double seconds = 0;
  int64_t errors = 0;
  std::string first_error;
};

// The child: open the store, say ready, wait for the start signal, append.
[[noreturn]] void Child(const fs::path& repo, const StorageConfig& config, const std::string& job,
                        const std::vector<std::string>& lines, int ready_fd, int start_fd, int result_fd) {
  int64_t errors = 0;
  std::string first_error;
  try {
    GlobalStorage s = GlobalStorage::OpenWithConfig(repo, config);
    char c = 1;
    if (::write(ready_fd, &c, 1) != 1) ::_exit(3);
    if (::read(start_fd, &c, 1) < 0) ::_exit(3);  // EOF when the parent starts everyone
    for (const auto& line : lines) {
      try {
        s.AppendEvent(job, line);
      } catch (const std::exception& e) {
        if (errors++ == 0) first_error = e.what();
      }
    }
  } catch (const std::exception& e) {
    errors = static_cast<int64_t>(lines.size());
    first_error = e.what();
  }
  const std::string msg = fmt::format("{} {}\n", errors, first_error);
  (void)!::write(result_fd, msg.data(), msg.size());
  ::_exit(0);  // no destructors of the parent's objects (its temp folders)
}

RunResult RunOnce(int procs, bool mirrors, const std::vector<std::string>& lines) {
  TempDir dir("concurrent");
  const fs::path repo = MakeRepo(dir.path());
  const StorageConfig config = BenchConfig(dir.path(), mirrors);
  { GlobalStorage::OpenWithConfig(repo, config); }  // schema created outside the timed part
  int ready[2], start[2], result[2];
  if (::pipe(ready) || ::pipe(start) || ::pipe(result)) throw std::runtime_error("pipe failed");
  std::vector<pid_t> pids;
  for (int p = 0; p < procs; ++p) {
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
      ::close(start[1]);
      Child(repo, config, fmt::format("mapreduce-worker-{}", p), lines, ready[1], start[0], result[1]);
    }
    pids.push_back(pid);
  }
  ::close(start[0]);
  ::close(ready[1]);
  ::close(result[1]);
  for (int p = 0; p < procs; ++p) {
    char c;
    if (::read(ready[0], &c, 1) != 1) break;  // a child died before it was ready: counted below
  }
  Stopwatch watch;
  ::close(start[1]);
  RunResult r;
  for (pid_t pid : pids) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++r.errors;
  }
  r.seconds = watch.Seconds();
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(result[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  ::close(ready[0]);
  ::close(result[0]);
  size_t pos = 0;
  while (pos < out.size()) {
    const size_t nl = out.find('\n', pos);
    const std::string line = out.substr(pos, nl - pos);
    const int64_t e = std::stoll(line);
    if (e > 0 && r.first_error.empty()) r.first_error = line.substr(line.find(' ') + 1);
    r.errors += e;
    pos = nl + 1;
  }
  // A lost write is an error too, even if no call reported one.
  GlobalStorage s = GlobalStorage::OpenWithConfig(repo, config);
  const int64_t stored = s.CountEvents({});
  const int64_t expected = static_cast<int64_t>(lines.size()) * procs;
  if (stored != expected) {
    r.errors += std::abs(expected - stored);
    if (r.first_error.empty()) r.first_error = fmt::format("{} events stored, {} expected", stored, expected);
  }
  return r;
}

}  // namespace

void RunConcurrent(const Sizes& sz, Table& t) {
  EventGenerator gen(3);
  std::vector<std::string> lines = gen.Lines(sz.concurrent_per_proc);
  lines.resize(sz.concurrent_per_proc);
  const int kProcs[] = {1, 2, 4, 8};
  for (bool mirrors : {true, false}) {
    Progress(fmt::format("concurrent: 1-8 processes x {} events, mirrors {}, {} rounds", lines.size(),
                         mirrors ? "on" : "off", sz.rounds));
    std::vector<std::vector<double>> secs(4);
    std::vector<int64_t> errors(4);
    std::string first_error;
    for (int r = 0; r < sz.rounds; ++r) {
      for (int i = 0; i < 4; ++i) {
        const RunResult res = RunOnce(kProcs[i], mirrors, lines);
        secs[i].push_back(res.seconds);
        errors[i] += res.errors;
        if (first_error.empty()) first_error = res.first_error;
      }
    }
    const auto rate = [&](int i) { return static_cast<double>(lines.size()) * kProcs[i] / Median(secs[i]); };
    for (int i = 1; i < 4; ++i) {
      const double ratio = rate(i) / rate(0);
      const bool targeted = kProcs[i] == 8;
      t.Add({"3 concurrent appends",
             fmt::format("{} procs, mirrors {}, {} errors", kProcs[i], mirrors ? "on" : "off", errors[i]),
             Rate(rate(i)), fmt::format("1 proc, {} errors", errors[0]), Rate(rate(0)), ratio,
             targeted ? ">= 0.5x, 0 errors" : "0 errors", (errors[i] == 0 && (!targeted || ratio >= 0.5))});
    }
    if (!first_error.empty()) t.Note(fmt::format("concurrent appends, first error: {}", first_error));
  }
}

}  // namespace prodigy::bench
