// The migration on a repository with every legacy layout (tests/data/legacy/full):
// the dry run changes nothing, the migration imports everything, verifies,
// removes only what it verified, and export --legacy rebuilds identical files.
#include <doctest/doctest.h>

#include "legacy_util.h"

using namespace prodigy;
using namespace prodigy::test;

namespace {

constexpr const char* kJob = "mapreduce-1758387792480";
constexpr const char* kSession = "session-6feea3fd-8b9a-4891-9326-45ddd35fbd70";

// Importable sources of the full fixture (17 in the repository, 11 global),
// and the files that must never be touched.
constexpr int kImportable = 28;
constexpr int kNeverImported = 5;  // 4 temporary files, 1 unknown file

const std::vector<std::string> kUntouchedRepoFiles = {
    ".prodigy/config.yml",
    ".prodigy/workflow.yml",
    ".prodigy/context/analysis_metadata.json",
    ".prodigy/metrics/current.json",
    ".prodigy/state.json",
    ".prodigy/history/20250918_035031_session-.json",
    ".prodigy/mapreduce/README.txt",
    ".prodigy/checkpoints/workflow-1758167434332.checkpoint.tmp",
    ".prodigy/mapreduce/jobs/mapreduce-1758387792480/checkpoint-v4.tmp",
    ".prodigy/session_state.tmp.1758167434332000000"};
const std::vector<std::string> kUntouchedRootFiles = {
    "events/archive/events_archive_20250906_080002.jsonl.gz",
    "events/other-repo/mapreduce-20250920_170312/events-20250920_170312.jsonl",
    "worktrees/my-repo/.metadata/session-x.json", "worktrees/my-repo/.gitignore",
    "state/my-repo/mapreduce/jobs/mapreduce-1758387799999/metadata.tmp"};

std::vector<std::string> Messages(const Sandbox& sb, MigrationOptions options, MigrationReport* report) {
  std::vector<std::string> lines;
  options.on_message = [&](std::string_view line) { lines.emplace_back(line); };
  *report = Migrate(sb.repo, sb.Config(), options);
  return lines;
}

bool Contains(const std::vector<std::string>& lines, const std::string& part) {
  return std::any_of(lines.begin(), lines.end(),
                     [&](const std::string& l) { return l.find(part) != std::string::npos; });
}

}  // namespace

