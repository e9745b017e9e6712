// Bad input: unreadable files, invalid bytes, huge lines, symlinks, a file
// changing under the importer, a damaged archive, a full disk, tampered rows.
// The affected source is reported and kept, the rest proceeds (or, for a full
// disk, the run stops), and nothing is lost.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

#include "legacy_util.h"

using namespace prodigy;
using namespace prodigy::test;

namespace {

const fs::path kLog = ".prodigy/mapreduce/events/global/events.jsonl";

std::string Lines(int from, int to) {
  std::string text;
  for (int i = from; i < to; ++i) text += EventJson(i) + "\n";
  return text;
}

void ChownTree(const fs::path& dir, uid_t uid, gid_t gid) {
  REQUIRE(::chown(dir.c_str(), uid, gid) == 0);
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    REQUIRE(::lchown(e.path().c_str(), uid, gid) == 0);
  }
}

}  // namespace

TEST_CASE("an unreadable file is reported and kept; the rest is migrated") {
  Sandbox sb;
  WriteAll(sb.repo / kLog, Lines(0, 3));
  const fs::path secret = sb.repo / ".prodigy/checkpoints/workflow-1.checkpoint.json";
  WriteAll(secret, CheckpointJson("workflow-1", "2025-09-18T04:18:51.000402Z"));
  const std::string secret_bytes = ReadAll(secret);
  const fs::path locked_dir = sb.repo / ".prodigy/mapreduce/dlq/job-1";
  WriteAll(locked_dir / "items/item_1.json", DlqItemJson("item_1", "2025-09-20T17:05:40Z"));
  const fs::path result = sb.tmp / "result.txt";

  // chmod 000 does not stop root from reading: as root, the migration runs in
  // a child that drops to the unprivileged uid 65534 (nobody), for which the
  // root-owned mode-000 file really is unreadable.
  const bool as_root = ::geteuid() == 0;
  if (as_root) {
    ChownTree(sb.tmp.path(), 65534, 65534);
    REQUIRE(::chown(secret.c_str(), 0, 0) == 0);
    REQUIRE(::chown(locked_dir.c_str(), 0, 0) == 0);
  }
  fs::permissions(secret, fs::perms::none);
  fs::permissions(locked_dir, fs::perms::none);
  const int status = RunChild([&] {
    if (as_root && (::setgid(65534) != 0 || ::setuid(65534) != 0)) return 10;
    const MigrationReport report = Migrate(sb.repo, sb.Config(), {});
    const LegacySource* s = FindSource(report, "workflow-1.checkpoint.json");
    const LegacySource* d = FindSource(report, "dlq/job-1");
    std::ofstream out(result);
    out << report.failed << "\n"
        << report.imported << "\n"
        << report.removed << "\n"
        << (s ? s->error : "?") << "\n"
        << (d ? d->error : "?") << "\n";
    return 0;
  });
  REQUIRE(status == 0);
  std::ifstream in(result);
  int64_t failed = -1, imported = -1, removed = -1;
  std::string error, dir_error;
  in >> failed >> imported >> removed;
  in.ignore();
  std::getline(in, error);
  std::getline(in, dir_error);
  CHECK(failed == 2);
  CHECK(dir_error == "cannot list folder: Permission denied");
  CHECK(imported == 1);
  CHECK(removed == 1);
  CHECK(error.find("cannot read " + secret.string() + ": Permission denied") == 0);
  CHECK(error.find("fix its permissions") != std::string::npos);
  fs::permissions(secret, fs::perms::owner_read | fs::perms::owner_write);
  fs::permissions(locked_dir, fs::perms::owner_all);
  CHECK(ReadAll(secret) == secret_bytes);  // kept, unchanged
  CHECK(fs::exists(locked_dir / "items/item_1.json"));
  CHECK_FALSE(fs::exists(sb.repo / kLog));
}

