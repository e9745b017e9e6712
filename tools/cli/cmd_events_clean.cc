// events clean: retention by age, count or size per job, with a dry run and
// an archive that is durable before a single event is deleted.
//
// Each job is planned in a pass over its events (two when a count or size
// limit needs the totals first). Removed are the events older than
// --older-than, plus the oldest events beyond --keep-last / --max-size. With
// --archive the removed records are written (gzip JSONL, verbatim) and
// fsync'd first; the deletes are then bounded by the highest seq seen while
// planning, so an event appended meanwhile is never removed unarchived.
#include <unistd.h>

#include <memory>
#include <set>

#include "archive.h"
#include "cli.h"
#include "output.h"
#include "parse.h"
#include "prodigy/backup.h"
#include "progress.h"

namespace prodigy::cli {
namespace {

struct Limits {
  std::optional<int64_t> older_than_ns;  // cutoff: ts_ns below it goes
  std::optional<int64_t> keep_last;
  std::optional<int64_t> max_size;
  bool by_position() const { return keep_last || max_size; }
};

struct JobPlan {
  std::string job_id;
  int64_t events = 0;
  int64_t bytes = 0;
  int64_t remove = 0;
  int64_t remove_bytes = 0;
  int64_t last_seq = 0;                   // deletes never reach past it
  std::optional<int64_t> first_kept_seq;  // by position: everything before it goes
};

int64_t LineBytes(const Event& e) { return static_cast<int64_t>(e.json.size()) + 1; }

JobPlan PlanJob(GlobalStorage& store, const std::string& job, const Limits& limits, GzipArchive* archive,
                Progress& progress) {
  JobPlan plan;
  plan.job_id = job;
  EventQuery all;
  all.job_id = job;
  if (limits.by_position()) {
    store.ForEachEvent(all, [&](const Event& e) {
      ++plan.events;
      plan.bytes += LineBytes(e);
      plan.last_seq = e.seq;
      return true;
    });
    all.before_seq = plan.last_seq + 1;
  } else {
    plan.events = store.CountEvents(all);
    all.until_ns = limits.older_than_ns;  // only the old ones need a look
  }
  int64_t index = 0;
  int64_t bytes_before = 0;
  store.ForEachEvent(all, [&](const Event& e) {
    bool by_position = false;
    if (limits.by_position()) {
      by_position = (limits.keep_last && index < plan.events - *limits.keep_last) ||
                    (limits.max_size && plan.bytes - bytes_before > *limits.max_size);
      if (!by_position && !plan.first_kept_seq) plan.first_kept_seq = e.seq;
    } else {
      plan.last_seq = e.seq;
    }
    const bool by_age = limits.older_than_ns && e.ts_ns && *e.ts_ns < *limits.older_than_ns;
    if (by_position || by_age) {
      ++plan.remove;
      plan.remove_bytes += LineBytes(e);
      if (archive) archive->WriteLine(e.json);
    }
    ++index;
    bytes_before += LineBytes(e);
    progress.Update(index, plan.events);
    return true;
  });
  if (limits.by_position() && !plan.first_kept_seq) plan.first_kept_seq = plan.last_seq + 1;
  if (!limits.by_position()) plan.bytes = -1;  // not measured
  return plan;
}

int64_t Apply(GlobalStorage& store, const JobPlan& plan, const Limits& limits) {
  if (plan.remove == 0) return 0;
  int64_t deleted = 0;
  if (plan.first_kept_seq) {
    EventQuery q;
    q.job_id = plan.job_id;
    q.before_seq = *plan.first_kept_seq;
    deleted += store.DeleteEvents(q);
  }
  if (limits.older_than_ns) {
    EventQuery q;
    q.job_id = plan.job_id;
    q.until_ns = limits.older_than_ns;
    q.before_seq = plan.last_seq + 1;
    deleted += store.DeleteEvents(q);
  }
  return deleted;
}

// Removing imported rows makes those imports unprovable: say so before it happens.
void WarnAboutImports(const Context& ctx, GlobalStorage& store, const std::vector<JobPlan>& plans,
                      bool dry_run) {
  std::set<std::string> imported;
  for (const ImportRecord& r : ListImports(store)) {
    if (r.kind == "events" || r.kind == "events_archive") imported.insert(r.job_id);
  }
  for (const JobPlan& p : plans) {
    if (p.remove == 0 || imported.count(p.job_id) == 0) continue;
    ctx.Note(
        "note: job {} holds events imported from legacy files; {} 'prodigy-store check' reports those "
        "imports as changed and 'export --legacy' cannot rebuild them byte for byte",
        p.job_id, dry_run ? "after removing some," : "with some removed,");
  }
}

int RunClean(Context& ctx) {
  Limits limits;
  if (auto d = ctx.Str("older-than")) limits.older_than_ns = NowNs() - ParseDuration(*d, "--older-than");
  limits.keep_last = ctx.Count("keep-last");
  if (auto s = ctx.Str("max-size")) limits.max_size = ParseSize(*s, "--max-size");
  if (!limits.older_than_ns && !limits.by_position()) {
    throw UsageError("say what to remove: --older-than D, --keep-last N and/or --max-size SIZE");
  }
  const bool dry_run = ctx.Flag("dry-run");
  const std::optional<std::string> archive_path = ctx.Str("archive");

  GlobalStorage& store = ctx.Store();
  std::vector<std::string> jobs = ctx.Strs("job");
  if (jobs.empty()) {
    for (const auto& j : store.ListEventJobs()) jobs.push_back(j.job_id);
  } else {
    for (const std::string& job : jobs) {
      EventQuery q;
      q.job_id = job;
      if (store.CountEvents(q) == 0) {
        throw Error::NotFound(
            fmt::format("job {} has no events; list the jobs with 'prodigy-store events ls'", job));
      }
    }
  }

  std::unique_ptr<GzipArchive> archive;
  // An s3:// archive is written beside the database first, then uploaded
  // and read back before any delete; the local file goes afterwards.
  const bool upload = archive_path && IsS3Url(*archive_path);
  if (archive_path && !dry_run) {
    archive = std::make_unique<GzipArchive>(
        upload ? store.location().dir / fmt::format(".archive-upload-{}.jsonl.gz", ::getpid())
               : std::filesystem::path(*archive_path));
  }
  struct RemoveLocal {
    const GzipArchive* archive;
    bool active;
    ~RemoveLocal() {
      std::error_code ec;
      if (active && archive) std::filesystem::remove(archive->path(), ec);
    }
  } remove_local{archive.get(), upload};
  const std::string archive_name = upload ? *archive_path : archive ? archive->path().string() : "";
  std::vector<JobPlan> plans;
  {
    Progress progress(ctx.show_progress(), "");
    for (const std::string& job : jobs) {
      progress.Phase("planning " + job, ProgressUnit::kRows);
      plans.push_back(PlanJob(store, job, limits, archive.get(), progress));
    }
    progress.Finish();
  }
  int64_t planned = 0;
  int64_t planned_bytes = 0;
  for (const JobPlan& p : plans) {
    planned += p.remove;
    planned_bytes += p.remove_bytes;
  }
  WarnAboutImports(ctx, store, plans, dry_run);
  int64_t deleted = 0;
  if (!dry_run) {
    // The archive is on disk (fsync'd, renamed into place) before any delete.
    if (archive) archive->Commit();
    if (archive && upload) UploadVerified(archive->path(), *archive_path);
    for (const JobPlan& p : plans) deleted += Apply(store, p, limits);
  }

  if (ctx.json()) {
    Json list = Json::array();
    for (const JobPlan& p : plans) {
      list.push_back({{"job_id", p.job_id},
                      {"events", p.events},
                      {"removed", p.remove},
                      {"removed_bytes", p.remove_bytes},
                      {"kept", p.events - p.remove}});
    }
    PrintJson(Json{{"dry_run", dry_run},
                   {"archive", archive ? Json(archive_name) : Json(nullptr)},
                   {"archived", archive ? archive->lines() : 0},
                   {"planned", planned},
                   {"removed", deleted},
                   {"removed_bytes", dry_run ? 0 : planned_bytes},
                   {"jobs", list}});
  } else {
    {
      Table table({"JOB", "EVENTS", dry_run ? "WOULD REMOVE" : "REMOVE", "BYTES", "KEEP"}, ctx.stdout_tty());
      for (const JobPlan& p : plans) {
        table.Add({p.job_id, std::to_string(p.events), std::to_string(p.remove), HumanBytes(p.remove_bytes),
                   std::to_string(p.events - p.remove)});
      }
    }
    if (dry_run) {
      std::printf("dry run: %lld events (%s) would be removed; nothing was changed\n",
                  static_cast<long long>(planned), HumanBytes(planned_bytes).c_str());
    } else {
      std::printf(
          "removed %lld events (%s)%s\n", static_cast<long long>(deleted), HumanBytes(planned_bytes).c_str(),
          archive ? fmt::format("; archived {} records to {}", archive->lines(), archive_name).c_str() : "");
    }
  }
  if (!dry_run && deleted != planned) {
    ctx.Note("note: {} events were planned but {} deleted; another process changed the log meanwhile",
             planned, deleted);
  }
  return kExitOk;
}

}  // namespace

Command EventsCleanCommand() {
  return Command{
      .name = "events clean",
      .summary = "remove old events by age, count or size per job (--dry-run shows what would go)",
      .details =
          "An event goes when it is older than --older-than, or when it is among a job's\n"
          "oldest events beyond --keep-last N or beyond --max-size bytes of JSONL. Events\n"
          "without a parseable timestamp are never removed by age. With --archive FILE\n"
          "the removed records are first written to FILE (gzip JSONL, verbatim) and\n"
          "fsync'd; FILE must not exist yet.",
      .examples = {"prodigy-store events clean --older-than 30d --dry-run",
                   "prodigy-store events clean --keep-last 10000 --archive events-2025-09.jsonl.gz"},
      .options =
          [](cxxopts::Options& o) {
            o.add_options()("job", "only this job (repeatable; default: every job)",
                            cxxopts::value<std::vector<std::string>>(),
                            "ID")("older-than", "remove events older than D (30m, 12h, 30d, 2w)",
                                  cxxopts::value<std::string>(), "D")(
                "keep-last", "keep only the newest N events of each job", cxxopts::value<std::string>(), "N")(
                "max-size", "keep each job's newest events within SIZE bytes of JSONL (100MB, 1GiB)",
                cxxopts::value<std::string>(),
                "SIZE")("dry-run", "show what would be removed; change nothing")(
                "archive",
                "first write the removed records to FILE (gzip JSONL), or to s3://bucket/key (uploaded and "
                "read back before anything is deleted)",
                cxxopts::value<std::string>(), "FILE");
          },
      .run = RunClean,
  };
}

}  // namespace prodigy::cli
