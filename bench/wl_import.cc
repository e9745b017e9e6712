// Workload 1: bulk import of a legacy events JSONL file (Prodigy's local
// .prodigy/mapreduce/events/global/events.jsonl). Our import runs in a child
// process so its peak RSS can be read from wait4(); the baselines are
// `sqlite-utils insert --nl`, the SQLite C API inserting the same rows into the
// same schema (the naive bulk insert, also in a child), and parsing every line
// with nlohmann/json (the parser's limit: no storage at all).
#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "data_gen.h"
#include "prodigy/migrate.h"
#include "prodigy/storage.h"
#include "raw_sqlite.h"
#include "store/rows.h"
#include "workloads.h"

namespace prodigy::bench {
namespace {

// Calls fn for every line of the file (without its newline), reading in
// large blocks so that I/O is never the limit.
template <class F>
void ForEachLine(const fs::path& file, F&& fn) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot read " + file.string());
  std::string buf;
  std::vector<char> block(1 << 20);
  for (ssize_t n; (n = ::read(fd, block.data(), block.size())) > 0;) {
    buf.append(block.data(), static_cast<size_t>(n));
    size_t start = 0;
    for (size_t nl; (nl = buf.find('\n', start)) != std::string::npos; start = nl + 1) {
      fn(std::string_view(buf).substr(start, nl - start));
    }
    buf.erase(0, start);
  }
  ::close(fd);
  if (!buf.empty()) fn(std::string_view(buf));
}

}  // namespace

size_t WriteLegacyFile(const fs::path& file, size_t lines) {
  fs::create_directories(file.parent_path());
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot write " + file.string());
  EventGenerator gen(1);
  std::string buf;
  size_t written = 0;
  const auto flush = [&] {
    if (::write(fd, buf.data(), buf.size()) != static_cast<ssize_t>(buf.size())) {
      throw std::runtime_error("short write to " + file.string());
    }
    buf.clear();
  };
  while (written < lines) {
    gen.Job([&](std::string&& line) {
      buf += line;
      buf += '\n';
      ++written;
      if (buf.size() > (4 << 20)) flush();
    });
  }
  flush();
  ::close(fd);
  return written;
}

namespace {

double ParseOnly(const fs::path& file) {
  Stopwatch w;
  size_t objects = 0;
  ForEachLine(file, [&](std::string_view line) {
    objects += nlohmann::json::parse(line.begin(), line.end()).is_object();
  });
  if (objects == 0) throw std::runtime_error("parse-only: no objects");
  return w.Seconds();
}

int64_t CountRows(const fs::path& db_path) {
  sqlite3* db = nullptr;
  sqlite3_stmt* st = nullptr;
  int64_t n = -1;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK &&
      sqlite3_prepare_v2(db, "SELECT count(*) FROM events", -1, &st, nullptr) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW) {
    n = sqlite3_column_int64(st, 0);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return n;
}

}  // namespace

// args: <work dir> <legacy .prodigy folder> <mirrors on|off>. Prints
// "<events> <seconds>": the time of ImportPaths (import and verification).
int ImportChild(const std::vector<std::string>& args) {
  if (args.size() != 3) return 2;
  const fs::path dir = args[0];
  try {
    GlobalStorage s = GlobalStorage::OpenWithConfig(MakeRepo(dir), BenchConfig(dir, args[2] == "on"));
    Stopwatch w;
    const MigrationReport report = ImportPaths(s, {fs::path(args[1])});
    const double secs = w.Seconds();
    ThrowIfFailed(report);
    int64_t rows = 0;
    for (const auto& src : report.sources) rows += src.rows;
    fmt::print("{} {}\n", rows, secs);
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "import child: {}\n", e.what());
    return 1;
  }
}