TEST_CASE("invalid UTF-8, carriage returns and broken documents are kept verbatim as unparsed rows") {
  Sandbox sb;
  const std::string crlf = EventJson(1) + "\r\n";
  const std::string bad = std::string("{\"id\":\"\xc3\x28\"}\n");  // invalid 2-byte sequence
  WriteAll(sb.repo / kLog, EventJson(0) + "\n" + crlf + bad + "\n\n");
  WriteAll(sb.repo / ".prodigy/mapreduce/dlq/job-1/items/no-id.json", R"({"item_data": {}})");
  WriteAll(sb.repo / ".prodigy/mapreduce/dlq/job-1/items/latin1.json", "{\"item_id\": \"caf\xe9\"}");
  WriteAll(sb.repo / ".prodigy/session_state.json", "");
  const MigrationReport report = Migrate(sb.repo, sb.Config(), {});
  CHECK(report.ok());
  CHECK(report.removed == 4);
  GlobalStorage storage = sb.Open();
  CHECK(storage.ReadEvents("global").size() == 1);
  CHECK(Query(storage, "SELECT reason FROM unparsed_lines WHERE line_no = 2") ==
        "contains a carriage return");
  CHECK(Query(storage, "SELECT raw FROM unparsed_lines WHERE line_no = 2") == EventJson(1) + "\r");
  CHECK(Query(storage, "SELECT reason FROM unparsed_lines WHERE line_no = 3") == "invalid UTF-8");
  CHECK(Query(storage, "SELECT raw FROM unparsed_lines WHERE line_no = 3") == bad.substr(0, bad.size() - 1));
  CHECK(Count(storage, "SELECT count(*) FROM unparsed_lines WHERE reason = 'blank line'") == 2);
  CHECK(
      Query(
          storage,
          "SELECT reason FROM unparsed_lines WHERE line_no = 0 AND CAST(raw AS TEXT) = '{\"item_data\": {}}'")
          .find("required field \"item_id\" is missing") != std::string::npos);
  CHECK(Query(storage, "SELECT reason FROM unparsed_lines WHERE line_no = 0 AND reason LIKE '%UTF-8%'") ==
        "invalid UTF-8");
  CHECK(Query(storage, "SELECT reason FROM unparsed_lines WHERE line_no = 0 AND raw = X''") == "empty file");
  for (const ExportedFile& f : ExportLegacy(storage, sb.tmp / "out")) CHECK(f.matches_original);
}

TEST_CASE("a 50 MB single line is stored whole, typed or unparsed, and restored") {
  Sandbox sb;
  const std::string text(50 << 20, 'x');
  std::string big_event = EventJson(0);
  // A ClaudeMessage-sized record: a 50 MB string inside a valid EventRecord, no trailing newline.
  big_event.insert(big_event.find("\"worktree\":"), "\"content\":\"" + text + "\",");
  WriteAll(sb.repo / kLog, big_event);
  WriteAll(sb.repo / ".prodigy/events/big/events.jsonl", Lines(0, 1) + text + "\n");  // 50 MB of garbage
  const MigrationReport report = Migrate(sb.repo, sb.Config(), {});
  CHECK(report.ok());
  CHECK(report.removed == 2);
  GlobalStorage storage = sb.Open();
  const auto events = storage.ReadEvents("global");
  REQUIRE(events.size() == 1);
  CHECK(events[0].json == big_event);
  CHECK(Count(storage, "SELECT length(raw) FROM unparsed_lines WHERE line_no = 2") == (50 << 20));
  CHECK(Query(storage, "SELECT reason FROM unparsed_lines WHERE line_no = 2").find("invalid JSON") == 0);
  for (const ExportedFile& f : ExportLegacy(storage, sb.tmp / "out")) CHECK(f.matches_original);
}

