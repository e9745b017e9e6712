// Workload 5: DLQ statistics from the database (GetDlqStats) against what
// Prodigy does: read every item file of its one-file-per-item layout
// (dlq/<repo>/<job>/mapreduce/dlq/<job>/items/<item>.json), parse it and
// compute the same statistics.
#include <fcntl.h>
#include <unistd.h>

#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "data_gen.h"
#include "prodigy/storage.h"
#include "store/rows.h"
#include "store/storage_impl.h"
#include "util/fs.h"
#include "workloads.h"

namespace prodigy::bench {
namespace {

constexpr int kJobs = 10;

std::string JobId(int k) { return fmt::format("mapreduce-{}", 1758387792480LL + k * 3600000LL); }

std::string ReadAll(const fs::path& p) {
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot read " + p.string());
  std::string s;
  char buf[16384];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) s.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return s;
}

// Prodigy's DeadLetterQueue::get_stats over load_all(): every item file read
// and parsed. Timestamps compare as text (one format throughout).
DlqStats FileStats(const fs::path& job_base, const std::vector<std::string>& jobs) {
  DlqStats st;
  std::map<std::string, int64_t> categories;
  for (const auto& job : jobs) {
    for (const auto& entry : fs::directory_iterator(job_base / job / "mapreduce" / "dlq" / job / "items")) {
      const nlohmann::json j = nlohmann::json::parse(ReadAll(entry.path()));
      ++st.total_items;
      if (j.at("reprocess_eligible").get<bool>()) ++st.eligible_for_reprocess;
      if (j.at("manual_review_required").get<bool>()) ++st.requiring_manual_review;
      const auto& first = j.at("first_attempt").get_ref<const std::string&>();
      const auto& last = j.at("last_attempt").get_ref<const std::string&>();
      if (!st.oldest_item || first < *st.oldest_item) st.oldest_item = first;
      if (!st.newest_item || last > *st.newest_item) st.newest_item = last;
      ++categories[j.at("error_signature").get<std::string>()];
    }
  }
  for (const auto& [k, v] : categories) st.error_categories.push_back({k, v});
  return st;
}

bool Same(const DlqStats& a, const DlqStats& b) {
  return a.total_items == b.total_items && a.eligible_for_reprocess == b.eligible_for_reprocess &&
         a.requiring_manual_review == b.requiring_manual_review && a.oldest_item == b.oldest_item &&
         a.newest_item == b.newest_item && a.error_categories.size() == b.error_categories.size();
}

}  // namespace

void RunDlq(const Sizes& sz, Table& t) {
  TempDir dir("dlq");
  const fs::path repo = MakeRepo(dir.path());
  const fs::path job_base = dir.path() / "prodigy" / "dlq" / "repo";
  std::vector<std::string> jobs;
  Progress(
      fmt::format("DLQ: writing {} items in {} jobs (database and Prodigy's files)", sz.dlq_items, kJobs));
  {
    GlobalStorage s = GlobalStorage::OpenWithConfig(repo, BenchConfig(dir.path(), false));
    Rng rng(5);
    const int per_job = static_cast<int>(sz.dlq_items / kJobs);
    for (int k = 0; k < kJobs; ++k) {
      const std::string job = JobId(k);
      jobs.push_back(job);
      const fs::path items = job_base / job / "mapreduce" / "dlq" / job / "items";
      fs::create_directories(items);
      std::vector<DlqItem> rows;
      std::string index = "{\n  \"item_count\": " + std::to_string(per_job) + ",\n  \"item_ids\": [";
      for (int i = 0; i < per_job; ++i) {
        const int64_t ts = EventGenerator::StartNs() + (static_cast<int64_t>(k) * per_job + i) * 40000000LL;
        const DlqDoc d = MakeDlqItem(rng, i, ts);
        internal::AtomicWriteFile(items / (d.item_id + ".json"), d.json);
        index += fmt::format("{}\n    \"{}\"", i ? "," : "", d.item_id);
        rows.push_back(internal::ExtractDlqItem(job, d.json));
      }
      index += fmt::format("\n  ],\n  \"job_id\": \"{}\",\n  \"updated_at\": \"{}\"\n}}", job,
                           FormatTimestamp(EventGenerator::StartNs()));
      internal::AtomicWriteFile(job_base / job / "mapreduce" / "dlq" / job / "index.json", index);
      internal::ImplOf(s).Write([&](engine::WriteTxn& txn) {
        for (const auto& r : rows) internal::UpsertDlqItem(txn, r);
      });
    }
  }
  const StorageConfig config = BenchConfig(dir.path(), true);
  struct Case {
    std::string name;
    std::string job;  // empty: all jobs
    std::vector<std::string> jobs;
  };
  const Case cases[] = {{"5 DLQ stats, all jobs", "", jobs},
                        {"5 DLQ stats, one job", jobs[kJobs / 2], {jobs[kJobs / 2]}}};
  for (const Case& c : cases) {
    Progress("DLQ: " + c.name);
    std::vector<double> ours, files;
    DlqStats a, b;
    for (int r = 0; r < sz.rounds; ++r) {
      Stopwatch w;
      GlobalStorage s = GlobalStorage::OpenWithConfig(repo, config);
      a = s.GetDlqStats(c.job);
      ours.push_back(w.Seconds());
      Stopwatch f;
      b = FileStats(job_base, c.jobs);
      files.push_back(f.Seconds());
    }
    const double o = Median(ours), p = Median(files);
    t.Add({c.name, fmt::format("GetDlqStats, open + query ({} items)", a.total_items), Ms(o),
           fmt::format("read + parse {} item files", b.total_items), Ms(p), p / o, "", std::nullopt});
    if (!Same(a, b)) t.Note(fmt::format("{}: the database and the files disagree: investigate", c.name));
  }
}

}  // namespace prodigy::bench
