// I/O errors at every step of every write path (issue: reliability campaign).
//
// For each path, a baseline store is made once and copied for every trial.
// A clean run of the path counts its operations of each class; then, for each
// class and each N up to that count, a trial fails the Nth operation (once,
// and from then on) and checks what a user relies on after a failed write:
//   - the call either succeeds or throws prodigy::Error with a message;
//   - PRAGMA integrity_check passes;
//   - the repository holds either exactly what it held before (nothing
//     half-written) or exactly what the clean run produced; a call that
//     reported success always produced the latter;
//   - the next call on the same object succeeds and the mirrors match;
//   - a fresh open sees the same data.
#include <sqlite3.h>

#include <cstdlib>
#include <map>
#include <set>

#include <doctest/doctest.h>

#include "fault_util.h"
#include "fault_vfs.h"

namespace prodigy::test {
namespace {

using fault::Op;

struct FaultKind {
  Op op;
  int error;
  const char* name;
};

// Every class of VFS operation, with the error a real disk gives for it.
const FaultKind kKinds[] = {
    {Op::kRead, SQLITE_IOERR_READ, "IOERR_READ"},
    {Op::kWrite, SQLITE_IOERR_WRITE, "IOERR_WRITE"},
    {Op::kWrite, SQLITE_FULL, "FULL"},
    {Op::kSync, SQLITE_IOERR_FSYNC, "IOERR_FSYNC"},
    {Op::kTruncate, SQLITE_IOERR_TRUNCATE, "IOERR_TRUNCATE"},
    {Op::kLock, SQLITE_IOERR_LOCK, "IOERR_LOCK"},
    {Op::kOpen, SQLITE_CANTOPEN, "CANTOPEN"},
    {Op::kFileSize, SQLITE_IOERR_FSTAT, "IOERR_FSTAT"},
    {Op::kShm, SQLITE_IOERR_SHMMAP, "IOERR_SHMMAP"},
    {Op::kDelete, SQLITE_IOERR_DELETE, "IOERR_DELETE"},
};

// What one path's trials found.
struct Tally {
  int trials = 0;
  int fired = 0;
  int failed_calls = 0;
  int succeeded_despite_fault = 0;
  int committed_but_reported_failed = 0;
};

class PathRunner {
 public:
  explicit PathRunner(const WritePath& path) : path_(path) {
    config_ = sb_.Config();
    config_.synchronous = path.synchronous;
    // Mirror files are written by FlushMirrors() inside the armed window, not
    // by the store's thread at a time of its choosing: the Nth operation is the
    // same one in every trial, and the mirror's reads meet the faults too.
    config_.mirror_delay_ms = 60'000;
    {
      GlobalStorage s = GlobalStorage::OpenWithConfig(sb_.repo, config_);
      path_.setup(s);
      before_ = Fingerprint(s);
    }
    fs::rename(sb_.root, template_);
    // The clean run: the expected result and how many operations of each class it does.
    Restore();
    GlobalStorage s = GlobalStorage::OpenWithConfig(sb_.repo, config_);
    fault::Arm(Op::kAny, 0, SQLITE_OK, false);  // count only
    path_.run(s);
    s.FlushMirrors();
    for (int i = 0; i <= static_cast<int>(Op::kAny); ++i) counts_[i] = fault::Count(static_cast<Op>(i));
    fault::Disarm();
    after_ = Fingerprint(s);
    REQUIRE(after_ != before_);
  }

  void RunAll() {
    for (const FaultKind& kind : kKinds) {
      const int64_t n_max = counts_[static_cast<int>(kind.op)];
      for (int64_t n = 1; n <= n_max; ++n) {
        for (bool persistent : {false, true}) Trial(kind, n, persistent);
      }
    }
    MESSAGE(
        fmt::format("{}: {} trials, {} faults delivered, {} calls failed cleanly, {} succeeded "
                    "despite the fault, {} committed though reported failed",
                    path_.name, tally_.trials, tally_.fired, tally_.failed_calls,
                    tally_.succeeded_despite_fault, tally_.committed_but_reported_failed));
  }

 private:
  void Restore() { ReplaceTree(template_, sb_.root); }

