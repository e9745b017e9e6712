#include "bench_util.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <iostream>
#include <stdexcept>

#include <fmt/format.h>

namespace prodigy::bench {

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  rank = std::clamp<size_t>(rank, 1, v.size());
  return v[rank - 1];
}

TempDir::TempDir(const std::string& tag) {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = fmt::format("{}/prodigy-bench-{}-XXXXXX", base && *base ? base : "/tmp", tag);
  if (::mkdtemp(tmpl.data()) == nullptr) {
    throw std::runtime_error(
        fmt::format("cannot create a temporary folder {}: {}", tmpl, std::strerror(errno)));
  }
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

ChildResult RunProcess(const std::vector<std::string>& argv, const std::optional<fs::path>& stdin_path,
                       const std::optional<fs::path>& stderr_path) {
  int out_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  Stopwatch watch;
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(fmt::format("fork failed: {}", std::strerror(errno)));
  if (pid == 0) {
    const int in = ::open(stdin_path ? stdin_path->c_str() : "/dev/null", O_RDONLY);
    const int err =
        ::open(stderr_path ? stderr_path->c_str() : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || err < 0) ::_exit(126);
    ::dup2(in, 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(err, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ChildResult r;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(out_pipe[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    r.out.append(buf, static_cast<size_t>(n));
  }
  ::close(out_pipe[0]);
  int status = 0;
  struct rusage ru;
  while (::wait4(pid, &status, 0, &ru) < 0) {
    if (errno != EINTR) throw std::runtime_error("wait4 failed");
  }
  r.seconds = watch.Seconds();
  r.max_rss_kb = ru.ru_maxrss;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

fs::path SelfExe() { return fs::read_symlink("/proc/self/exe"); }

bool HaveProgram(const std::string& program) {
  const char* path = std::getenv("PATH");
  if (!path) return false;
  std::string_view rest(path);
  while (!rest.empty()) {
    const size_t colon = rest.find(':');
    const std::string dir(rest.substr(0, colon));
    if (!dir.empty() && ::access((dir + "/" + program).c_str(), X_OK) == 0) return true;
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  return false;
}

int64_t BytesOf(const fs::path& p) {
  std::error_code ec;
  if (fs::is_regular_file(p, ec)) return static_cast<int64_t>(fs::file_size(p, ec));
  int64_t total = 0;
  for (auto it = fs::recursive_directory_iterator(p, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_regular_file(ec)) total += static_cast<int64_t>(it->file_size(ec));
  }
  return total;
}

void Settle() { ::sync(); }

std::vector<double> MedianSeconds(int rounds, const std::vector<Contender>& contenders,
                                  const std::string& tag) {
  std::vector<std::vector<double>> times(contenders.size());
  for (int r = 0; r < rounds; ++r) {
    for (size_t k = 0; k < contenders.size(); ++k) {
      const size_t i = (k + static_cast<size_t>(r)) % contenders.size();
      TempDir dir(tag);
      Settle();
      times[i].push_back(contenders[i].run(dir.path()));
    }
  }
  std::vector<double> out;
  for (auto& t : times) out.push_back(Median(t));
  return out;
}

void Table::Add(Row row) { rows_.push_back(std::move(row)); }

std::string Table::Render() const {
  std::string out =
      "| workload | ours | value | baseline | value | ratio | target | met |\n"
      "|---|---|---:|---|---:|---:|---|---|\n";
  for (const Row& r : rows_) {
    out += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} |\n", r.workload, r.ours, r.ours_value,
                       r.baseline, r.base_value, r.ratio ? fmt::format("{:.2f}x", *r.ratio) : "", r.target,
                       r.met ? (*r.met ? "yes" : "**NO**") : "");
  }
  if (!notes_.empty()) {
    out += "\n";
    for (const auto& n : notes_) out += fmt::format("- {}\n", n);
  }
  return out;
}

std::string Rate(double per_second, const char* unit) {
  if (per_second >= 1e6) return fmt::format("{:.2f} M{}", per_second / 1e6, unit);
  if (per_second >= 1e3) return fmt::format("{:.1f} k{}", per_second / 1e3, unit);
  return fmt::format("{:.1f} {}", per_second, unit);
}

std::string MBps(double bytes_per_second) { return fmt::format("{:.1f} MB/s", bytes_per_second / 1e6); }

std::string Ms(double seconds) {
  if (seconds < 0.01) return fmt::format("{:.2f} ms", seconds * 1e3);
  if (seconds < 10) return fmt::format("{:.1f} ms", seconds * 1e3);
  return fmt::format("{:.1f} s", seconds);
}

void Progress(const std::string& text) { std::cerr << "[bench] " << text << std::endl; }

}  // namespace prodigy::bench