TEST_CASE("the dry run lists every source with kind, bytes, rows and writes nothing") {
  Sandbox sb;
  SetupFullFixture(sb);
  const TreeSnapshot before_repo = Snapshot(sb.repo);
  const TreeSnapshot before_root = Snapshot(sb.root);

  const MigrationReport plan = PlanMigration(sb.repo, sb.Config());
  CHECK(Snapshot(sb.repo) == before_repo);
  CHECK(Snapshot(sb.root) == before_root);
  CHECK_FALSE(fs::exists(sb.root / "my-repo"));  // not even an empty database

  CHECK(plan.ok());
  CHECK(plan.legacy_roots.size() == 5);  // .prodigy, .prodigy_migrated, events/, dlq/, state/ of my-repo
  CHECK(plan.sources.size() == kImportable + kNeverImported);
  int importable = 0;
  for (const LegacySource& s : plan.sources) {
    INFO(s.rel_path);
    CHECK(s.path.is_absolute());
    CHECK(s.bytes == fs::file_size(s.path));
    if (s.action == "import") {
      ++importable;
      CHECK(s.would_delete);
      CHECK(s.sha256.size() == 64);
      CHECK(s.rows + s.unparsed >= (s.kind == "events" ? 0 : 1));
    } else {
      CHECK(s.action.rfind("kept: ", 0) == 0);
      CHECK_FALSE(s.would_delete);
    }
  }
  CHECK(importable == kImportable);

  const LegacySource* events = FindSource(plan, ".prodigy/mapreduce/events/global/events.jsonl");
  REQUIRE(events != nullptr);
  CHECK(events->kind == "events");
  CHECK(events->job_id == "global");
  CHECK(events->rows == 7);
  CHECK(events->unparsed == 5);
  const LegacySource* archive = FindSource(plan, "events_archive_20250906_075919.jsonl.gz");
  REQUIRE(archive != nullptr);
  CHECK(archive->kind == "events_archive");
  CHECK(archive->unparsed == 1);
  const LegacySource* rotated = FindSource(plan, "events-20250920_170312.20250920_191500.jsonl.gz");
  REQUIRE(rotated != nullptr);
  CHECK(rotated->kind == "events");  // plain text despite its name
  CHECK(rotated->job_id == "mapreduce-20250920_170312");
  CHECK(rotated->rows == 2);
  const LegacySource* nested = FindSource(
      plan, "dlq/my-repo/mapreduce-1758387792480/mapreduce/dlq/mapreduce-1758387792480/items/item_7.json");
  REQUIRE(nested != nullptr);
  CHECK(nested->kind == "dlq_item");
  CHECK(nested->job_id == kJob);
  const LegacySource* slash = FindSource(plan, "items/src/parser.rs.json");
  REQUIRE(slash != nullptr);
  CHECK(slash->kind == "dlq_item");
  const LegacySource* broken = FindSource(plan, "items/broken.json");
  REQUIRE(broken != nullptr);
  CHECK(broken->rows == 0);
  CHECK(broken->unparsed == 1);
  const LegacySource* meta = FindSource(plan, "mapreduce-1758300000000/metadata.json");
  REQUIRE(meta != nullptr);
  CHECK(meta->kind == "job_state_meta");
  CHECK(meta->note.find("the latest is checkpoint-v1.json") != std::string::npos);
  const LegacySource* tmp = FindSource(plan, "checkpoint-v4.tmp");
  REQUIRE(tmp != nullptr);
  CHECK(tmp->kind == "orphan_tmp");
  CHECK(tmp->action.find("temporary file") != std::string::npos);
  CHECK(FindSource(plan, "config.yml") == nullptr);
  CHECK(FindSource(plan, ".prodigy/state.json") == nullptr);
  CHECK(FindSource(plan, "other-repo/mapreduce-20250920_170312/events-20250920_170312.jsonl") == nullptr);
  const LegacySource* mmm_like = FindSource(plan, ".prodigy_migrated/session_state.json");
  REQUIRE(mmm_like != nullptr);
  CHECK(mmm_like->kind == "session");

  // Migrate(dry_run) is the same plan.
  MigrationOptions dry;
  dry.dry_run = true;
  const MigrationReport again = Migrate(sb.repo, sb.Config(), dry);
  CHECK(again.sources.size() == plan.sources.size());
  CHECK_FALSE(fs::exists(sb.root / "my-repo"));
}

