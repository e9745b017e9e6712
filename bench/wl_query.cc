// Workload 4: queries on a repository of many MapReduce runs: the library
// (including the open every command pays) against jq over the JSONL mirror
// files, which is what users run today. Both must return the same results.
#include <algorithm>
#include <numeric>
#include <span>

#include <fmt/format.h>

#include "data_gen.h"
#include "prodigy/storage.h"
#include "workloads.h"

namespace prodigy::bench {
namespace {

struct Query {
  std::string name;
  // Our side: returns the number of results (events or groups), or the count.
  std::function<int64_t(GlobalStorage&)> ours;
  std::vector<std::string> jq_args;  // jq filter and options, then files
  bool all_files = false;            // jq reads every log (slow: fewer runs)
  std::string program = "jq";        // the baseline program (tail for `events tail`)
};

int64_t CountLines(const std::string& s) { return std::count(s.begin(), s.end(), '\n'); }

// Lines of events as the CLI would print them.
int64_t Emit(GlobalStorage& s, const EventQuery& q) {
  std::string out;
  int64_t n = 0;
  EventCursor c = s.QueryEvents(q);
  for (Event e; c.Next(&e); ++n) {
    out += e.json;
    out += '\n';
  }
  return n;
}

}  // namespace

void RunQueries(const Sizes& sz, Table& t) {
  TempDir dir("query");
  const fs::path repo = MakeRepo(dir.path());
  std::vector<std::string> job_ids;
  int64_t first_ns = 0, last_ns = 0;
  {
    Progress(fmt::format("queries: loading {} events", sz.query_events));
    EventGenerator gen(4);
    first_ns = EventGenerator::StartNs();
    std::vector<std::string> log_ids;
    const std::vector<std::string> lines = gen.Lines(sz.query_events, &log_ids);
    last_ns = gen.now_ns();
    GlobalStorage s = GlobalStorage::OpenWithConfig(repo, BenchConfig(dir.path(), false));
    Stopwatch load;
    for (size_t i = 0; i < lines.size();) {
      size_t j = i;
      while (j < lines.size() && j - i < 5000 && log_ids[j] == log_ids[i]) ++j;
      s.AppendEvents(log_ids[i], std::span(lines).subspan(i, j - i));
      if (job_ids.empty() || job_ids.back() != log_ids[i]) job_ids.push_back(log_ids[i]);
      i = j;
    }
    const double load_s = load.Seconds();
    GlobalStorage m = GlobalStorage::OpenWithConfig(repo, BenchConfig(dir.path(), true));
    Stopwatch mirror;
    m.RegenerateMirrors();
    t.Note(
        fmt::format("queries: {} events in {} jobs ({:.0f} MB of JSONL) loaded with AppendEvents x5000 "
                    "(mirrors off) at {}; mirrors regenerated in {}",
                    lines.size(), job_ids.size(), BytesOf(dir.path() / "store" / "repo" / "events") / 1e6,
                    Rate(static_cast<double>(lines.size()) / load_s, " events/s"), Ms(mirror.Seconds())));
  }
  const fs::path events_dir = dir.path() / "store" / "repo" / "events";
  const std::string job = job_ids[job_ids.size() / 2];
  const std::string job_file = (events_dir / job / "events.jsonl").string();
  std::vector<std::string> all_files;
  for (const auto& j : job_ids) all_files.push_back((events_dir / j / "events.jsonl").string());

  const std::string agent = AgentId(7);
  const int64_t since = first_ns + (last_ns - first_ns) / 4;
  const int64_t until = first_ns + (last_ns - first_ns) * 3 / 4;
  std::vector<Query> queries;
  queries.push_back({"events of one job",
                     [&](GlobalStorage& s) {
                       EventQuery q;
                       q.job_id = job;
                       return Emit(s, q);
                     },
                     {"-c", ".", job_file}});
  queries.push_back(
      {"type + agent + time window, all jobs",
       [&](GlobalStorage& s) {
         EventQuery q;
         q.types = {"agent_completed"};
         q.agent_id = agent;
         q.since_ns = since;
         q.until_ns = until;
         return Emit(s, q);
       },
       {"-c", "--arg", "a", agent, "--arg", "s", FormatTimestamp(since), "--arg", "u", FormatTimestamp(until),
        R"(select(.event.event_type=="agent_completed" and .event.agent_id==$a and .timestamp>=$s and .timestamp<$u))"},
       true});
  queries.push_back({"count agent_failed of one job",
                     [&](GlobalStorage& s) {
                       EventQuery q;
                       q.job_id = job;
                       q.types = {"agent_failed"};
                       return s.CountEvents(q);
                     },
                     {"-n", R"([inputs|select(.event.event_type=="agent_failed")]|length)", job_file}});
  // `events tail JOB`: the last 10 records, what `tail -n 10` gives of the mirror.
  queries.push_back({"last 10 of one job (events tail)",
                     [&](GlobalStorage& s) {
                       EventQuery q;
                       q.job_id = job;
                       return static_cast<int64_t>(s.LastEvents(q, 10).size());
                     },
                     {"-n", "10", job_file},
                     false,
                     "tail"});
  queries.push_back(
      {"stats by type, all jobs",
       [&](GlobalStorage& s) { return static_cast<int64_t>(s.GroupEvents({}, EventGroupBy::kType).size()); },
       {"-c", "-n", "reduce inputs as $e ({}; .[$e.event.event_type] += 1) | to_entries[]"},
       true});
  for (auto& q : queries) {
    if (q.all_files) q.jq_args.insert(q.jq_args.end(), all_files.begin(), all_files.end());
  }

  const bool have_jq = HaveProgram("jq");
  if (!have_jq) t.Note("jq is not installed: the jq baselines were skipped (apt-get install jq)");
  const StorageConfig config = BenchConfig(dir.path(), true);
  for (const Query& q : queries) {
    Progress("queries: " + q.name);
    const int ours_runs = std::max(5, sz.rounds);
    const int jq_runs = q.all_files && sz.mode == "full" ? 1 : 3;
    std::vector<double> ours, theirs;
    int64_t ours_n = -1, jq_n = -1;
    for (int r = 0; r < ours_runs; ++r) {
      Stopwatch w;
      GlobalStorage s = GlobalStorage::OpenWithConfig(repo, config);
      ours_n = q.ours(s);
      ours.push_back(w.Seconds());
      if (have_jq && r < jq_runs) {
        std::vector<std::string> argv = {q.program};
        argv.insert(argv.end(), q.jq_args.begin(), q.jq_args.end());
        const ChildResult res = RunProcess(argv);
        if (res.exit_code != 0) throw std::runtime_error("jq failed for query: " + q.name);
        theirs.push_back(res.seconds);
        jq_n = q.name.rfind("count", 0) == 0 ? std::stoll(res.out) : CountLines(res.out);
      }
    }
    const double o = Median(ours);
    if (!have_jq) {
      t.Add({"4 query: " + q.name, "library (open + query)", Ms(o), "jq over mirror", "n/a", std::nullopt, "",
             std::nullopt});
      continue;
    }
    const double j = Median(theirs);
    const bool filtered = q.name.rfind("type + agent", 0) == 0;
    t.Add({"4 query: " + q.name, fmt::format("library, open + query ({} results)", ours_n), Ms(o),
           fmt::format("{} over mirror ({} results)", q.program, jq_n), Ms(j), j / o,
           filtered ? ">= 100x" : "", filtered ? std::optional<bool>(j / o >= 100) : std::nullopt});
    if (ours_n != jq_n) {
      t.Note(fmt::format("query '{}': the library returned {} results and jq {}: investigate", q.name, ours_n,
                         jq_n));
    }
  }
}

}  // namespace prodigy::bench