// args: <work dir> <events file>. The SQLite C API inserting the same rows
// (source_id and line_no included) into the same schema with the same
// settings in one transaction, indexes in place (the naive bulk insert), then
// closing the connection (its checkpoint). The clock runs while rows are
// inserted, committed and checkpointed; reading the file and extracting the
// columns are not counted. Prints "<rows> <seconds>".
int RawImportChild(const std::vector<std::string>& args) {
  if (args.size() != 2) return 2;
  try {
    RawStore raw(fs::path(args[0]) / "raw.db");
    std::vector<Event> batch;
    int64_t rows = 0, line_no = 0;
    double secs = 0;
    const auto insert = [&] {
      Stopwatch w;
      for (const Event& e : batch) raw.Add(e, 1, ++line_no);
      secs += w.Seconds();
      rows += static_cast<int64_t>(batch.size());
      batch.clear();
    };
    Stopwatch begin;
    raw.Exec("BEGIN IMMEDIATE");
    secs += begin.Seconds();
    ForEachLine(args[1], [&](std::string_view line) {
      batch.push_back(internal::ExtractEvent("global", line));
      if (batch.size() == 4096) insert();
    });
    insert();
    Stopwatch end;
    raw.Exec("COMMIT");
    raw.Close();
    secs += end.Seconds();
    fmt::print("{} {}\n", rows, secs);
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "raw import child: {}\n", e.what());
    return 1;
  }
}

// One import in a fresh child process: returns its seconds and peak RSS.
// `args` follow the child's flag and work folder.
std::pair<double, int64_t> ImportOnce(const std::string& flag, const std::vector<std::string>& args,
                                      size_t lines, const fs::path& err) {
  TempDir work("import-ours");
  Settle();
  std::vector<std::string> cmd{SelfExe().string(), flag, work.path().string()};
  cmd.insert(cmd.end(), args.begin(), args.end());
  const ChildResult res = RunProcess(cmd, std::nullopt, err);
  if (res.exit_code != 0) throw std::runtime_error(flag + " child failed: see " + err.string());
  const size_t space = res.out.find(' ');
  if (std::stoull(res.out.substr(0, space)) != lines) {
    throw std::runtime_error(
        fmt::format("the importer stored {} events of {} lines", res.out.substr(0, space), lines));
  }
  // The child's own clock: process start and open are not import work.
  return {std::stod(res.out.substr(space + 1)), res.max_rss_kb};
}

// sqlite-utils costs the same per row whatever the file's size (no indexes,
// rowid appends): a prefix of the file gives its rate, so that it can run in
// every round next to our import without taking minutes.
constexpr size_t kSqliteUtilsLines = 200000;

// MB/s of `sqlite-utils insert --nl` on `file`, checking that every line was stored.
double SqliteUtilsRate(const fs::path& file, size_t lines, int64_t* rss_kb) {
  TempDir work("import-su");
  Settle();
  const ChildResult res = RunProcess(
      {"sqlite-utils", "insert", (work.path() / "su.db").string(), "events", file.string(), "--nl"});
  if (res.exit_code != 0) throw std::runtime_error("sqlite-utils insert failed");
  const int64_t rows = CountRows(work.path() / "su.db");
  if (rows != static_cast<int64_t>(lines)) {
    throw std::runtime_error(fmt::format("sqlite-utils stored {} rows of {} lines", rows, lines));
  }
  *rss_kb = std::max(*rss_kb, res.max_rss_kb);
  return static_cast<double>(BytesOf(file)) / res.seconds;
}