TEST_CASE("symlinks are reported and kept, never followed, even out of the repository") {
  Sandbox sb;
  const fs::path outside = sb.tmp / "outside";
  WriteAll(outside / "elsewhere.jsonl", Lines(0, 2));
  WriteAll(outside / "dlq/items/item_1.json", DlqItemJson("item_1", "2025-09-20T17:05:40.000095Z"));
  const TreeSnapshot outside_before = Snapshot(outside);
  WriteAll(sb.repo / kLog, Lines(0, 1));
  fs::create_directories(sb.repo / ".prodigy/mapreduce/dlq");
  fs::create_symlink(outside / "elsewhere.jsonl", sb.repo / ".prodigy/mapreduce/events/global/old.jsonl");
  fs::create_directory_symlink(outside / "dlq", sb.repo / ".prodigy/mapreduce/dlq/job-1");
  fs::create_symlink("../../../../outside/elsewhere.jsonl",
                     sb.repo / ".prodigy/mapreduce/events/global/rel.jsonl");

  const MigrationReport report = Migrate(sb.repo, sb.Config(), {});
  CHECK(report.ok());
  CHECK(report.imported == 1);
  CHECK(report.kept == 3);
  for (const char* name : {"global/old.jsonl", "global/rel.jsonl", "dlq/job-1"}) {
    const LegacySource* s = FindSource(report, name);
    REQUIRE_MESSAGE(s != nullptr, name);
    CHECK(s->kind == "symlink");
    CHECK(s->action.find("kept: symlink to ") == 0);
    CHECK(s->action.find("not followed") != std::string::npos);
    CHECK_FALSE(s->deleted);
    CHECK(fs::is_symlink(s->path));
  }
  CHECK(Snapshot(outside) == outside_before);
  GlobalStorage storage = sb.Open();
  CHECK(storage.ReadEvents("global").size() == 1);
  CHECK(storage.ListDlqItems().empty());

  // A .prodigy that is itself a symlink: reported, not entered.
  Sandbox linked;
  CopyTree(outside, linked.tmp / "shared-prodigy");
  fs::create_directory_symlink(linked.tmp / "shared-prodigy", linked.repo / ".prodigy");
  const MigrationReport r2 = Migrate(linked.repo, linked.Config(), {});
  REQUIRE(r2.sources.size() == 1);
  CHECK(r2.sources[0].kind == "symlink");
  CHECK(r2.sources[0].rel_path == ".prodigy");
  CHECK(fs::exists(linked.tmp / "shared-prodigy/elsewhere.jsonl"));
}

TEST_CASE("a file that changes while being imported is kept, reported, and imported whole on the next run") {
  Sandbox sb;
  WriteAll(sb.repo / kLog, Lines(0, 5000));
  bool appended = false;
  MigrationOptions options;
  std::vector<std::string> lines;
  options.on_message = [&](std::string_view l) { lines.emplace_back(l); };
  options.on_progress = [&](uint64_t done, uint64_t total) {
    CHECK(done <= total);
    if (appended) return;
    appended = true;  // Prodigy appends while the importer reads
    std::ofstream out(sb.repo / kLog, std::ios::app | std::ios::binary);
    out << EventJson(5000) << "\n";
  };
  const MigrationReport report = Migrate(sb.repo, sb.Config(), options);
  CHECK(appended);
  CHECK(report.failed == 1);
  CHECK(report.removed == 0);
  REQUIRE(report.sources.size() == 1);
  CHECK(report.sources[0].error.find("changed while it was being read") != std::string::npos);
  CHECK(std::any_of(lines.begin(), lines.end(),
                    [](const std::string& l) { return l.find("Migration incomplete") == 0; }));
  CHECK(ReadAll(sb.repo / kLog) == Lines(0, 5001));
  {
    GlobalStorage storage = sb.Open();
    CHECK(Count(storage, "SELECT count(*) FROM events") == 0);  // no half source
    CHECK(Count(storage, "SELECT count(*) FROM import_sources") == 0);
  }
  const MigrationReport again = Migrate(sb.repo, sb.Config(), {});
  CHECK(again.ok());
  GlobalStorage storage = sb.Open();
  CHECK(storage.ReadEvents("global").size() == 5001);
}