TEST_CASE("the migration imports everything, verifies, and removes only what it verified") {
  Sandbox sb;
  SetupFullFixture(sb);
  const TreeSnapshot repo_before = Snapshot(sb.repo);
  const TreeSnapshot root_before = Snapshot(sb.root);

  MigrationReport report;
  const auto lines = Messages(sb, {}, &report);
  CHECK(report.ok());
  CHECK(report.imported == kImportable);
  CHECK(report.verified == kImportable);
  CHECK(report.removed == kImportable);
  CHECK(report.kept == kNeverImported);
  CHECK(report.failed == 0);
  CHECK(lines.front() == "Migrating local storage to global storage...");
  CHECK(Contains(lines, "Moving .prodigy/mapreduce/events -> "));
  CHECK(Contains(lines, "Moving .prodigy/checkpoints -> " + (sb.root / "my-repo" / "checkpoints").string()));
  CHECK(Contains(lines, "Left in place: .prodigy/mapreduce/README.txt (not a Prodigy storage file)"));
  CHECK(lines.back().find("Migration complete.") == 0);

  // What was never imported is still there, byte for byte.
  for (const std::string& rel : kUntouchedRepoFiles) {
    INFO(rel);
    REQUIRE(fs::exists(sb.repo / rel));
    CHECK(ReadAll(sb.repo / rel) == repo_before.files.at(rel));
  }
  for (const std::string& rel : kUntouchedRootFiles) {
    INFO(rel);
    REQUIRE(fs::exists(sb.root / rel));
    CHECK(ReadAll(sb.root / rel) == root_before.files.at(rel));
  }
  // Every verified original is gone, and the folders that left empty.
  for (const LegacySource& s : report.sources) {
    INFO(s.rel_path);
    CHECK(s.deleted == (s.action == "import"));
    CHECK(fs::exists(s.path) == !s.deleted);
  }
  CHECK_FALSE(fs::exists(sb.repo / ".prodigy_migrated"));
  CHECK_FALSE(fs::exists(sb.repo / ".prodigy/mapreduce/dlq"));
  CHECK_FALSE(fs::exists(sb.repo / ".prodigy/events"));
  CHECK(fs::exists(sb.repo / ".prodigy/mapreduce/jobs/mapreduce-1758387792480"));  // holds the orphan .tmp
  CHECK_FALSE(fs::exists(sb.root / "events/my-repo"));
  CHECK_FALSE(fs::exists(sb.root / "dlq"));
  CHECK(fs::exists(sb.root / "events/archive"));

  // The data is queryable exactly like data written through the API.
  GlobalStorage storage = sb.Open();
  CHECK(storage.ReadEvents("global").size() == 7);
  CHECK(storage.ReadEvents("mapreduce-20250920_170312").size() == 4);
  CHECK(storage.ReadEvents("resume-workflow-1758167434332").size() == 1);
  CHECK(Count(storage, "SELECT count(*) FROM events") == 12);
  CHECK(Count(storage, "SELECT count(*) FROM unparsed_lines") == 7);
  EventQuery dlq_events;
  dlq_events.types = {"DLQItemAdded"};
  CHECK(storage.CountEvents(dlq_events) == 1);
  // Three ids per job: the events folder is linked to the state job id.
  CHECK(Query(storage, "SELECT log_id FROM event_log_jobs WHERE job_id = 'mapreduce-1758387799999'") ==
        "mapreduce-20250920_170312");

  const auto items = storage.ListDlqItems();
  CHECK(items.size() == 4);
  auto parser = storage.GetDlqItem(kJob, "src/parser.rs");
  REQUIRE(parser.has_value());
  CHECK(parser->json ==
        repo_before.files.at(".prodigy/mapreduce/dlq/mapreduce-1758387792480/items/src/parser.rs.json"));
  // Duplicate ids: the newer global item_2 is the row.
  auto item2 = storage.GetDlqItem(kJob, "item_2");
  REQUIRE(item2.has_value());
  CHECK(item2->json.find("exit code 2") != std::string::npos);

  CHECK(storage.StateHistory(kJob).size() == 3);
  CHECK(storage.ReadState(kJob)->version == 3);
  CHECK(storage.ReadState("mapreduce-1758300000000")->json ==
        repo_before.files.at(".prodigy/mapreduce/jobs/mapreduce-1758300000000/checkpoint-v1.json"));
  CHECK(storage.StateHistory("mapreduce-1758387799999").size() == 2);
  // session_state.json (newer) and its Interrupted snapshot: the live state is the row.
  CHECK(storage.LoadSession(kSession)->status == "InProgress");
  CHECK(storage.LoadSession("cook-1754076473").has_value());
  CHECK(storage.LoadSession("session-0b5b7b1e-3f0c-4a53-9d63-0c2b8e0b9a11").has_value());
  CHECK(storage.LoadCheckpoint("workflow-1758167434332")->json ==
        repo_before.files.at(".prodigy/checkpoints/workflow-1758167434332.checkpoint.json"));

  // Unparsed lines keep their bytes and say why.
  CHECK(Query(storage, "SELECT reason FROM unparsed_lines WHERE raw = X''") == "blank line");
  CHECK(Query(storage, "SELECT reason FROM unparsed_lines WHERE hex(raw) LIKE '%FFFE%'") == "invalid UTF-8");
  CHECK(Query(storage,
              "SELECT raw FROM unparsed_lines WHERE reason LIKE 'not a Prodigy EventRecord%' LIMIT 1") ==
        R"({"timestamp":"2024-01-01T00:00:00Z","event":"test"})");
  CHECK(Query(storage, "SELECT reason FROM unparsed_lines WHERE reason LIKE 'torn last line%'")
            .find("torn last line (no trailing newline)") == 0);

  // The mirrors show the imported data in Prodigy's layout.
  CHECK(ReadAll(sb.root / "my-repo/events/global/events.jsonl").size() > 0);
  CHECK(storage.CheckMirrors().empty());
  CHECK(CheckImports(storage).empty());

  // export --legacy rebuilds every original byte for byte.
  const fs::path out = sb.tmp / "restored";
  const auto files = ExportLegacy(storage, out);
  CHECK(files.size() == kImportable);
  for (const ExportedFile& f : files) {
    INFO(f.original.string());
    CHECK(f.matches_original);
    CHECK(f.error.empty());
    const std::string rel = f.path.lexically_relative(out).string();
    const std::string expected =
        rel.rfind(".prodigy", 0) == 0 ? repo_before.files.at(rel) : root_before.files.at(rel);
    CHECK(ReadAll(f.path) == expected);
    CHECK(f.bytes == expected.size());
  }

  // A re-run finds nothing to do and changes nothing.
  MigrationReport second;
  const auto quiet = Messages(sb, {}, &second);
  CHECK(second.imported == 0);
  CHECK(second.removed == 0);
  CHECK(Count(storage, "SELECT count(*) FROM events") == 12);
  CHECK(Count(storage, "SELECT count(*) FROM import_sources") == kImportable);
}

