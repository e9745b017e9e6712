// dlq ls | show | stats | analyze | purge | export | retry | rm: the
// dead-letter queues of failed work items.
#include <algorithm>
#include <map>

#include "cli.h"
#include "export_format.h"
#include "output.h"
#include "parse.h"

namespace prodigy::cli {
namespace {

constexpr int64_t kHourNs = 3600LL * 1'000'000'000;
constexpr size_t kSampleItems = 3;

void RequireDlqJob(GlobalStorage& store, const std::string& job) {
  DlqFilter f;
  f.job_id = job;
  f.limit = 1;
  if (store.ListDlqItems(f).empty()) {
    throw Error::NotFound(
        fmt::format("job {} has no DLQ items; list the jobs that have some "
                    "with 'prodigy-store dlq ls'",
                    job));
  }
}

Json ItemJson(const DlqItem& d) {
  return Json{
      {"job_id", d.job_id},
      {"item_id", d.item_id},
      {"first_attempt", d.first_attempt},
      {"last_attempt", d.last_attempt},
      {"failure_count", d.failure_count},
      {"error_type", d.error_type},
      {"error_signature", d.error_signature},
      {"reprocess_eligible", d.reprocess_eligible},
      {"manual_review_required", d.manual_review_required},
      {"reprocess_requested_at", d.reprocess_requested_at ? Json(*d.reprocess_requested_at) : Json(nullptr)},
      {"updated_at", d.updated_at}};
}

int RunLs(Context& ctx) {
  DlqFilter f;
  f.job_id = ctx.Str("job");
  if (ctx.Flag("eligible")) f.reprocess_eligible = true;
  f.error_type = ctx.Str("error-type");
  f.error_signature = ctx.Str("signature");
  f.limit = ctx.Count("limit");
  const std::vector<DlqItem> items = ctx.Store().ListDlqItems(f);
  if (ctx.json()) {
    Json list = Json::array();
    for (const DlqItem& d : items) list.push_back(ItemJson(d));
    PrintJson(Json{{"items", list}});
    return kExitOk;
  }
  if (items.empty()) {
    ctx.Note("no DLQ items match");
    return kExitOk;
  }
  Table table({"JOB", "ITEM", "FAILURES", "LAST ATTEMPT", "TYPE", "RETRY", "SIGNATURE"}, ctx.stdout_tty());
  for (const DlqItem& d : items) {
    const std::string retry = d.reprocess_requested_at ? "requested"
                              : d.reprocess_eligible   ? "eligible"
                                                       : "no";
    table.Add({d.job_id, d.item_id, std::to_string(d.failure_count), d.last_attempt,
               d.error_type.empty() ? "-" : d.error_type, retry, d.error_signature});
  }
  return kExitOk;
}

int RunShow(Context& ctx) {
  const std::string& job = ctx.positional()[0];
  const std::string& item = ctx.positional()[1];
  auto d = ctx.Store().GetDlqItem(job, item);
  if (!d) {
    throw Error::NotFound(
        fmt::format("DLQ item {} of job {} does not exist; list the job's items "
                    "with 'prodigy-store dlq ls --job {}'",
                    item, job, job));
  }
  // The DeadLetteredItem as Prodigy wrote it (JSON with or without --json).
  std::fwrite(d->json.data(), 1, d->json.size(), stdout);
  std::fputc('\n', stdout);
  return kExitOk;
}

int RunStats(Context& ctx) {
  std::string job = ctx.positional().empty() ? "" : ctx.positional()[0];
  GlobalStorage& store = ctx.Store();
  if (!job.empty()) RequireDlqJob(store, job);
  const DlqStats s = store.GetDlqStats(job);
  if (ctx.json()) {
    Json cats = Json::array();
    for (const auto& g : s.error_categories) {
      cats.push_back({{"error_signature", g.key},
                      {"count", g.count},
                      {"percentage", PercentValue(g.count, s.total_items)}});
    }
    PrintJson(Json{{"job_id", job.empty() ? Json(nullptr) : Json(job)},
                   {"total_items", s.total_items},
                   {"eligible_for_reprocess", s.eligible_for_reprocess},
                   {"requiring_manual_review", s.requiring_manual_review},
                   {"marked_for_reprocess", s.marked_for_reprocess},
                   {"oldest_item", s.oldest_item ? Json(*s.oldest_item) : Json(nullptr)},
                   {"newest_item", s.newest_item ? Json(*s.newest_item) : Json(nullptr)},
                   {"error_categories", cats}});
    return kExitOk;
  }
  KeyValues kv;
  kv.Add("job", job.empty() ? "all jobs" : job);
  kv.Add("items", std::to_string(s.total_items));
  kv.Add("eligible for reprocess", std::to_string(s.eligible_for_reprocess));
  kv.Add("manual review required", std::to_string(s.requiring_manual_review));
  kv.Add("marked for reprocess", std::to_string(s.marked_for_reprocess));
  kv.Add("oldest first attempt", s.oldest_item.value_or("-"));
  kv.Add("newest last attempt", s.newest_item.value_or("-"));
  kv.Print();
  if (!s.error_categories.empty()) {
    std::printf("\n");
    Table table({"COUNT", "PERCENT", "ERROR SIGNATURE"}, ctx.stdout_tty());
    for (const auto& g : s.error_categories) {
      table.Add({std::to_string(g.count), Percent(g.count, s.total_items) + "%", g.key});
    }
  }
  return kExitOk;
}

struct Pattern {
  std::string signature;
  int64_t count = 0;
  std::optional<int64_t> first_ns;  // earliest first_attempt
  std::optional<int64_t> last_ns;   // latest last_attempt
  std::string first;
  std::string last;
  std::vector<std::string> samples;
};

int RunAnalyze(Context& ctx) {
  const std::string& job = ctx.positional()[0];
  GlobalStorage& store = ctx.Store();
  RequireDlqJob(store, job);
  DlqFilter f;
  f.job_id = job;
  // A job's DLQ is bounded (Prodigy capped it at 1 000 items), so it fits in memory.
  const std::vector<DlqItem> items = store.ListDlqItems(f);
  std::map<std::string, Pattern> by_signature;
  std::map<std::string, int64_t> by_type;
  std::map<int64_t, int64_t> by_hour;  // hour (ns, truncated) -> items
  int64_t no_time = 0;
  // Oldest first, so samples and first occurrences read in time order.
  for (auto it = items.rbegin(); it != items.rend(); ++it) {
    const DlqItem& d = *it;
    Pattern& p = by_signature[d.error_signature];
    p.signature = d.error_signature;
    ++p.count;
    if (p.samples.size() < kSampleItems) p.samples.push_back(d.item_id);
    if (auto first = ParseTimestamp(d.first_attempt); first && (!p.first_ns || *first < *p.first_ns)) {
      p.first_ns = first;
      p.first = d.first_attempt;
    }
    if (d.last_attempt_ns && (!p.last_ns || *d.last_attempt_ns > *p.last_ns)) {
      p.last_ns = d.last_attempt_ns;
      p.last = d.last_attempt;
    }
    ++by_type[d.error_type.empty() ? "(unknown)" : d.error_type];
    if (d.last_attempt_ns)
      ++by_hour[*d.last_attempt_ns / kHourNs * kHourNs];
    else
      ++no_time;
  }
  std::vector<Pattern> patterns;
  for (auto& [sig, p] : by_signature) patterns.push_back(std::move(p));
  std::stable_sort(patterns.begin(), patterns.end(),
                   [](const Pattern& a, const Pattern& b) { return a.count > b.count; });
  const int64_t total = static_cast<int64_t>(items.size());

  if (ctx.json()) {
    Json groups = Json::array();
    for (const Pattern& p : patterns) {
      groups.push_back({{"error_signature", p.signature},
                        {"count", p.count},
                        {"percentage", PercentValue(p.count, total)},
                        {"first_occurrence", p.first.empty() ? Json(nullptr) : Json(p.first)},
                        {"last_occurrence", p.last.empty() ? Json(nullptr) : Json(p.last)},
                        {"sample_items", p.samples}});
    }
    Json types = Json::array();
    for (const auto& [type, count] : by_type) types.push_back({{"error_type", type}, {"count", count}});
    Json hours = Json::array();
    for (const auto& [hour, count] : by_hour)
      hours.push_back({{"hour", FormatTimestamp(hour)}, {"count", count}});
    PrintJson(Json{{"job_id", job},
                   {"total_items", total},
                   {"pattern_groups", groups},
                   {"error_distribution", types},
                   {"hourly_histogram", hours}});
    return kExitOk;
  }
  std::printf("%s: %s, %s\n\n", job.c_str(), Plural(total, "item").c_str(),
              Plural(static_cast<int64_t>(patterns.size()), "error signature").c_str());
  {
    Table table({"COUNT", "PERCENT", "FIRST", "LAST", "SAMPLES", "ERROR SIGNATURE"}, ctx.stdout_tty());
    for (const Pattern& p : patterns) {
      std::string samples;
      for (const auto& s : p.samples) samples += (samples.empty() ? "" : ",") + s;
      table.Add({std::to_string(p.count), Percent(p.count, total) + "%", p.first.empty() ? "-" : p.first,
                 p.last.empty() ? "-" : p.last, samples, p.signature});
    }
  }
  std::printf("\n");
  {
    Table table({"ERROR TYPE", "COUNT"}, ctx.stdout_tty());
    for (const auto& [type, count] : by_type) table.Add({type, std::to_string(count)});
  }
  std::printf("\nlast attempts per hour (UTC):\n");
  int64_t peak = 1;
  for (const auto& [hour, count] : by_hour) peak = std::max(peak, count);
  {
    Table table({"HOUR", "COUNT", ""}, ctx.stdout_tty());
    for (const auto& [hour, count] : by_hour) {
      const std::string stamp = FormatTimestamp(hour).substr(0, 13) + ":00Z";
      table.Add({stamp, std::to_string(count), std::string(std::max<int64_t>(1, count * 40 / peak), '#')});
    }
  }
  if (no_time)
    std::printf("(%lld items without a parseable last_attempt)\n", static_cast<long long>(no_time));
  return kExitOk;
}

int RunPurge(Context& ctx) {
  const auto older = ctx.Str("older-than");
  if (!older) throw UsageError("--older-than D is required (e.g. --older-than 30d)");
  const int64_t cutoff = ParseTimeArg(*older, "--older-than");
  const std::string job = ctx.Str("job").value_or("");
  GlobalStorage& store = ctx.Store();
  if (!job.empty()) RequireDlqJob(store, job);
  const bool dry_run = ctx.Flag("dry-run");
  int64_t count = 0;
  if (dry_run) {
    DlqFilter f;
    if (!job.empty()) f.job_id = job;
    f.until_ns = cutoff;
    count = static_cast<int64_t>(store.ListDlqItems(f).size());
  } else {
    count = store.PurgeDlqItems(cutoff, job);
  }
  if (ctx.json()) {
    PrintJson(Json{{"dry_run", dry_run},
                   {"cutoff", FormatTimestamp(cutoff)},
                   {"job_id", job.empty() ? Json(nullptr) : Json(job)},
                   {dry_run ? "would_purge" : "purged", count}});
  } else {
    std::printf("%s %s with last attempt before %s%s\n", dry_run ? "would purge" : "purged",
                Plural(count, "DLQ item").c_str(), FormatTimestamp(cutoff).c_str(),
                job.empty() ? "" : (" of job " + job).c_str());
  }
  return kExitOk;
}

int RunExport(Context& ctx) {
  std::optional<std::string> job;
  if (!ctx.positional().empty()) job = ctx.positional()[0];
  const Format format = ParseFormat(ctx.Str("format").value_or("json"));
  GlobalStorage& store = ctx.Store();
  if (job) RequireDlqJob(store, *job);
  DlqFilter f;
  f.job_id = job;
  const std::vector<DlqItem> items = store.ListDlqItems(f);
  OutputSink sink(ctx.Str("out").value_or("-"));
  DocWriter writer(sink, format, DlqCsvHeader());
  for (const DlqItem& d : items) writer.Add(d.json, DlqCsv(d));
  writer.Finish();
  sink.Commit();
  if (!sink.is_stdout()) ctx.Note("exported {} to {}", Plural(writer.count(), "DLQ item"), *ctx.Str("out"));
  return kExitOk;
}

int RunRetry(Context& ctx) {
  const std::string& job = ctx.positional()[0];
  const std::vector<std::string> ids(ctx.positional().begin() + 1, ctx.positional().end());
  GlobalStorage& store = ctx.Store();
  RequireDlqJob(store, job);
  const int64_t marked = store.MarkDlqForReprocessing(job, ids);
  if (ctx.json()) {
    PrintJson(Json{{"job_id", job}, {"marked", marked}});
  } else {
    std::printf("marked %s of job %s for reprocessing\n", Plural(marked, "DLQ item").c_str(), job.c_str());
  }
  return kExitOk;
}

int RunRm(Context& ctx) {
  const std::string& job = ctx.positional()[0];
  const std::string& item = ctx.positional()[1];
  if (!ctx.Store().RemoveDlqItem(job, item)) {
    throw Error::NotFound(
        fmt::format("DLQ item {} of job {} does not exist; nothing was removed", item, job));
  }
  if (ctx.json())
    PrintJson(Json{{"job_id", job}, {"item_id", item}, {"removed", true}});
  else
    std::printf("removed DLQ item %s of job %s\n", item.c_str(), job.c_str());
  return kExitOk;
}

}  // namespace

std::vector<Command> DlqCommands() {
  return {
      Command{
          .name = "dlq ls",
          .summary = "list dead-lettered items, newest last attempt first",
          .examples = {"prodigy-store dlq ls --job mapreduce-1758387792480 --eligible --limit 20"},
          .options =
              [](cxxopts::Options& o) {
                o.add_options()("job", "only this job", cxxopts::value<std::string>(), "ID")(
                    "eligible", "only items eligible for reprocessing")(
                    "error-type", "only this error type (Timeout, CommandFailed, Unknown, ...)",
                    cxxopts::value<std::string>(),
                    "TYPE")("signature", "only signatures containing TEXT", cxxopts::value<std::string>(),
                            "TEXT")("limit", "at most N items", cxxopts::value<std::string>(), "N");
              },
          .run = RunLs,
      },
      Command{
          .name = "dlq show",
          .args = "JOB ITEM",
          .summary = "print one DeadLetteredItem document as Prodigy wrote it",
          .examples = {"prodigy-store dlq show mapreduce-1758387792480 item_2 | jq .failure_history"},
          .min_args = 2,
          .max_args = 2,
          .run = RunShow,
      },
      Command{
          .name = "dlq stats",
          .args = "[JOB]",
          .summary = "counts, eligibility and error signatures of one job's DLQ (or all)",
          .examples = {"prodigy-store dlq stats mapreduce-1758387792480"},
          .max_args = 1,
          .run = RunStats,
      },
      Command{
          .name = "dlq analyze",
          .args = "JOB",
          .summary = "group failures by error signature, with an hourly histogram",
          .details = "Each signature group has its count, first and last occurrence and up to 3\n"
                     "sample item ids; the histogram counts last attempts per UTC hour.",
          .examples = {"prodigy-store dlq analyze mapreduce-1758387792480",
                       "prodigy-store --json dlq analyze mapreduce-1758387792480 | jq '.pattern_groups[0]'"},
          .min_args = 1,
          .max_args = 1,
          .run = RunAnalyze,
      },
      Command{
          .name = "dlq purge",
          .summary = "remove DLQ items whose last attempt is older than D",
          .examples = {"prodigy-store dlq purge --older-than 30d --dry-run",
                       "prodigy-store dlq purge --older-than 7d --job mapreduce-1758387792480"},
          .options =
              [](cxxopts::Options& o) {
                o.add_options()("older-than", "a duration (30d, 12h) or an RFC 3339 time",
                                cxxopts::value<std::string>(),
                                "D")("job", "only this job", cxxopts::value<std::string>(), "ID")(
                    "dry-run", "count what would go; change nothing");
              },
          .run = RunPurge,
      },
      Command{
          .name = "dlq export",
          .args = "[JOB]",
          .summary = "write a job's DLQ items (JSON array of DeadLetteredItem, or CSV)",
          .examples = {"prodigy-store dlq export mapreduce-1758387792480 --out failed.json",
                       "prodigy-store dlq export mapreduce-1758387792480 --format csv > failed.csv"},
          .max_args = 1,
          .options =
              [](cxxopts::Options& o) {
                o.add_options()("format", "json (default), jsonl or csv", cxxopts::value<std::string>(),
                                "FORMAT")("out", "file to write (default: stdout)",
                                          cxxopts::value<std::string>(), "FILE");
              },
          .run = RunExport,
      },
      Command{
          .name = "dlq retry",
          .args = "JOB [ITEM...]",
          .summary = "mark items for reprocessing (all eligible items of the job without ITEM)",
          .examples = {"prodigy-store dlq retry mapreduce-1758387792480 item_2 item_7"},
          .min_args = 1,
          .max_args = -1,
          .run = RunRetry,
      },
      Command{
          .name = "dlq rm",
          .args = "JOB ITEM",
          .summary = "remove one DLQ item",
          .examples = {"prodigy-store dlq rm mapreduce-1758387792480 item_2"},
          .min_args = 2,
          .max_args = 2,
          .run = RunRm,
      },
  };
}

}  // namespace prodigy::cli
