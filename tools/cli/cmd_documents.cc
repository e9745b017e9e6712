// state ls | show | history, sessions ls | show, checkpoints ls | show: the
// stored documents. `show` prints the document exactly as stored (it is JSON
// already, so --json prints the same); `ls` and `history` print tables or,
// with --json, the extracted fields.
#include "cli.h"
#include "output.h"

namespace prodigy::cli {
namespace {

void PrintDocument(const std::string& json) {
  std::fwrite(json.data(), 1, json.size(), stdout);
  std::fputc('\n', stdout);
}

Json StateJson(const JobState& s) {
  return Json{{"job_id", s.job_id},
              {"version", s.version},
              {"is_complete", s.is_complete},
              {"total_items", s.total_items},
              {"successful_count", s.successful_count},
              {"failed_count", s.failed_count},
              {"updated_at", s.updated_at},
              {"written_at", s.written_at}};
}

void PrintStates(const Context& ctx, const std::vector<JobState>& states, const char* key) {
  if (ctx.json()) {
    Json list = Json::array();
    for (const JobState& s : states) list.push_back(StateJson(s));
    PrintJson(Json{{key, list}});
    return;
  }
  Table table({"JOB", "VERSION", "COMPLETE", "ITEMS", "SUCCEEDED", "FAILED", "UPDATED"}, ctx.stdout_tty());
  for (const JobState& s : states) {
    table.Add({s.job_id, std::to_string(s.version), s.is_complete ? "yes" : "no",
               std::to_string(s.total_items), std::to_string(s.successful_count),
               std::to_string(s.failed_count), s.updated_at});
  }
}

[[noreturn]] void NoState(const std::string& job) {
  throw Error::NotFound(
      fmt::format("job {} has no stored state; list the jobs with "
                  "'prodigy-store state ls'",
                  job));
}

int RunStateLs(Context& ctx) {
  const auto states = ctx.Store().ListJobStates();
  if (states.empty() && !ctx.json()) {
    ctx.Note("no job states stored");
    return kExitOk;
  }
  PrintStates(ctx, states, "jobs");
  return kExitOk;
}

int RunStateShow(Context& ctx) {
  const std::string& job = ctx.positional()[0];
  const std::optional<int64_t> version = ctx.Count("version");
  GlobalStorage& store = ctx.Store();
  std::optional<JobState> state;
  if (version) {
    state = store.ReadStateVersion(job, *version);
    if (!state) {
      if (!store.ReadState(job)) NoState(job);
      std::string kept;
      for (const JobState& s : store.StateHistory(job))
        kept += (kept.empty() ? "" : ", ") + std::to_string(s.version);
      throw Error::NotFound(
          fmt::format("job {} has no kept version {}; kept versions: {}", job, *version, kept));
    }
  } else {
    state = store.ReadState(job);
    if (!state) NoState(job);
  }
  PrintDocument(state->json);
  return kExitOk;
}

int RunStateHistory(Context& ctx) {
  const std::string& job = ctx.positional()[0];
  const auto history = ctx.Store().StateHistory(job);
  if (history.empty()) NoState(job);
  PrintStates(ctx, history, "versions");
  return kExitOk;
}

int RunSessionsLs(Context& ctx) {
  const auto status = ctx.Str("status");
  const auto sessions =
      ctx.Store().ListSessions(status ? std::optional<std::string_view>(*status) : std::nullopt);
  if (ctx.json()) {
    Json list = Json::array();
    for (const Session& s : sessions) {
      list.push_back({{"session_id", s.session_id},
                      {"status", s.status},
                      {"started_at", s.started_at},
                      {"ended_at", s.ended_at},
                      {"working_directory", s.working_directory},
                      {"updated_at", s.updated_at}});
    }
    PrintJson(Json{{"sessions", list}});
    return kExitOk;
  }
  if (sessions.empty()) {
    ctx.Note("no sessions stored");
    return kExitOk;
  }
  Table table({"SESSION", "STATUS", "STARTED", "ENDED", "WORKING DIRECTORY"}, ctx.stdout_tty());
  for (const Session& s : sessions) {
    table.Add(
        {s.session_id, s.status, s.started_at, s.ended_at.empty() ? "-" : s.ended_at, s.working_directory});
  }
  return kExitOk;
}

int RunSessionsShow(Context& ctx) {
  const std::string& id = ctx.positional()[0];
  auto s = ctx.Store().LoadSession(id);
  if (!s) {
    throw Error::NotFound(
        fmt::format("session {} does not exist; list sessions with 'prodigy-store sessions ls'", id));
  }
  PrintDocument(s->json);
  return kExitOk;
}

int RunCheckpointsLs(Context& ctx) {
  const auto checkpoints = ctx.Store().ListCheckpoints();
  if (ctx.json()) {
    Json list = Json::array();
    for (const WorkflowCheckpoint& c : checkpoints) {
      list.push_back({{"workflow_id", c.workflow_id},
                      {"workflow_name", c.workflow_name},
                      {"status", c.status},
                      {"current_step_index", c.current_step_index},
                      {"total_steps", c.total_steps},
                      {"timestamp", c.timestamp},
                      {"updated_at", c.updated_at}});
    }
    PrintJson(Json{{"checkpoints", list}});
    return kExitOk;
  }
  if (checkpoints.empty()) {
    ctx.Note("no workflow checkpoints stored");
    return kExitOk;
  }
  Table table({"WORKFLOW", "STATUS", "STEP", "TIMESTAMP", "NAME"}, ctx.stdout_tty());
  for (const WorkflowCheckpoint& c : checkpoints) {
    table.Add({c.workflow_id, c.status, fmt::format("{}/{}", c.current_step_index, c.total_steps),
               c.timestamp, c.workflow_name.empty() ? "-" : c.workflow_name});
  }
  return kExitOk;
}

int RunCheckpointsShow(Context& ctx) {
  const std::string& id = ctx.positional()[0];
  auto c = ctx.Store().LoadCheckpoint(id);
  if (!c) {
    throw Error::NotFound(
        fmt::format("workflow checkpoint {} does not exist; list them with "
                    "'prodigy-store checkpoints ls'",
                    id));
  }
  PrintDocument(c->json);
  return kExitOk;
}

}  // namespace

std::vector<Command> DocumentCommands() {
  return {
      Command{
          .name = "state ls",
          .summary = "list MapReduce jobs with their newest stored state",
          .examples = {"prodigy-store state ls"},
          .run = RunStateLs,
      },
      Command{
          .name = "state show",
          .args = "JOB",
          .summary = "print a job's MapReduceJobState (newest, or --version N) as stored",
          .examples = {"prodigy-store state show mapreduce-1758387792480 | jq .pending_items",
                       "prodigy-store state show mapreduce-1758387792480 --version 2"},
          .min_args = 1,
          .max_args = 1,
          .options =
              [](cxxopts::Options& o) {
                o.add_options()("version", "a kept older version (see 'state history')",
                                cxxopts::value<std::string>(), "N");
              },
          .run = RunStateShow,
      },
      Command{
          .name = "state history",
          .args = "JOB",
          .summary = "list the kept versions of a job's state, newest first",
          .examples = {"prodigy-store state history mapreduce-1758387792480"},
          .min_args = 1,
          .max_args = 1,
          .run = RunStateHistory,
      },
      Command{
          .name = "sessions ls",
          .summary = "list sessions, most recently updated first",
          .examples = {"prodigy-store sessions ls --status InProgress"},
          .options =
              [](cxxopts::Options& o) {
                o.add_options()("status",
                                "only sessions with this status (InProgress, Completed, Failed, "
                                "Interrupted, ...)",
                                cxxopts::value<std::string>(), "STATUS");
              },
          .run = RunSessionsLs,
      },
      Command{
          .name = "sessions show",
          .args = "ID",
          .summary = "print a session document as stored",
          .examples = {"prodigy-store sessions show session-6feea3fd-8b9a-4891-9326-45ddd35fbd70"},
          .min_args = 1,
          .max_args = 1,
          .run = RunSessionsShow,
      },
      Command{
          .name = "checkpoints ls",
          .summary = "list workflow checkpoints, newest first",
          .examples = {"prodigy-store checkpoints ls"},
          .run = RunCheckpointsLs,
      },
      Command{
          .name = "checkpoints show",
          .args = "ID",
          .summary = "print a WorkflowCheckpoint document as stored",
          .examples = {"prodigy-store checkpoints show workflow-1758167434332 | jq .execution_state"},
          .min_args = 1,
          .max_args = 1,
          .run = RunCheckpointsShow,
      },
  };
}

}  // namespace prodigy::cli