TEST_CASE(
    "--keep-originals imports and verifies but deletes nothing; a later run removes without duplicates") {
  Sandbox sb;
  SetupFullFixture(sb);
  const TreeSnapshot repo_before = Snapshot(sb.repo);
  const TreeSnapshot root_before = Snapshot(sb.root);
  MigrationOptions keep;
  keep.keep_originals = true;
  MigrationReport report;
  const auto lines = Messages(sb, keep, &report);
  CHECK(report.ok());
  CHECK(report.imported == kImportable);
  CHECK(report.verified == kImportable);
  CHECK(report.removed == 0);
  CHECK(lines.back().find("originals kept (--keep-originals)") != std::string::npos);
  CHECK(Snapshot(sb.repo) == repo_before);
  TreeSnapshot root_now = Snapshot(sb.root);
  for (const auto& [rel, content] : root_before.files) {
    const std::string& file = rel;  // clang 14 cannot capture a structured binding in INFO
    INFO(file);
    CHECK(root_now.files.at(rel) == content);
  }

  // The dry run on an existing store reads its ledger and changes nothing.
  const TreeSnapshot store_before = Snapshot(sb.root / "my-repo");
  const MigrationReport plan = PlanMigration(sb.repo, sb.Config());
  const TreeSnapshot store_after = Snapshot(sb.root / "my-repo");
  for (const auto& [rel, content] : store_after.files) {
    if (!store_before.files.count(rel))
      FAIL_CHECK("new file " << rel);
    else if (store_before.files.at(rel) != content)
      FAIL_CHECK("changed " << rel);
  }
  for (const LegacySource& s : plan.sources) {
    INFO(s.rel_path);
    if (s.kind != "orphan_tmp" && s.kind != "unknown") CHECK(s.action == "already imported");
  }

  // Again with --keep-originals: everything is "already imported".
  MigrationReport again;
  Messages(sb, keep, &again);
  CHECK(again.imported == 0);
  CHECK(again.verified == kImportable);
  for (const LegacySource& s : again.sources) {
    if (s.kind != "orphan_tmp" && s.kind != "unknown") CHECK(s.action == "already imported");
  }

  // Prodigy appended to a log meanwhile: the changed file replaces its earlier import.
  const fs::path log = sb.repo / ".prodigy/mapreduce/events/global/events.jsonl";
  {
    std::ofstream out(log, std::ios::app | std::ios::binary);
    out << "\n" << EventJson(900) << "\n";  // completes the torn line (now invalid JSON), then a new event
  }
  MigrationReport final_run;
  Messages(sb, {}, &final_run);
  CHECK(final_run.ok());
  CHECK(final_run.imported == 1);
  CHECK(final_run.removed == kImportable);
  GlobalStorage storage = sb.Open();
  CHECK(storage.ReadEvents("global").size() == 8);
  CHECK(Count(storage, "SELECT count(*) FROM events") == 13);
  CHECK(Count(storage, "SELECT count(*) FROM import_sources") == kImportable);
  CHECK(CheckImports(storage).empty());
}

