// Mirror files after a power loss or an OS restart: the database is the truth
// and the next open brings the files back in line with it.
#include <doctest/doctest.h>

#include "fault_util.h"

namespace prodigy::test {
namespace {

// Regression: the .mirror-mark said the files were up to date with a change
// the database no longer had (a power loss with synchronous=normal undid the
// last commits, or an older copy of the database was put back), so the files
// kept events the database had lost and new writes were not mirrored.
TEST_CASE("mirrors heal when the database went back behind them") {
  Sandbox sb;
  const fs::path db = sb.root / "my-repo" / "prodigy.db";
  const fs::path older = sb.tmp / "older.db";
  {
    GlobalStorage s = sb.Open();
    for (int i = 0; i < 5; ++i) s.AppendEvent(kJob, EventJson(i));
    s.SaveSession(SessionJson("cook-1", "InProgress"));
  }
  fs::copy_file(db, older);
  {
    GlobalStorage s = sb.Open();
    for (int i = 5; i < 10; ++i) s.AppendEvent(kJob, EventJson(i));
    s.SaveSession(SessionJson("cook-2", "InProgress"));
  }
  fs::copy_file(older, db, fs::copy_options::overwrite_existing);
  GlobalStorage s = sb.Open();
  CHECK(s.ReadEvents(kJob).size() == 5);
  const std::vector<MirrorProblem> problems = s.CheckMirrors();
  for (const MirrorProblem& p : problems) MESSAGE(p.path, ": ", p.problem);
  CHECK(problems.empty());
  CHECK_FALSE(fs::exists(sb.root / "my-repo" / "sessions" / "cook-2.json"));
  // And the writes after it are mirrored again.
  s.AppendEvent(kJob, EventJson(20));
  CHECK(s.CheckMirrors().empty());
}

// The mark names the boot it was written in: files written before an OS
// restart (power loss) may not have reached the disk even though the mark
// did, so the first open after a restart checks them all.
TEST_CASE("mirrors written before an OS restart are checked and healed on the next open") {
  Sandbox sb;
  const fs::path dir = sb.root / "my-repo";
  {
    GlobalStorage s = sb.Open();
    for (int i = 0; i < 5; ++i) s.AppendEvent(kJob, EventJson(i));
    s.SaveSession(SessionJson("cook-1", "InProgress"));
    s.WriteState(kJob, StateJson(kJob, 1));
  }
  // What a power loss can leave: a mark from the earlier boot, files short or empty.
  std::string mark = ReadAll(dir / ".mirror-mark");
  REQUIRE(mark.size() > 42);
  mark.replace(42, mark.size() - 43, "00000000-0000-0000-0000-000000000000");
  WriteAll(dir / ".mirror-mark", mark);
  const fs::path events = dir / "events" / kJob / "events.jsonl";
  fs::resize_file(events, fs::file_size(events) / 2);
  WriteAll(dir / "sessions" / "cook-1.json", "");
  fs::remove(dir / "state" / kJob / "checkpoint-v1.json");
  GlobalStorage s = sb.Open();
  const std::vector<MirrorProblem> problems = s.CheckMirrors();
  for (const MirrorProblem& p : problems) MESSAGE(p.path, ": ", p.problem);
  CHECK(problems.empty());
}

}  // namespace
}  // namespace prodigy::test