void RunImport(const Sizes& sz, Table& t) {
  TempDir dir("import");
  const fs::path legacy = dir.path() / "legacy" / ".prodigy";
  const fs::path file = legacy / "mapreduce" / "events" / "global" / "events.jsonl";
  Progress(fmt::format("import: writing a legacy events file of {} lines", sz.import_lines));
  const size_t lines = WriteLegacyFile(file, sz.import_lines);
  const double bytes = static_cast<double>(BytesOf(file));
  const fs::path su_file = dir.path() / "su-prefix.jsonl";
  const size_t su_lines = lines > kSqliteUtilsLines ? WriteLegacyFile(su_file, kSqliteUtilsLines) : lines;
  const fs::path& su_input = lines > kSqliteUtilsLines ? su_file : file;
  const bool have_su = HaveProgram("sqlite-utils");
  const fs::path err = dir.path() / "child.err";

  // Each import run is long and steady: three rounds suffice even in full
  // mode. Ratios are taken per round (neighbours in time), then the median.
  const int rounds = std::min(sz.rounds, 3);
  std::vector<double> ours, parse, su, raw, vs_su, vs_parse, vs_raw;
  double ours_mirrors = 0;
  int64_t rss_kb = 0, rss_mirrors_kb = 0, su_rss_kb = 0;
  for (int r = 0; r < rounds; ++r) {
    Progress(fmt::format("import: round {} of {}", r + 1, rounds));
    const auto [secs, rss] = ImportOnce("--child-import", {legacy.string(), "off"}, lines, err);
    ours.push_back(bytes / secs);
    rss_kb = std::max(rss_kb, rss);
    raw.push_back(bytes / ImportOnce("--child-raw-import", {file.string()}, lines, err).first);
    vs_raw.push_back(ours.back() / raw.back());
    if (have_su) {
      su.push_back(SqliteUtilsRate(su_input, su_lines, &su_rss_kb));
      vs_su.push_back(ours.back() / su.back());
    }
    parse.push_back(bytes / ParseOnly(file));
    vs_parse.push_back(ours.back() / parse.back());
    // The default configuration (mirrors on) only adds writing the mirror file: one run.
    if (r == 0) {
      const auto [m_secs, m_rss] = ImportOnce("--child-import", {legacy.string(), "on"}, lines, err);
      ours_mirrors = bytes / m_secs;
      rss_mirrors_kb = m_rss;
    }
  }
  const auto mb = [](int64_t kb) { return fmt::format("{:.1f} MB", static_cast<double>(kb) / 1024.0); };
  const std::string ours_name = "ImportPaths (import + verify), mirrors off";
  const std::string wl = fmt::format("1 import {} lines, {:.0f} MB", lines, bytes / 1e6);
  if (have_su) {
    const std::string su_name = su_lines < lines
                                    ? fmt::format("sqlite-utils insert --nl ({} lines)", su_lines)
                                    : "sqlite-utils insert --nl";
    const double ratio = Median(vs_su);
    t.Add({wl, ours_name, MBps(Median(ours)), su_name, MBps(Median(su)), ratio, ">= 5x", ratio >= 5});
    const double on_ratio = ours_mirrors / Median(su);
    t.Add({wl, "ImportPaths, mirrors on (default)", MBps(ours_mirrors), su_name, MBps(Median(su)), on_ratio,
           ">= 4x", on_ratio >= 4});
  } else {
    t.Note("sqlite-utils is not installed: that baseline was skipped (apt-get install sqlite-utils)");
  }
  const double raw_ratio = Median(vs_raw);
  t.Add({wl, ours_name, MBps(Median(ours)), "raw C API, same rows and schema, one transaction",
         MBps(Median(raw)), raw_ratio, ">= 1.2x", raw_ratio >= 1.2});
  const double ratio = Median(vs_parse);
  t.Add({wl, ours_name, MBps(Median(ours)), "nlohmann parse only", MBps(Median(parse)), ratio, ">= 0.5x",
         ratio >= 0.5});
  t.Add({wl, "ImportPaths peak RSS, mirrors off / on", fmt::format("{} / {}", mb(rss_kb), mb(rss_mirrors_kb)),
         "sqlite-utils peak RSS", have_su ? mb(su_rss_kb) : "n/a", std::nullopt, "<= 64 MB",
         std::max(rss_kb, rss_mirrors_kb) <= 64 * 1024});
}

}  // namespace prodigy::bench