  void Trial(const FaultKind& kind, int64_t n, bool persistent) {
    const std::string path_name = path_.name;
    CAPTURE(path_name);
    const std::string kind_name = kind.name;
    CAPTURE(kind_name);
    CAPTURE(n);
    CAPTURE(persistent);
    Restore();
    ++tally_.trials;
    GlobalStorage s = GlobalStorage::OpenWithConfig(sb_.repo, config_);
    fault::Arm(kind.op, n, kind.error, persistent);
    const auto error = Outcome([&] {
      path_.run(s);
      s.FlushMirrors();
    });
    fault::Disarm();
    if (!fault::Fired()) return;  // the clean run's count differs by a retry: nothing was injected
    ++tally_.fired;
    if (error) {
      ++tally_.failed_calls;
      CHECK_MESSAGE(!error->empty(), "empty error message");
    } else {
      ++tally_.succeeded_despite_fault;
    }
    CHECK(s.CheckIntegrity().empty());
    const std::string now = Fingerprint(s);
    if (error) {
      CHECK_MESSAGE((now == before_ || now == after_), "half-written state after: ", *error);
      if (now == after_) ++tally_.committed_but_reported_failed;
    } else {
      CHECK_MESSAGE(now == after_, "a call that succeeded did not store its change");
    }
    // The same object keeps working: the next write succeeds and mirrors catch up.
    const auto next =
        Outcome([&] { s.AppendEvent("next-call", EventJson(7, "agent_started", "next-call")); });
    CHECK_MESSAGE(!next, "the next call failed: ", next.value_or(""));
    CHECK(s.CheckMirrors().empty());
    // A fresh connection sees the same, sound database.
    GlobalStorage again = GlobalStorage::OpenWithConfig(sb_.repo, config_);
    CHECK(again.CheckIntegrity().empty());
    CHECK(Fingerprint(again) == now);
    CHECK(again.ReadEvents("next-call").size() == 1);
  }

  Sandbox sb_;
  const WritePath& path_;
  StorageConfig config_;
  fs::path template_ = sb_.tmp / "template";
  std::string before_, after_;
  int64_t counts_[static_cast<int>(Op::kAny) + 1] = {};
  Tally tally_;
};

TEST_CASE("every write path survives an I/O error at every operation") {
  fault::Install();
  for (const WritePath& path : WritePaths()) {
    SUBCASE(path.name) {
      PathRunner runner(path);
      runner.RunAll();
    }
  }
}

TEST_CASE("opening and migrating a new database survives an I/O error at every operation") {
  fault::Install();
  int64_t counts[static_cast<int>(Op::kAny) + 1] = {};
  {
    Sandbox sb;
    fault::Arm(Op::kAny, 0, SQLITE_OK, false);
    GlobalStorage s = sb.Open();
    for (int i = 0; i <= static_cast<int>(Op::kAny); ++i) counts[i] = fault::Count(static_cast<Op>(i));
    fault::Disarm();
  }
  int trials = 0, failed = 0;
  for (const FaultKind& kind : kKinds) {
    for (int64_t n = 1; n <= counts[static_cast<int>(kind.op)]; ++n) {
      for (bool persistent : {false, true}) {
        const std::string kind_name = kind.name;
        CAPTURE(kind_name);
        CAPTURE(n);
        CAPTURE(persistent);
        Sandbox sb;
        ++trials;
        fault::Arm(kind.op, n, kind.error, persistent);
        std::optional<GlobalStorage> s;
        const auto error = Outcome([&] { s.emplace(sb.Open()); });
        fault::Disarm();
        if (error) {
          ++failed;
          CHECK(!error->empty());
          CHECK(!s);
        }
        s.reset();
        // After the fault, the database opens, is sound, at the newest schema, and takes writes.
        GlobalStorage again = sb.Open();
        CHECK(again.CheckIntegrity().empty());
        CHECK(again.Info().schema_version >= 2);
        again.AppendEvent("job", EventJson(1, "agent_started", "job"));
        CHECK(again.ReadEvents("job").size() == 1);
      }
    }
  }
  MESSAGE(fmt::format("open/migrate: {} trials, {} failed cleanly", trials, failed));
}

TEST_CASE("the legacy import of every kind survives an I/O error at every operation") {
  fault::Install();
  // The clean run: what a migration stores and removes, and how many operations of each class it does.
  int64_t counts[static_cast<int>(Op::kAny) + 1] = {};
  const CleanMigration clean =
      MigrateFixture([](const Sandbox&) { fault::Arm(Op::kAny, 0, SQLITE_OK, false); },
                     [&] {
                       for (int i = 0; i <= static_cast<int>(Op::kAny); ++i) {
                         counts[i] = fault::Count(static_cast<Op>(i));
                       }
                       fault::Disarm();
                     });
  int trials = 0, failed = 0;
  for (const FaultKind& kind : kKinds) {
    for (const int64_t n : FaultPoints(counts[static_cast<int>(kind.op)])) {
      for (bool persistent : {false, true}) {
        const std::string kind_name = kind.name;
        CAPTURE(kind_name);
        CAPTURE(n);
        CAPTURE(persistent);
        Sandbox sb;
        CopyLegacyFixture(sb);
        const auto originals = Files(sb.repo);
        ++trials;
        fault::Arm(kind.op, n, kind.error, persistent);
        MigrationReport report;
        const auto error = Outcome([&] { report = Migrate(sb.repo, sb.Config()); });
        fault::Disarm();
        if (error || !report.ok()) ++failed;
        if (error) CHECK(!error->empty());
        CheckMigrationRecovers(sb, originals, clean.rows, clean.removed);
      }
    }
  }
  MESSAGE(fmt::format("legacy import: {} trials, {} runs failed cleanly", trials, failed));
}

}  // namespace
}  // namespace prodigy::test
