// The automatic migration on open: the seed's messages, once; policy off;
// two processes opening at once import once.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include "legacy_util.h"

using namespace prodigy;
using namespace prodigy::test;

namespace {

// Runs fn with stderr sent to a file and returns what was written there.
std::string CaptureStderr(const fs::path& file, const std::function<void()>& fn) {
  std::fflush(stderr);
  const int saved = ::dup(2);
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ::dup2(fd, 2);
  ::close(fd);
  try {
    fn();
  } catch (...) {
    std::fflush(stderr);
    ::dup2(saved, 2);
    ::close(saved);
    throw;
  }
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  return ReadAll(file);
}

// A repository whose global events log is large enough that an import takes
// a noticeable time (so two openers really overlap).
void AddLargeLog(const Sandbox& sb, int lines) {
  std::string text;
  for (int i = 0; i < lines; ++i) text += EventJson(i) + "\n";
  WriteAll(sb.repo / ".prodigy/mapreduce/events/global/events.jsonl", text);
}

}  // namespace

TEST_CASE("the first open migrates with the seed's messages; later opens are silent") {
  Sandbox sb;
  SetupFullFixture(sb);
  std::string err = CaptureStderr(sb.tmp / "err1", [&] {
    GlobalStorage storage = GlobalStorage::OpenWithConfig(sb.repo, AutoConfig(sb));
    CHECK(storage.ReadEvents("global").size() == 7);
    CHECK(storage.ListDlqItems().size() == 4);
  });
  INFO(err);
  CHECK(err.find("Migrating local storage to global storage...\n") == 0);
  CHECK(err.find("Moving .prodigy/mapreduce/events -> " + (sb.root / "my-repo/events").string() + "\n") !=
        std::string::npos);
  CHECK(err.find("Migration complete.") != std::string::npos);
  CHECK(err.find("Left in place: .prodigy/mapreduce/README.txt") != std::string::npos);
  CHECK_FALSE(fs::exists(sb.repo / ".prodigy/session_state.json"));
  CHECK(fs::exists(sb.repo / ".prodigy/config.yml"));

  // The kept files (temporary files, an unknown file) are not reported again.
  err = CaptureStderr(sb.tmp / "err2", [&] { GlobalStorage::OpenWithConfig(sb.repo, AutoConfig(sb)); });
  CHECK(err.empty());

  // New legacy data appearing later (an old Prodigy ran again) is migrated on the next open.
  WriteAll(sb.repo / ".prodigy/mapreduce/events/global/events.jsonl", EventJson(5) + "\n");
  err = CaptureStderr(sb.tmp / "err3", [&] {
    GlobalStorage storage = GlobalStorage::OpenWithConfig(sb.repo, AutoConfig(sb));
    CHECK(storage.ReadEvents("global").size() == 8);
  });
  CHECK(err.find("Migration complete.") != std::string::npos);
}

TEST_CASE("the policy off leaves legacy data alone") {
  Sandbox sb;
  SetupFullFixture(sb);
  const TreeSnapshot before = Snapshot(sb.repo);
  GlobalStorage storage = sb.Open();  // Sandbox::Config() sets kOff
  CHECK(storage.ReadEvents("global").empty());
  CHECK(Snapshot(sb.repo) == before);
  CHECK(FindLegacyRoots(sb.repo, sb.Config()).size() == 5);
}

TEST_CASE("two processes opening the same repository at once import it once") {
  for (int round = 0; round < 3 * StressScale(); ++round) {
    Sandbox sb;
    SetupFullFixture(sb);
    AddLargeLog(sb, 20000);
    int go[2];
    REQUIRE(::pipe(go) == 0);
    pid_t pids[2];
    for (pid_t& pid : pids) {
      pid = ::fork();
      if (pid == 0) {
        ::close(go[1]);
        char c;
        if (::read(go[0], &c, 1) != 1) ::_exit(3);
        const int devnull = ::open("/dev/null", O_WRONLY);
        ::dup2(devnull, 2);
        try {
          GlobalStorage storage = GlobalStorage::OpenWithConfig(sb.repo, AutoConfig(sb));
          ::_exit(storage.ReadEvents("global").size() == 20000 ? 0 : 4);
        } catch (const std::exception& e) {
          std::ofstream(sb.tmp / fmt::format("child-error-{}", ::getpid())) << e.what();
          ::_exit(2);
        }
      }
    }
    ::close(go[0]);
    REQUIRE(::write(go[1], "gg", 2) == 2);
    ::close(go[1]);
    for (pid_t pid : pids) {
      int status = 0;
      ::waitpid(pid, &status, 0);
      CHECK(WIFEXITED(status));
      const fs::path error = sb.tmp / fmt::format("child-error-{}", pid);
      CHECK_MESSAGE(WEXITSTATUS(status) == 0, (fs::exists(error) ? ReadAll(error) : std::string()));
    }
    GlobalStorage storage = sb.Open();
    CHECK(Count(storage, "SELECT count(*) FROM events WHERE job_id = 'global'") == 20000);
    CHECK(Count(storage, "SELECT count(*) FROM import_sources") == 28);
    CHECK(Count(storage, "SELECT count(*) FROM import_sources WHERE status = 'removed'") == 28);
    for (const ImportProblem& p : CheckImports(storage)) FAIL_CHECK(p.path.string() << ": " << p.problem);
    for (const ImportRecord& r : ListImports(storage)) {
      if (r.status != "removed") FAIL_CHECK(r.path.string() << " " << r.status);
    }
  }
}