TEST_CASE("a log part that fails holds back the later parts of its log, so the re-run keeps the order") {
  Sandbox sb;
  const fs::path bak = sb.repo / ".prodigy/mapreduce/events/global/events.jsonl.bak";
  WriteAll(bak, Lines(0, 5000));  // the older part, imported first
  WriteAll(sb.repo / kLog, Lines(5000, 5003));
  bool appended = false;
  MigrationOptions options;
  options.on_progress = [&](uint64_t, uint64_t) {
    if (appended) return;
    appended = true;  // the .bak changes while it is read: it fails
    std::ofstream out(bak, std::ios::app | std::ios::binary);
    out << EventJson(5000 - 1) << "\n";
  };
  const MigrationReport report = Migrate(sb.repo, sb.Config(), options);
  REQUIRE(appended);
  CHECK(report.failed == 2);
  const LegacySource* older = FindSource(report, "events.jsonl.bak");
  const LegacySource* live = FindSource(report, "global/events.jsonl");
  REQUIRE(older != nullptr);
  REQUIRE(live != nullptr);
  CHECK(older->error.find("changed while it was being read") != std::string::npos);
  CHECK(live->error.find("not imported yet: ") == 0);
  CHECK(live->error.find("events.jsonl.bak, an earlier part of the same event log") != std::string::npos);
  CHECK(ReadAll(sb.repo / kLog) == Lines(5000, 5003));  // both kept
  {
    GlobalStorage storage = sb.Open();
    CHECK(Count(storage, "SELECT count(*) FROM events") == 0);
  }
  const MigrationReport again = Migrate(sb.repo, sb.Config(), {});
  CHECK(again.ok());
  GlobalStorage storage = sb.Open();
  const std::vector<Event> events = storage.ReadEvents("global");
  REQUIRE(events.size() == 5004);
  // The .bak's lines (with the one appended) first, then the live log's.
  CHECK(events[4999].json == EventJson(4999));
  CHECK(events[5000].json == EventJson(4999));
  CHECK(events[5001].json == EventJson(5000));
  CHECK(events[5003].json == EventJson(5002));
}

TEST_CASE("a damaged gzip archive keeps its exact bytes and the lines before the damage") {
  Sandbox sb;
  const fs::path ok =
      TestData() / "legacy/full/repo/.prodigy/events/archive/events_archive_20250906_075919.jsonl.gz";
  std::string gz = ReadAll(ok);
  WriteAll(sb.repo / ".prodigy/events/archive/truncated.jsonl.gz", gz.substr(0, gz.size() - 6));
  WriteAll(sb.repo / ".prodigy/events/archive/twice.jsonl.gz", gz + gz);  // concatenated members
  const MigrationReport report = Migrate(sb.repo, sb.Config(), {});
  CHECK(report.ok());
  const LegacySource* truncated = FindSource(report, "truncated.jsonl.gz");
  REQUIRE(truncated != nullptr);
  CHECK(truncated->kind == "events_archive");
  CHECK(truncated->note.find("gzip data") == 0);
  const LegacySource* twice = FindSource(report, "twice.jsonl.gz");
  REQUIRE(twice != nullptr);
  CHECK(twice->unparsed == 2);
  CHECK(twice->note.empty());
  GlobalStorage storage = sb.Open();
  for (const ExportedFile& f : ExportLegacy(storage, sb.tmp / "out")) CHECK(f.matches_original);
}

