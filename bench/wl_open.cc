// Workload 6: opening a repository that has nothing to migrate, the cost
// every Prodigy command pays before doing anything. The baseline is the least
// any SQLite tool pays: sqlite3_open_v2, read the schema version, close.
#include <sqlite3.h>

#include <span>

#include <fmt/format.h>

#include "data_gen.h"
#include "prodigy/storage.h"
#include "workloads.h"

namespace prodigy::bench {
namespace {

double RawOpen(const fs::path& db_path) {
  Stopwatch w;
  sqlite3* db = nullptr;
  sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, nullptr);
  if (sqlite3_step(st) != SQLITE_ROW) throw std::runtime_error("raw open: cannot read user_version");
  sqlite3_finalize(st);
  sqlite3_close(db);
  return w.Seconds();
}

}  // namespace

void RunOpen(const Sizes& sz, Table& t) {
  TempDir dir("open");
  const fs::path repo = MakeRepo(dir.path());
  const StorageConfig config = BenchConfig(dir.path(), true);
  {
    // A used repository: a few runs' events with their mirror files, a DLQ item.
    EventGenerator gen(6);
    std::vector<std::string> log_ids;
    const std::vector<std::string> lines = gen.Lines(20000, &log_ids);
    GlobalStorage s = GlobalStorage::OpenWithConfig(repo, config);
    for (size_t i = 0; i < lines.size();) {
      size_t j = i;
      while (j < lines.size() && j - i < 1000 && log_ids[j] == log_ids[i]) ++j;
      s.AppendEvents(log_ids[i], std::span(lines).subspan(i, j - i));
      i = j;
    }
    Rng rng(6);
    s.AddDlqItem("mapreduce-1758387792480", MakeDlqItem(rng, 1, EventGenerator::StartNs()).json);
  }
  const fs::path db_path = GlobalStorage::OpenWithConfig(repo, config).location().db_path;
  Progress(fmt::format("open: {} opens of a repository with nothing to migrate", sz.opens));
  // Earlier workloads leave gigabytes of dirty pages and deleted files: flush
  // them first, or the opens' metadata calls queue behind that writeback.
  Settle();
  std::vector<double> open_s, close_s, raw_s;
  for (int i = 0; i < sz.opens; ++i) {
    Stopwatch w;
    std::optional<GlobalStorage> s(GlobalStorage::OpenWithConfig(repo, config));
    open_s.push_back(w.Seconds());
    Stopwatch c;
    s.reset();
    close_s.push_back(c.Seconds());
    raw_s.push_back(RawOpen(db_path));
  }
  const double med = Median(open_s), p95 = Percentile(open_s, 95);
  const double raw_med = Median(raw_s), raw_p95 = Percentile(raw_s, 95);
  t.Add({"6 open, nothing to migrate", "OpenWithConfig, median", Ms(med),
         "sqlite3_open_v2 + user_version, median", Ms(raw_med), raw_med / med, "<= 5 ms", med <= 0.005});
  t.Add({"6 open, nothing to migrate", "OpenWithConfig, p95", Ms(p95), "sqlite3_open_v2 + user_version, p95",
         Ms(raw_p95), raw_p95 / p95, "<= 5 ms", p95 <= 0.005});
  t.Note(fmt::format("open: closing a GlobalStorage takes {} (median) on top", Ms(Median(close_s))));
}

}  // namespace prodigy::bench