TEST_CASE("import PATH imports Prodigy files and folders and never deletes them") {
  Sandbox sb;
  SetupFullFixture(sb);
  GlobalStorage storage = sb.Open();
  const fs::path dlq = sb.root / "dlq/my-repo/mapreduce-1758387792480";
  const fs::path log = sb.root / "events/my-repo/mapreduce-20250920_170312/events-20250920_170312.jsonl";
  const fs::path lone = sb.tmp / "exported.jsonl";  // an event log anywhere, under any name
  WriteAll(lone, EventJson(1) + "\n" + EventJson(2) + "\n");
  const TreeSnapshot dlq_before = Snapshot(sb.root / "dlq");
  const TreeSnapshot events_before = Snapshot(sb.root / "events");

  std::vector<std::string> lines;
  MigrationOptions options;
  options.on_message = [&](std::string_view l) { lines.emplace_back(l); };
  const MigrationReport report = ImportPaths(storage, {dlq, log, lone, sb.tmp / "missing.jsonl"}, options);
  CHECK(report.imported == 5);  // 2 items + index + 2 logs
  CHECK(report.verified == 5);
  CHECK(report.removed == 0);
  CHECK(report.failed == 1);  // the missing path, reported
  CHECK_FALSE(report.ok());
  CHECK(Snapshot(sb.root / "dlq") == dlq_before);  // the inputs are untouched
  CHECK(Snapshot(sb.root / "events") == events_before);
  CHECK(fs::exists(lone));
  CHECK(storage.GetDlqItem(kJob, "item_7").has_value());
  CHECK(storage.ReadEvents("mapreduce-20250920_170312").size() == 2);
  CHECK(storage.ReadEvents(sb.tmp.path().filename().string()).size() == 2);  // job = the file's folder name
  CHECK_PRODIGY_ERROR(ThrowIfFailed(report), ErrorCode::kVerificationFailed, "missing.jsonl");

  const MigrationReport again = ImportPaths(storage, {dlq, log, lone}, {});
  CHECK(again.imported == 0);
  CHECK(again.ok());
  CHECK(Count(storage, "SELECT count(*) FROM events") == 4);

  // The store's own mirrors look like Prodigy files but are never imported.
  const MigrationReport mirrors = ImportPaths(storage, {sb.root / "my-repo"}, {});
  CHECK(mirrors.imported == 0);
  CHECK(mirrors.ok());
  CHECK(FindSource(mirrors, "events.jsonl")->action ==
        "kept: a mirror file of this repository's store, not legacy data");
  CHECK(Count(storage, "SELECT count(*) FROM events") == 4);
}