TEST_CASE("a full disk stops the run before anything is deleted; the re-run completes") {
  Sandbox sb;
  WriteAll(sb.repo / kLog, Lines(0, 6000));  // about 2.5 MB of events
  WriteAll(sb.repo / ".prodigy/session_state.json", SessionJson("session-1", "Completed"));
  const TreeSnapshot before = Snapshot(sb.repo);

  // A real full disk: a 1 MiB tmpfs as the storage root, when this process
  // may mount; otherwise RLIMIT_FSIZE in a child makes the database's writes
  // fail the same way (EFBIG instead of ENOSPC).
  fs::create_directories(sb.root);
  const bool mounted = ::mount("tmpfs", sb.root.c_str(), "tmpfs", 0, "size=1m") == 0;
  std::string failure;
  if (mounted) {
    try {
      Migrate(sb.repo, sb.Config(), {});
    } catch (const Error& e) {
      CHECK(e.code() == ErrorCode::kIo);
      failure = e.message();
    }
    CHECK(failure.find("disk is full") != std::string::npos);
  } else {
    const fs::path result = sb.tmp / "result.txt";
    const int status = RunChild([&] {
      ::signal(SIGXFSZ, SIG_IGN);
      struct rlimit limit = {1 << 20, 1 << 20};
      if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) return 10;
      try {
        Migrate(sb.repo, sb.Config(), {});
      } catch (const Error& e) {
        std::ofstream(result) << static_cast<int>(e.code()) << " " << e.message();
        return 0;
      }
      return 11;
    });
    REQUIRE(status == 0);
    failure = ReadAll(result);
    CHECK(failure.rfind(std::to_string(static_cast<int>(ErrorCode::kIo)) + " ", 0) == 0);
  }
  INFO(failure);
  CHECK(failure.find("prodigy.db") != std::string::npos);
  CHECK(Snapshot(sb.repo) == before);  // every original in place

  if (mounted) REQUIRE(::mount("tmpfs", sb.root.c_str(), "tmpfs", MS_REMOUNT, "size=64m") == 0);
  const MigrationReport again = Migrate(sb.repo, sb.Config(), {});
  CHECK(again.ok());
  {
    GlobalStorage storage = sb.Open();
    CHECK(storage.ReadEvents("global").size() == 6000);
    CHECK(Count(storage, "SELECT count(*) FROM import_sources") == 2);
  }
  if (mounted) ::umount2(sb.root.c_str(), MNT_DETACH);
}

TEST_CASE("rows changed after the import fail verification: the original is kept and the failure reported") {
  Sandbox sb;
  WriteAll(sb.repo / kLog, Lines(0, 10));
  WriteAll(sb.repo / ".prodigy/mapreduce/dlq/job-1/items/item_1.json",
           DlqItemJson("item_1", "2025-09-20T17:05:40Z"));
  MigrationOptions keep;
  keep.keep_originals = true;
  REQUIRE(Migrate(sb.repo, sb.Config(), keep).ok());
  {
    GlobalStorage storage = sb.Open();
    SQLite::Database(storage.location().db_path.string(), SQLite::OPEN_READWRITE)
        .exec("DELETE FROM events WHERE seq = (SELECT max(seq) FROM events)");
    const auto problems = CheckImports(storage);
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].problem.find("holds 9 rows and 0 unparsed lines of it, the file gave 10 and 0") !=
          std::string::npos);
  }
  const MigrationReport report = Migrate(sb.repo, sb.Config(), {});
  CHECK(report.failed == 1);
  CHECK(report.removed == 1);  // the DLQ item; the log is kept
  CHECK(fs::exists(sb.repo / kLog));
  const LegacySource* log = FindSource(report, "events.jsonl");
  REQUIRE(log != nullptr);
  CHECK(log->error.find("verification failed: ") == 0);
  CHECK_PRODIGY_ERROR(ThrowIfFailed(report), ErrorCode::kVerificationFailed, "verification failed");

  GlobalStorage storage = sb.Open();
  const auto files = ExportLegacy(storage, sb.tmp / "out");
  REQUIRE(files.size() == 2);
  const auto bad =
      std::find_if(files.begin(), files.end(), [](const ExportedFile& f) { return !f.matches_original; });
  REQUIRE(bad != files.end());
  CHECK(bad->original == sb.repo / kLog);
  CHECK(bad->error.find("changed since") != std::string::npos);
}
