// export: the stored documents in JSONL, JSON or CSV; --mirrors rewrites the
// mirror files from the database; --legacy rebuilds imported originals.
#include <algorithm>

#include "cli.h"
#include "export_format.h"
#include "output.h"
#include "progress.h"

namespace prodigy::cli {

// cmd_migrate.cc
int RunExportLegacy(Context& ctx, const std::filesystem::path& dir);

namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kKinds = {"events", "dlq", "state", "sessions", "checkpoints"};

bool JobScoped(const std::string& kind) { return kind == "events" || kind == "dlq" || kind == "state"; }

// Writes one kind; returns the number of documents.
int64_t ExportKind(GlobalStorage& store, const std::string& kind, const std::optional<std::string>& job,
                   Format format, OutputSink& sink, Progress& progress) {
  progress.Phase("exporting " + kind, ProgressUnit::kRows);
  if (kind == "events") {
    DocWriter w(sink, format, EventCsvHeader());
    EventQuery q;
    q.job_id = job;
    store.ForEachEvent(q, [&](const Event& e) {
      w.Add(e.json, EventCsv(e));
      progress.Update(w.count());
      return true;
    });
    w.Finish();
    return w.count();
  }
  if (kind == "dlq") {
    DocWriter w(sink, format, DlqCsvHeader());
    DlqFilter f;
    f.job_id = job;
    for (const DlqItem& d : store.ListDlqItems(f)) w.Add(d.json, DlqCsv(d));
    w.Finish();
    return w.count();
  }
  if (kind == "state") {
    DocWriter w(sink, format, StateCsvHeader());
    std::vector<std::string> jobs;
    if (job)
      jobs.push_back(*job);
    else
      for (const JobState& s : store.ListJobStates()) jobs.push_back(s.job_id);
    // Every kept version, newest first per job.
    for (const std::string& j : jobs) {
      for (const JobState& s : store.StateHistory(j)) w.Add(s.json, StateCsv(s));
    }
    w.Finish();
    return w.count();
  }
  if (kind == "sessions") {
    DocWriter w(sink, format, SessionCsvHeader());
    for (const Session& s : store.ListSessions()) w.Add(s.json, SessionCsv(s));
    w.Finish();
    return w.count();
  }
  DocWriter w(sink, format, CheckpointCsvHeader());
  for (const WorkflowCheckpoint& c : store.ListCheckpoints()) w.Add(c.json, CheckpointCsv(c));
  w.Finish();
  return w.count();
}

int RunExport(Context& ctx) {
  const bool mirrors = ctx.Flag("mirrors");
  const auto legacy = ctx.Str("legacy");
  const auto job = ctx.Str("job");
  const auto kind = ctx.Str("kind");
  const auto format_text = ctx.Str("format");
  const auto out = ctx.Str("out");
  if (mirrors + legacy.has_value() > 1 || ((mirrors || legacy) && (job || kind || format_text || out))) {
    throw UsageError("--mirrors and --legacy DIR stand alone: no --job, --kind, --format or --out");
  }
  if (mirrors) {
    GlobalStorage& store = ctx.Store();
    store.RegenerateMirrors();
    if (ctx.json()) {
      PrintJson(Json{{"mirrors_regenerated", true}, {"repo_dir", store.location().dir.string()}});
    } else {
      std::printf("regenerated the mirror files under %s\n", store.location().dir.c_str());
    }
    return kExitOk;
  }
  if (legacy) return RunExportLegacy(ctx, *legacy);

  if (kind && std::find(kKinds.begin(), kKinds.end(), *kind) == kKinds.end()) {
    throw UsageError(
        fmt::format("--kind '{}' is not one of events, dlq, state, sessions, checkpoints", *kind));
  }
  if (kind && job && !JobScoped(*kind)) {
    throw UsageError(fmt::format("--job applies to events, dlq and state, not to {}", *kind));
  }
  const Format format = ParseFormat(format_text.value_or("jsonl"));
  const std::string target = out.value_or("-");
  std::vector<std::string> kinds;
  if (kind)
    kinds.push_back(*kind);
  else
    for (const std::string& k : kKinds)
      if (!job || JobScoped(k)) kinds.push_back(k);
  if (target == "-" && kinds.size() > 1) {
    throw UsageError("several kinds go to a folder: give --out DIR, or one --kind for stdout");
  }

  GlobalStorage& store = ctx.Store();
  // Documents on a terminal's stdout and a progress line would mix.
  Progress progress(ctx.show_progress() && !(target == "-" && ctx.stdout_tty()), "exporting");
  Json files = Json::array();
  if (target == "-") {
    OutputSink sink("-");
    ExportKind(store, kinds[0], job, format, sink, progress);
    progress.Finish();
    sink.Commit();
    return kExitOk;
  }
  // With --kind, --out names the file; without, a folder of <kind>.<format> files.
  std::vector<std::pair<std::string, fs::path>> plan;
  if (kind && !fs::is_directory(target)) {
    plan.emplace_back(*kind, fs::path(target));
  } else {
    std::error_code ec;
    fs::create_directories(target, ec);
    if (ec) throw Error::Io(fmt::format("cannot create folder {}: {}", target, ec.message()));
    for (const std::string& k : kinds)
      plan.emplace_back(k, fs::path(target) / (k + "." + FormatExtension(format)));
  }
  for (const auto& [k, path] : plan) {
    OutputSink sink(path.string());
    const int64_t count = ExportKind(store, k, job, format, sink, progress);
    sink.Commit();
    files.push_back({{"kind", k}, {"path", path.string()}, {"documents", count}});
  }
  progress.Finish();
  if (ctx.json()) {
    PrintJson(Json{{"format", FormatExtension(format)}, {"files", files}});
  } else {
    for (const auto& f : files) {
      std::printf("%-12s %8lld documents  %s\n", f["kind"].get<std::string>().c_str(),
                  static_cast<long long>(f["documents"].get<int64_t>()),
                  f["path"].get<std::string>().c_str());
    }
  }
  return kExitOk;
}

}  // namespace