TEST_CASE("no legacy data: FindLegacyRoots is empty and Migrate creates nothing") {
  Sandbox sb;
  WriteAll(sb.repo / ".prodigy/config.yml", "name: x\n");  // configuration alone is not legacy data
  CHECK(FindLegacyRoots(sb.repo, sb.Config()).empty());
  const MigrationReport report = Migrate(sb.repo, sb.Config(), {});
  CHECK(report.sources.empty());
  CHECK(report.ok());
  CHECK_FALSE(fs::exists(sb.root / "my-repo"));
  CHECK_PRODIGY_ERROR(FindLegacyRoots(sb.tmp / "nope", sb.Config()), ErrorCode::kNotFound, "nope");
}

TEST_CASE("the real files Prodigy wrote migrate and restore byte for byte") {
  Sandbox sb;
  const fs::path shared = SharedData();
  CopyTree(shared / "checkpoints", sb.repo / ".prodigy/checkpoints");
  CopyTree(shared / "archive", sb.repo / ".prodigy/events/archive");
  CopyTree(shared / "mmm", sb.repo / ".mmm");
  const TreeSnapshot before = Snapshot(sb.repo);

  const MigrationReport report = Migrate(sb.repo, sb.Config(), {});
  CHECK(report.ok());
  CHECK(report.imported == 37 + 5 + 1);
  CHECK(report.removed == 43);
  CHECK_FALSE(fs::exists(sb.repo / ".prodigy"));
  CHECK_FALSE(fs::exists(sb.repo / ".mmm"));

  GlobalStorage storage = sb.Open();
  const auto checkpoints = storage.ListCheckpoints();
  CHECK(checkpoints.size() == 37);
  for (const WorkflowCheckpoint& cp : checkpoints) {
    const std::string rel = ".prodigy/checkpoints/" + cp.workflow_id + ".checkpoint.json";
    INFO(rel);
    CHECK(cp.json == before.files.at(rel));
    CHECK(cp.status == "Running");
  }
  CHECK(storage.LatestCheckpoint()->workflow_id == "workflow-1758167434332");
  const auto session = storage.LoadSession("cook-1754076473");
  REQUIRE(session.has_value());
  CHECK(session->status == "Completed");
  // The archives' only line is the foreign test record: kept, unparsed, counted.
  CHECK(Count(storage,
              "SELECT count(*) FROM unparsed_lines WHERE reason LIKE 'not a Prodigy EventRecord%'") == 5);
  CHECK(Count(storage, "SELECT count(*) FROM events") == 0);

  const fs::path out = sb.tmp / "restored";
  const auto files = ExportLegacy(storage, out);
  CHECK(files.size() == 43);
  for (const ExportedFile& f : files) {
    INFO(f.path.string());
    CHECK(f.matches_original);
  }
  CHECK(Snapshot(out).files == before.files);
}

TEST_CASE(
    "a document whose content changed after its import is re-imported; the old row keeps no dangling "
    "source") {
  Sandbox sb;
  const fs::path file = sb.repo / ".prodigy/session_state.json";
  WriteAll(file, SessionJson("session-a", "InProgress"));
  MigrationOptions keep;
  keep.keep_originals = true;
  REQUIRE(Migrate(sb.repo, sb.Config(), keep).ok());
  WriteAll(file, SessionJson("session-b", "Completed"));  // Prodigy started another session
  const MigrationReport report = Migrate(sb.repo, sb.Config(), keep);
  CHECK(report.ok());
  CHECK(report.imported == 1);
  GlobalStorage storage = sb.Open();
  CHECK(storage.LoadSession("session-a").has_value());  // data is never dropped
  CHECK(storage.LoadSession("session-b")->status == "Completed");
  CHECK(Count(storage, "SELECT count(*) FROM import_sources") == 1);
  CHECK(Count(storage,
              "SELECT count(*) FROM sessions WHERE source_id IS NOT NULL AND source_id NOT IN "
              "(SELECT id FROM import_sources)") == 0);
  CHECK(CheckImports(storage).empty());
}
