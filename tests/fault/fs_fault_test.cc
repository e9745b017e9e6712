// Faults outside SQLite (issue: reliability campaign, item 3): ENOSPC, EIO
// and EACCES on the mirror files and on the legacy importer's reads and
// deletes, once or from the Nth call on (a disk that stays full, permissions
// taken away mid-run). The C library calls are interposed (libc_faults.h).
//
// Mirrors: the database is the truth, so a write whose mirror update fails
// still succeeds (a warning is logged), and the next write heals the files.
// Importer: no original is deleted unless its import was verified, originals
// are never changed, and a re-run once the fault is gone finishes the job.
#include <cerrno>

#include <doctest/doctest.h>

#include "fault_util.h"
#include "libc_faults.h"

namespace prodigy::test {
namespace {

using fault::libc::Call;

struct Errno {
  Call call;
  int err;
  const char* name;
};

const Errno kMirrorFaults[] = {
    {Call::kOpen, ENOSPC, "open ENOSPC"},     {Call::kOpen, EACCES, "open EACCES"},
    {Call::kWrite, ENOSPC, "write ENOSPC"},   {Call::kWrite, EIO, "write EIO"},
    {Call::kClose, EIO, "close EIO"},         {Call::kRename, ENOSPC, "rename ENOSPC"},
    {Call::kRename, EACCES, "rename EACCES"}, {Call::kUnlink, EIO, "unlink EIO"},
};

const Errno kImporterFaults[] = {
    {Call::kOpen, EACCES, "open EACCES"},     {Call::kOpen, EIO, "open EIO"},
    {Call::kRead, EIO, "read EIO"},           {Call::kUnlink, EIO, "unlink EIO"},
    {Call::kUnlink, EACCES, "unlink EACCES"}, {Call::kClose, EIO, "close EIO"},
};

// No temporary file of an interrupted mirror write is left behind.
int TempFiles(const fs::path& dir) {
  int n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    n += e.path().filename().string().find(".tmp.") != std::string::npos;
  }
  return n;
}

TEST_CASE("a write whose mirror files fail still commits, and the next write heals them") {
  int trials = 0, fired = 0;
  for (const WritePath& path : WritePaths()) {
    if (path.synchronous == Synchronous::kFull) continue;  // the same mirror code
    Sandbox sb;
    // The mirror files are written by FlushMirrors() inside the armed window
    // (not by the store's thread at a time of its choosing), so the Nth call
    // is the same call in every trial.
    StorageConfig config = sb.Config();
    config.mirror_delay_ms = 60'000;
    const fs::path template_dir = sb.tmp / "template";
    std::string after;
    int64_t count[static_cast<int>(Call::kAny) + 1] = {};
    {
      GlobalStorage s = sb.Open();
      path.setup(s);
    }
    fs::rename(sb.root, template_dir);
    {
      ReplaceTree(template_dir, sb.root);
      GlobalStorage s = GlobalStorage::OpenWithConfig(sb.repo, config);
      fault::libc::Arm(Call::kAny, 0, 0, false, (sb.root / "my-repo").string());
      path.run(s);
      s.FlushMirrors();
      for (int i = 0; i <= static_cast<int>(Call::kAny); ++i)
        count[i] = fault::libc::Count(static_cast<Call>(i));
      fault::libc::Disarm();
      after = Fingerprint(s);
    }
    for (const Errno& kind : kMirrorFaults) {
      for (const int64_t n : FaultPoints(count[static_cast<int>(kind.call)])) {
        for (bool persistent : {false, true}) {
          const std::string path_name = path.name;
          CAPTURE(path_name);
          const std::string kind_name = kind.name;
          CAPTURE(kind_name);
          CAPTURE(n);
          CAPTURE(persistent);
          ReplaceTree(template_dir, sb.root);
          ++trials;
          GlobalStorage s = GlobalStorage::OpenWithConfig(sb.repo, config);
          fault::libc::Arm(kind.call, n, kind.err, persistent, (sb.root / "my-repo").string());
          const auto error = Outcome([&] {
            path.run(s);
            s.FlushMirrors();
          });
          fault::libc::Disarm();
          fired += fault::libc::Fired();
          CHECK_MESSAGE(!error, "the write failed because of a mirror file: ", error.value_or(""));
          CHECK(Fingerprint(s) == after);
          s.AppendEvent("next-call", EventJson(7, "agent_started", "next-call"));
          const std::vector<MirrorProblem> problems = s.CheckMirrors();
          for (const MirrorProblem& p : problems) MESSAGE(p.path, ": ", p.problem);
          CHECK(problems.empty());
          CHECK(TempFiles(sb.root / "my-repo") == 0);
        }
      }
    }
  }
  MESSAGE(fmt::format("mirror faults: {} trials, {} faults delivered", trials, fired));
}

TEST_CASE("the importer keeps every original when its reads or deletes fail") {
  // The clean run: what a migration stores and removes, and how many calls of each class it makes.
  int64_t count[static_cast<int>(Call::kAny) + 1] = {};
  const CleanMigration clean =
      MigrateFixture([](const Sandbox& sb) { fault::libc::Arm(Call::kAny, 0, 0, false, sb.repo.string()); },
                     [&] {
                       for (int i = 0; i <= static_cast<int>(Call::kAny); ++i) {
                         count[i] = fault::libc::Count(static_cast<Call>(i));
                       }
                       fault::libc::Disarm();
                     });
  int trials = 0, failed = 0;
  for (const Errno& kind : kImporterFaults) {
    for (const int64_t n : FaultPoints(count[static_cast<int>(kind.call)])) {
      for (bool persistent : {false, true}) {
        const std::string kind_name = kind.name;
        CAPTURE(kind_name);
        CAPTURE(n);
        CAPTURE(persistent);
        Sandbox sb;
        CopyLegacyFixture(sb);
        const auto originals = Files(sb.repo);
        ++trials;
        fault::libc::Arm(kind.call, n, kind.err, persistent, sb.repo.string());
        MigrationReport report;
        const auto error = Outcome([&] { report = Migrate(sb.repo, sb.Config()); });
        fault::libc::Disarm();
        if (error || !report.ok()) ++failed;
        // Each failed source is reported with its path and the reason (the CLI prints them side by side);
        // the error of the whole run names the first five and how many failed.
        int named = 0;
        for (const LegacySource& src : report.sources) {
          if (src.error.empty()) continue;
          CHECK(!src.path.empty());
          if (named++ < 5) {
            CHECK_PRODIGY_ERROR(ThrowIfFailed(report), ErrorCode::kVerificationFailed, src.path.string());
          }
        }
        if (named > 0) {
          CHECK_PRODIGY_ERROR(
              ThrowIfFailed(report), ErrorCode::kVerificationFailed,
              fmt::format("{} legacy file{} could not be imported", named, named == 1 ? "" : "s"));
        }
        CheckMigrationRecovers(sb, originals, clean.rows, clean.removed);
      }
    }
  }
  MESSAGE(fmt::format("importer faults: {} trials, {} runs reported a problem", trials, failed));
}

}  // namespace
}  // namespace prodigy::test
