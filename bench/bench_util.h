// Measuring helpers for the benchmark program: clocks, statistics over
// repeated runs, child processes with their peak memory, temporary folders
// and the one result table.
#ifndef PRODIGY_BENCH_BENCH_UTIL_H_
#define PRODIGY_BENCH_BENCH_UTIL_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace prodigy::bench {

namespace fs = std::filesystem;

// Seconds elapsed since construction (steady clock).
class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  double Seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

double Median(std::vector<double> v);
// Nearest-rank percentile, p in (0, 100].
double Percentile(std::vector<double> v, double p);

// A fresh folder under $TMPDIR (default /tmp) removed with its content at scope exit.
class TempDir {
 public:
  explicit TempDir(const std::string& tag);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// What a finished child process reported.
struct ChildResult {
  int exit_code = -1;      // -1 when killed by a signal
  double seconds = 0;      // wall time from start to exit
  int64_t max_rss_kb = 0;  // ru_maxrss of the child (after exec: its own memory only)
  std::string out;         // its standard output
};

// Runs argv (searched on PATH) with stdin from `stdin_path` (or /dev/null),
// stdout captured and stderr to `stderr_path` (or /dev/null).
ChildResult RunProcess(const std::vector<std::string>& argv,
                       const std::optional<fs::path>& stdin_path = std::nullopt,
                       const std::optional<fs::path>& stderr_path = std::nullopt);

// The path of the running benchmark binary, to re-run it as a clean child
// (an exec'd child's peak RSS is its own, not the parent's heap).
fs::path SelfExe();

// True when `program` is found on PATH.
bool HaveProgram(const std::string& program);

// Bytes of a file, or of every regular file under a folder.
int64_t BytesOf(const fs::path& p);

// Keeps the page cache and the disk queue comparable between contenders:
// flushes dirty pages (sync(2)) before a timed section.
void Settle();

// One contender of a side-by-side comparison: runs once in a fresh folder
// and returns the seconds of its timed part (set-up excluded).
struct Contender {
  std::string name;
  std::function<double(const fs::path& dir)> run;
};

// Runs every contender `rounds` times, rotating the order each round so that
// no contender always runs first (warm caches, background noise); returns the
// median seconds of each, in the contenders' order.
std::vector<double> MedianSeconds(int rounds, const std::vector<Contender>& contenders,
                                  const std::string& tag);

// The one table the program prints. Every row compares our number with a
// baseline; `ratio` is always "ours relative to the baseline" oriented so that
// > 1 means we are better (faster, or less time).
struct Row {
  std::string workload;
  std::string ours;        // what we ran, e.g. "AppendEvents x1000, mirrors off"
  std::string ours_value;  // formatted, with unit
  std::string baseline;
  std::string base_value;
  std::optional<double> ratio;
  std::string target;  // e.g. ">= 0.8x", "<= 5 ms", "" when none
  std::optional<bool> met;
};

class Table {
 public:
  void Add(Row row);
  void Note(std::string note) { notes_.push_back(std::move(note)); }
  // Markdown: the same text goes into docs/performance.md.
  std::string Render() const;
  const std::vector<Row>& rows() const { return rows_; }

 private:
  std::vector<Row> rows_;
  std::vector<std::string> notes_;
};

// "12.3 k/s", "1.23 M/s" style rate; "123 MB/s".
std::string Rate(double per_second, const char* unit = "/s");
std::string MBps(double bytes_per_second);
std::string Ms(double seconds);

// Prints progress on stderr (the table goes to stdout).
void Progress(const std::string& text);

}  // namespace prodigy::bench

#endif  // PRODIGY_BENCH_BENCH_UTIL_H_