std::vector<Command> ExportCommands() {
  return {Command{
      .name = "export",
      .summary = "write stored documents as JSONL, JSON or CSV; or regenerate mirrors / legacy files",
      .details = "Without --kind every kind is written to --out DIR as <kind>.<format>; with --kind\n"
                 "the output goes to stdout (default) or to the file or folder --out names.\n"
                 "JSONL holds one document per line, JSON an array of the documents verbatim,\n"
                 "CSV the extracted columns plus the document in a last \"json\" column.\n"
                 "--mirrors rewrites every mirror file from the database. --legacy DIR rebuilds\n"
                 "every imported legacy file byte for byte under DIR.",
      .examples = {"prodigy-store export --kind events --job mapreduce-20250920_170312 > events.jsonl",
                   "prodigy-store export --format csv --out /tmp/prodigy-export",
                   "prodigy-store export --mirrors", "prodigy-store export --legacy /tmp/restored"},
      .options =
          [](cxxopts::Options& o) {
            o.add_options()("job", "only this job (events, dlq, state)", cxxopts::value<std::string>(), "ID")(
                "kind", "events, dlq, state, sessions or checkpoints", cxxopts::value<std::string>(), "KIND")(
                "format", "jsonl (default), json or csv", cxxopts::value<std::string>(), "FORMAT")(
                "out", "a folder, a file (with --kind), or - for stdout", cxxopts::value<std::string>(),
                "DIR|-")("mirrors", "regenerate the mirror files from the database")(
                "legacy", "rebuild the imported legacy files under DIR", cxxopts::value<std::string>(),
                "DIR");
          },
      .run = RunExport,
  }};
}

}  // namespace prodigy::cli
