// events ls | show | tail [-f] | stats: queries over the event logs, on the
// real EventRecord schema (event types in any spelling Prodigy users meet).
// events clean is in cmd_events_clean.cc.
#include <algorithm>
#include <chrono>
#include <thread>

#include "cli.h"
#include "events_view.h"
#include "output.h"
#include "parse.h"

namespace prodigy::cli {

// cmd_events_clean.cc
Command EventsCleanCommand();

namespace {

void AddFilterOptions(cxxopts::Options& options) {
  options.add_options()("type",
                        "event type: agent_completed, AgentCompleted, dlq_item_added, d_l_q_item_added, ... "
                        "(repeat or comma-separate for several)",
                        cxxopts::value<std::vector<std::string>>(),
                        "TYPE")("agent", "only events of this agent id", cxxopts::value<std::string>(), "ID")(
      "since", "only events at or after: a duration ago (10m, 2h, 7d) or RFC 3339 time",
      cxxopts::value<std::string>(), "WHEN")("until", "only events before: a duration ago or RFC 3339 time",
                                             cxxopts::value<std::string>(), "WHEN");
}

EventQuery QueryFromOptions(Context& ctx, std::optional<std::string> job) {
  EventQuery q;
  q.job_id = std::move(job);
  for (const std::string& t : ctx.Strs("type")) {
    if (NormalizeEventType(t).empty()) throw UsageError(fmt::format("--type '{}' is not an event type", t));
    q.types.push_back(t);
  }
  q.agent_id = ctx.Str("agent");
  if (auto since = ctx.Str("since")) q.since_ns = ParseTimeArg(*since, "--since");
  if (auto until = ctx.Str("until")) q.until_ns = ParseTimeArg(*until, "--until");
  return q;
}

EventPrinter::Mode PrintMode(const Context& ctx) {
  if (ctx.Flag("raw")) {
    if (ctx.json()) throw UsageError("--raw and --json exclude each other");
    return EventPrinter::Mode::kRaw;
  }
  return ctx.json() ? EventPrinter::Mode::kJson : EventPrinter::Mode::kTable;
}

// A job with no events at all is almost always a typo: say so (exit 1).
void RequireEventJob(GlobalStorage& store, const std::string& job) {
  EventQuery q;
  q.job_id = job;
  q.limit = 1;
  Event e;
  if (!store.QueryEvents(q).Next(&e)) {
    throw Error::NotFound(
        fmt::format("job {} has no events in {}; list the jobs with "
                    "'prodigy-store events ls'",
                    job, store.Where()));
  }
}

int RunLs(Context& ctx) {
  const std::vector<EventJobSummary> jobs = ctx.Store().ListEventJobs();
  if (ctx.json()) {
    Json list = Json::array();
    for (const auto& j : jobs) {
      list.push_back({{"job_id", j.job_id},
                      {"events", j.events},
                      {"first_timestamp", j.first_timestamp},
                      {"last_timestamp", j.last_timestamp},
                      {"status", j.status}});
    }
    PrintJson(Json{{"jobs", list}});
    return kExitOk;
  }
  if (jobs.empty()) {
    ctx.Note("no event logs in {}", ctx.Store().Where());
    return kExitOk;
  }
  Table table({"JOB", "EVENTS", "FIRST", "LAST", "STATUS"}, ctx.stdout_tty());
  for (const auto& j : jobs) {
    table.Add({j.job_id, std::to_string(j.events), j.first_timestamp, j.last_timestamp, j.status});
  }
  return kExitOk;
}

int RunShow(Context& ctx) {
  const std::string job = ctx.positional()[0];
  // Options first: a usage error must not depend on the store.
  EventQuery q = QueryFromOptions(ctx, job);
  q.limit = ctx.Count("limit");
  EventPrinter printer(PrintMode(ctx), ctx.stdout_tty(), false);
  GlobalStorage& store = ctx.Store();
  RequireEventJob(store, job);
  store.ForEachEvent(q, [&](const Event& e) {
    printer.Print(e);
    return true;
  });
  printer.Flush();
  if (printer.printed() == 0) ctx.Note("no events of job {} match", job);
  return kExitOk;
}

int RunTail(Context& ctx) {
  const std::string job = ctx.positional()[0];
  const bool follow = ctx.Flag("follow");
  EventQuery q = QueryFromOptions(ctx, job);
  const int64_t lines = ctx.Count("lines").value_or(10);
  EventPrinter printer(PrintMode(ctx), ctx.stdout_tty(), false);
  GlobalStorage& store = ctx.Store();
  // Following a job that has not started yet is fine: wait for its events.
  if (!follow) RequireEventJob(store, job);

  // The last `lines` matches (reads only those rows; with 0, the newest one
  // tells where following starts).
  const std::vector<Event> last = store.LastEvents(q, std::max<int64_t>(lines, 1));
  int64_t last_seq = last.empty() ? 0 : last.back().seq;
  if (lines > 0) {
    for (const Event& e : last) printer.Print(e);
  }
  printer.Flush();
  if (!follow) return kExitOk;

  // New events from any process: woken by a Redis notification when
  // redis_url is configured, else by the engine's own wait (polling on
  // SQLite, LISTEN/NOTIFY on PostgreSQL).
  EventWaiter waiter(store, std::chrono::milliseconds(200));
  int64_t repo_seq = std::max(last_seq, waiter.LastSeq());
  for (;;) {
    if (!waiter.Wait(repo_seq, std::chrono::seconds(60))) continue;
    repo_seq = waiter.LastSeq();
    q.after_seq = last_seq;
    EventCursor cursor = store.QueryEvents(q);
    Event e;
    while (cursor.Next(&e)) printer.Print(e);
    if (cursor.last_seq() > last_seq) last_seq = cursor.last_seq();
    printer.Flush();
  }
}

Json GroupsJson(const std::vector<GroupCount>& groups, int64_t total) {
  Json list = Json::array();
  for (const auto& g : groups) {
    list.push_back({{"key", g.key}, {"count", g.count}, {"percentage", PercentValue(g.count, total)}});
  }
  return list;
}

void PrintGroups(const Context& ctx, const std::string& title, const std::vector<GroupCount>& groups,
                 int64_t total) {
  std::printf("\n");
  Table table({title, "COUNT", "PERCENT"}, ctx.stdout_tty());
  for (const auto& g : groups) {
    table.Add({g.key.empty() ? "(none)" : g.key, std::to_string(g.count), Percent(g.count, total) + "%"});
  }
}

int RunStats(Context& ctx) {
  std::optional<std::string> job;
  if (!ctx.positional().empty()) job = ctx.positional()[0];
  const EventQuery q = QueryFromOptions(ctx, job);
  GlobalStorage& store = ctx.Store();
  if (job) RequireEventJob(store, *job);
  const int64_t total = store.CountEvents(q);
  const auto by_type = store.GroupEvents(q, EventGroupBy::kType);
  const auto by_agent = store.GroupEvents(q, EventGroupBy::kAgent);
  std::vector<GroupCount> by_job;
  if (!job) by_job = store.GroupEvents(q, EventGroupBy::kJob);
  if (ctx.json()) {
    Json j;
    j["job_id"] = job ? Json(*job) : Json(nullptr);
    j["total"] = total;
    j["by_type"] = GroupsJson(by_type, total);
    j["by_agent"] = GroupsJson(by_agent, total);
    if (!job) j["by_job"] = GroupsJson(by_job, total);
    PrintJson(j);
    return kExitOk;
  }
  std::printf("%s: %lld events\n", job ? job->c_str() : "all jobs", static_cast<long long>(total));
  if (total == 0) return kExitOk;
  PrintGroups(ctx, "TYPE", by_type, total);
  PrintGroups(ctx, "AGENT", by_agent, total);
  if (!job) PrintGroups(ctx, "JOB", by_job, total);
  return kExitOk;
}

void AddOutputOptions(cxxopts::Options& options) {
  options.add_options()("raw", "print the records verbatim (the events.jsonl lines)");
}

}  // namespace

std::vector<Command> EventsCommands() {
  return {
      Command{
          .name = "events ls",
          .summary = "list the event logs (jobs) with counts, time range and status",
          .details = "Status comes from the job's own events: failed (job_failed), completed\n"
                     "(job_completed), in_progress (job_started only) or unknown.",
          .examples = {"prodigy-store events ls", "prodigy-store --json events ls | jq -r '.jobs[].job_id'"},
          .run = RunLs,
      },
      Command{
          .name = "events show",
          .args = "JOB",
          .summary = "show a job's events, filtered by type, agent and time",
          .details = "--json prints one JSON object per line (JSONL) with the record verbatim under\n"
                     "\"record\"; --raw prints the records exactly as stored.",
          .examples =
              {"prodigy-store events show mapreduce-20250920_170312 --type agent_completed --since 2h",
               "prodigy-store events show mapreduce-20250920_170312 --raw | jq .event.event_type"},
          .min_args = 1,
          .max_args = 1,
          .options =
              [](cxxopts::Options& o) {
                AddFilterOptions(o);
                o.add_options()("limit", "at most N events (the first N matches)",
                                cxxopts::value<std::string>(), "N");
                AddOutputOptions(o);
              },
          .run = RunShow,
      },
      Command{
          .name = "events tail",
          .args = "JOB",
          .summary = "show a job's last events; -f keeps following new ones",
          .details = "With -f, events appended by other processes (Prodigy agents) appear within\n"
                     "about 200 ms; stop with Ctrl-C.",
          .examples = {"prodigy-store events tail -f mapreduce-20250920_170312",
                       "prodigy-store events tail -n 50 --type agent_failed mapreduce-20250920_170312"},
          .min_args = 1,
          .max_args = 1,
          .options =
              [](cxxopts::Options& o) {
                AddFilterOptions(o);
                o.add_options()("n,lines", "how many of the last events to show (default 10)",
                                cxxopts::value<std::string>(), "N")("f,follow", "keep printing new events");
                AddOutputOptions(o);
              },
          .run = RunTail,
      },
      Command{
          .name = "events stats",
          .args = "[JOB]",
          .summary = "count events by type and by agent (and by job without JOB), with percentages",
          .examples = {"prodigy-store events stats mapreduce-20250920_170312",
                       "prodigy-store --json events stats --since 7d"},
          .max_args = 1,
          .options = AddFilterOptions,
          .run = RunStats,
      },
      EventsCleanCommand(),
  };
}

}  // namespace prodigy::cli
