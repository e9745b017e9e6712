// SIGKILL a migration at every step (PRODIGY_TEST_CRASH_AT, see
// lib/src/legacy/crash_hook.h): every original is still there or provably in
// the database, no source is half imported, and a re-run completes without
// duplicates.
#include <doctest/doctest.h>

#include <signal.h>

#include "legacy_util.h"

using namespace prodigy;
using namespace prodigy::test;

namespace {

struct Totals {
  int64_t events = 0, unparsed = 0, dlq = 0, states = 0, sessions = 0, checkpoints = 0, sources = 0;
  bool operator==(const Totals&) const = default;
};

Totals Measure(GlobalStorage& storage) {
  Totals t;
  t.events = Count(storage, "SELECT count(*) FROM events");
  t.unparsed = Count(storage, "SELECT count(*) FROM unparsed_lines");
  t.dlq = Count(storage, "SELECT count(*) FROM dlq_items");
  t.states = Count(storage, "SELECT count(*) FROM job_states");
  t.sessions = Count(storage, "SELECT count(*) FROM sessions");
  t.checkpoints = Count(storage, "SELECT count(*) FROM workflow_checkpoints");
  t.sources = Count(storage, "SELECT count(*) FROM import_sources");
  return t;
}

Totals Baseline() {
  Sandbox sb;
  SetupFullFixture(sb);
  REQUIRE(Migrate(sb.repo, sb.Config(), {}).ok());
  GlobalStorage storage = sb.Open();
  return Measure(storage);
}

void CheckNothingLost(const Sandbox& sb, const TreeSnapshot& repo_before, const TreeSnapshot& root_before) {
  GlobalStorage storage = sb.Open();  // recovers the WAL of the killed process
  CHECK(storage.CheckIntegrity().empty());
  // No half-imported source: every ledger row is proven by its rows, and no
  // row belongs to a source the ledger does not know.
  for (const ImportProblem& p : CheckImports(storage)) FAIL_CHECK(p.path.string() << ": " << p.problem);
  for (const char* table : {"events", "unparsed_lines", "source_blobs", "dlq_items", "job_states", "sessions",
                            "workflow_checkpoints"}) {
    INFO(table);
    CHECK(
        Count(storage, fmt::format("SELECT count(*) FROM {} WHERE source_id IS NOT NULL AND source_id NOT IN "
                                   "(SELECT id FROM import_sources)",
                                   table)) == 0);
  }
  // Every original is unchanged, or removed only after its import was recorded.
  auto check_tree = [&](const fs::path& base, const TreeSnapshot& before) {
    for (const auto& [rel, content] : before.files) {
      const std::string& file = rel;  // clang 14 cannot capture a structured binding in INFO
      INFO(file);
      const fs::path p = base / rel;
      if (fs::exists(p)) {
        CHECK(ReadAll(p) == content);
      } else {
        CHECK(Count(storage, fmt::format("SELECT count(*) FROM import_sources WHERE path = '{}' AND status = "
                                         "'removed'",
                                         p.string())) == 1);
      }
    }
  };
  check_tree(sb.repo, repo_before);
  check_tree(sb.root, root_before);
}

}  // namespace

TEST_CASE("a migration killed at any step loses nothing and a re-run completes without duplicates") {
  const Totals expected = Baseline();
  CHECK(expected.sources == 28);
  // mid_import:N and after_import:N count sources; mid_delete:N deletions.
  const char* steps[] = {"after_plan",      "mid_import",   "mid_import:9", "mid_import:28", "after_import:1",
                         "after_import:14", "after_verify", "mid_delete:1", "mid_delete:20"};
  for (const char* step : steps) {
    SUBCASE(step) {
      Sandbox sb;
      SetupFullFixture(sb);
      const TreeSnapshot repo_before = Snapshot(sb.repo);
      const TreeSnapshot root_before = Snapshot(sb.root);
      const MigrationReport plan = PlanMigration(sb.repo, sb.Config());

      const int status = RunChild([&] {
        ::setenv("PRODIGY_TEST_CRASH_AT", step, 1);
        Migrate(sb.repo, sb.Config(), {});
        return 0;  // reaching this means the crash point was never hit
      });
      CHECK(status == 128 + SIGKILL);
      CheckNothingLost(sb, repo_before, root_before);

      const MigrationReport rerun = Migrate(sb.repo, sb.Config(), {});
      CHECK(rerun.ok());
      for (const LegacySource& s : plan.sources) {
        INFO(s.rel_path);
        CHECK(fs::exists(s.path) == (s.action != "import"));
      }
      GlobalStorage storage = sb.Open();
      CHECK(Measure(storage) == expected);
      CHECK(CheckImports(storage).empty());
      for (const ExportedFile& f : ExportLegacy(storage, sb.tmp / "restored")) {
        INFO(f.original.string());
        CHECK(f.matches_original);
      }
      CHECK(storage.CheckMirrors().empty());
    }
  }
}
