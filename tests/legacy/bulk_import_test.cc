// A large event log (8 MiB and more) is imported as a bulk load: parsed on a
// second thread, written with a rollback journal when no other connection has
// the database open, its events indexes built at commit when the table was
// empty (lib/src/legacy/importer.cc). These tests kill it, open the store
// beside it, and check that the result is the same as the ordinary import's.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "legacy_util.h"
#include "prodigy/migrate.h"

using namespace prodigy;
using namespace prodigy::test;

namespace {

constexpr int kAgents = 50;
constexpr const char* kEventIndexes =
    "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = "
    "'events' ORDER BY name)";

// About 400 bytes a line: 50,000 lines are 20 MB, more than SQLite's page
// cache of 16 MB, so the load writes into the database file before its commit.
fs::path WriteLargeLog(const Sandbox& sb, int lines) {
  const fs::path file = sb.repo / ".prodigy" / "mapreduce" / "events" / "global" / "events.jsonl";
  fs::create_directories(file.parent_path());
  std::string text;
  for (int i = 0; i < lines; ++i) {
    text += EventJson(i, "agent_started", "mapreduce-1758387792480", fmt::format("agent-{}", i % kAgents));
    text += '\n';
  }
  WriteAll(file, text);
  return file;
}

fs::path DatabasePath(const Sandbox& sb) {
  GlobalStorage storage = sb.Open();
  return storage.location().db_path;
}

// What every import must leave, bulk or not: all rows, the four indexes,
// WAL mode, a sound database, and the log rebuilt byte for byte.
void CheckImported(const Sandbox& sb, int lines, const std::string& original, int64_t other_events = 0) {
  GlobalStorage storage = sb.Open();
  CHECK(storage.CheckIntegrity().empty());
  CHECK(Query(storage, "PRAGMA journal_mode") == "wal");
  CHECK(Count(storage, "SELECT count(*) FROM events") == lines + other_events);
  CHECK(Query(storage, kEventIndexes) == "events_by_agent,events_by_job,events_by_job_time,events_by_name");
  EventQuery by_agent;  // walks events_by_agent; the integrity check compared every index with the table
  by_agent.agent_id = "agent-7";
  CHECK(storage.CountEvents(by_agent) == lines / kAgents);
  CHECK(CheckImports(storage).empty());
  const std::vector<ExportedFile> files = ExportLegacy(storage, sb.tmp / "restored");
  REQUIRE(files.size() == 1);
  CHECK(files[0].matches_original);
  CHECK(ReadAll(files[0].path) == original);
}

}  // namespace

TEST_CASE("a bulk import killed before its commit leaves nothing behind, and the re-run completes") {
  Sandbox sb;
  const fs::path log = WriteLargeLog(sb, 50000);
  const std::string original = ReadAll(log);
  const fs::path db = DatabasePath(sb);

  const int status = RunChild([&] {
    ::setenv("PRODIGY_TEST_CRASH_AT", "mid_import", 1);  // after the rows, before the indexes and the commit
    Migrate(sb.repo, sb.Config(), {});
    return 0;
  });
  CHECK(status == 128 + SIGKILL);
  // The killed process wrote with a rollback journal (the bulk path was
  // taken); it is left behind for the next open to roll back.
  CHECK(fs::exists(db.string() + "-journal"));
  {
    GlobalStorage storage = sb.Open();
    CHECK(storage.CheckIntegrity().empty());
    CHECK(Query(storage, "PRAGMA journal_mode") == "wal");
    CHECK(Count(storage, "SELECT count(*) FROM events") == 0);
    CHECK(Count(storage, "SELECT count(*) FROM import_sources") == 0);
    CHECK(Query(storage, kEventIndexes) == "events_by_agent,events_by_job,events_by_job_time,events_by_name");
  }
  CHECK(!fs::exists(db.string() + "-journal"));
  CHECK(ReadAll(log) == original);

  const MigrationReport rerun = Migrate(sb.repo, sb.Config(), {});
  CHECK(rerun.ok());
  CHECK(rerun.verified == 1);
  CHECK(!fs::exists(log));
  CheckImported(sb, 50000, original);
}

TEST_CASE("a process that opens the store during a bulk import waits for it, then reads and writes") {
  Sandbox sb;
  const fs::path log = WriteLargeLog(sb, 80000);
  const std::string original = ReadAll(log);
  const fs::path journal = DatabasePath(sb).string() + "-journal";

  const pid_t pid = ::fork();
  if (pid == 0) {
    int code = 1;
    try {
      code = Migrate(sb.repo, sb.Config(), {}).ok() ? 0 : 1;
    } catch (...) {
    }
    ::_exit(code);
  }
  // Open once the import holds the rollback journal (it exists for the whole
  // transaction: about a second here).
  bool seen = false;
  int status = -1;
  for (int i = 0; i < 20000 && !seen; ++i) {
    seen = fs::exists(journal);
    if (!seen && ::waitpid(pid, &status, WNOHANG) == pid) break;
    if (!seen) std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  CHECK(seen);
  {
    GlobalStorage other = sb.Open();  // waits for the import's commit: no "database is locked"
    other.AppendEvent("other-job", EventJson(1, "agent_completed", "other-job"));
    EventQuery q;
    q.job_id = "other-job";
    CHECK(other.CountEvents(q) == 1);
  }
  if (status == -1) ::waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CheckImported(sb, 80000, original, 1);
}

TEST_CASE("with another connection open the import stays in WAL mode, with the same result") {
  Sandbox sb;
  const fs::path log = WriteLargeLog(sb, 25000);
  const std::string original = ReadAll(log);
  GlobalStorage reader = sb.Open();  // keeps the database open throughout
  const MigrationReport report = Migrate(sb.repo, sb.Config(), {});
  CHECK(report.ok());
  CHECK(!fs::exists(reader.location().db_path.string() + "-journal"));
  CheckImported(sb, 25000, original);
}

TEST_CASE("a log too large to load within the busy timeout stays in WAL mode, so openers never give up") {
  Sandbox sb;
  const fs::path log = WriteLargeLog(sb, 25000);  // 10 MB; 100 ms allow 4 MB
  const std::string original = ReadAll(log);
  StorageConfig config = sb.Config();
  config.busy_timeout_ms = 100;
  const fs::path db = DatabasePath(sb);
  const int status = RunChild([&] {
    ::setenv("PRODIGY_TEST_CRASH_AT", "mid_import", 1);
    Migrate(sb.repo, config, {});
    return 0;
  });
  CHECK(status == 128 + SIGKILL);
  CHECK(!fs::exists(db.string() + "-journal"));
  CHECK(fs::exists(db.string() + "-wal"));
  CHECK(Migrate(sb.repo, config, {}).ok());
  CheckImported(sb, 25000, original);
}
