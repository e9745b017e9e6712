// JSON mirror files: layout, content, hostile ids, switch, regeneration, parity,
// healing, and when they are written (the delay, "sync").
#include <doctest/doctest.h>
#include <signal.h>

#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "test_util.h"

using namespace prodigy;
using namespace prodigy::test;

namespace {

// Every regular file under dir, relative to it.
std::set<std::string> Files(const fs::path& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) out.insert(fs::relative(e.path(), dir).string());
  }
  return out;
}

}  // namespace

TEST_CASE("mirrors are written in Prodigy's layout and shapes, by each call (\"sync\") or by FlushMirrors") {
  for (const bool sync : {true, false}) {
    CAPTURE(sync);
    Sandbox sb;
    StorageConfig config = sb.Config();
    config.mirror_delay_ms = sync ? 0 : 60'000;  // 60 s: only FlushMirrors writes within the test
    auto storage = GlobalStorage::OpenWithConfig(sb.repo, config);
    const auto settle = [&] {
      if (!sync) storage.FlushMirrors();
    };
    const fs::path dir = storage.location().dir;
    storage.AppendEvent("mapreduce-20250920_170312", EventJson(1));
    storage.AppendEvent("mapreduce-20250920_170312", EventJson(2));
    settle();
    CHECK(ReadAll(dir / "events/mapreduce-20250920_170312/events.jsonl") ==
          EventJson(1) + "\n" + EventJson(2) + "\n");

    storage.AddDlqItem("mapreduce-1", DlqItemJson("item_2", "2025-09-20T17:05:40.000095Z"));
    settle();
    CHECK(ReadAll(dir / "dlq/mapreduce-1/items/item_2.json") ==
          DlqItemJson("item_2", "2025-09-20T17:05:40.000095Z"));
    auto index = nlohmann::json::parse(ReadAll(dir / "dlq/mapreduce-1/index.json"));
    CHECK(index["item_count"] == 1);
    CHECK(index["item_ids"] == nlohmann::json::array({"item_2"}));
    CHECK(index["job_id"] == "mapreduce-1");
    CHECK(ReadAll(dir / "dlq/mapreduce-1/index.json")
              .starts_with("{\n  \"item_count\": 1,\n  \"item_ids\": ["));

    for (int v = 1; v <= 4; ++v) storage.WriteState("mapreduce-1", StateJson("mapreduce-1", v));
    settle();
    CHECK(Files(dir / "state/mapreduce-1") == std::set<std::string>{"checkpoint-v2.json",
                                                                    "checkpoint-v3.json",
                                                                    "checkpoint-v4.json", "metadata.json"});
    CHECK(ReadAll(dir / "state/mapreduce-1/checkpoint-v4.json") == StateJson("mapreduce-1", 4));
    auto meta = nlohmann::ordered_json::parse(ReadAll(dir / "state/mapreduce-1/metadata.json"));
    CHECK(meta["path"] == (dir / "state/mapreduce-1/checkpoint-v4.json").string());
    CHECK(meta["version"] == 4);
    CHECK(meta["size_bytes"] == StateJson("mapreduce-1", 4).size());
    CHECK(meta.begin().key() == "path");

    storage.SaveSession(SessionJson("session-1", "InProgress"));
    settle();
    CHECK(ReadAll(dir / "sessions/session-1.json") == SessionJson("session-1", "InProgress"));
    storage.SaveCheckpoint(CheckpointJson("workflow-1", "2025-09-18T04:00:00Z"));
    settle();
    CHECK(ReadAll(dir / "checkpoints/workflow-1.checkpoint.json") ==
          CheckpointJson("workflow-1", "2025-09-18T04:00:00Z"));

    // Removals follow.
    storage.RemoveDlqItem("mapreduce-1", "item_2");
    settle();
    CHECK_FALSE(fs::exists(dir / "dlq/mapreduce-1"));
    storage.DeleteSession("session-1");
    settle();
    CHECK_FALSE(fs::exists(dir / "sessions/session-1.json"));
    CHECK(storage.CheckMirrors().empty());
  }
}

TEST_CASE("hostile ids never write outside their folder") {
  Sandbox sb;
  auto storage = sb.Open();
  const fs::path dir = storage.location().dir;
  const std::string long_id(5000 / 2, 'x');
  const std::vector<std::string> ids = {"../../escape", "/etc/passwd", "a/b/c", "..",    ".",
                                        ".hidden",      "back\\slash", "%2F",   long_id, "caf\xc3\xa9"};
  for (const auto& id : ids) {
    storage.AppendEvent(id, EventJson(1));
    storage.AddDlqItem("job", DlqItemJson(id, "2025-09-20T17:05:40Z"));
  }
  storage.FlushMirrors();
  // Nothing appeared outside the repository's folder...
  for (const auto& e : fs::recursive_directory_iterator(sb.tmp.path())) {
    if (!e.is_regular_file()) continue;
    CHECK_MESSAGE(e.path().string().starts_with(dir.string() + "/"), e.path().string());
  }
  // ...every id has its own event folder, directly under events/, and the names are distinct.
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir / "events")) names.insert(e.path().filename().string());
  CHECK(names.size() == ids.size());
  for (const auto& n : names) {
    CHECK(n.size() <= 200);
    CHECK(n.find('/') == std::string::npos);
    CHECK(n != "..");
    CHECK(n[0] != '.');
  }
  CHECK(EncodeFileName("a/b") == "a%2Fb");
  CHECK(EncodeFileName("..") == "%2E.");
  CHECK(EncodeFileName(std::string("a\0b", 3)) == "a%00b");
  CHECK(EncodeFileName("100%") == "100%25");
  CHECK(EncodeFileName("mapreduce-1758387792480") == "mapreduce-1758387792480");
  CHECK(EncodeFileName(long_id) != EncodeFileName(long_id + "y"));
  CHECK(storage.CheckMirrors().empty());
  // NUL and empty ids are refused before any file name is made.
  CHECK_PRODIGY_ERROR(storage.AppendEvent(std::string("a\0b", 3), EventJson(1)), ErrorCode::kInvalidArgument,
                      "job id contains a NUL byte");
  CHECK_PRODIGY_ERROR(storage.AppendEvent("", EventJson(1)), ErrorCode::kInvalidArgument, "job id is empty");
}

TEST_CASE("mirrors can be switched off, and regenerated when switched on") {
  Sandbox sb;
  StorageConfig off = sb.Config();
  off.mirrors = false;
  {
    auto storage = GlobalStorage::OpenWithConfig(sb.repo, off);
    for (int i = 0; i < 1100; ++i) storage.AppendEvent("j", EventJson(i));  // crosses a change-log collapse
    storage.SaveSession(SessionJson("s", "Completed"));
    CHECK_FALSE(fs::exists(storage.location().dir / "events"));
    CHECK_FALSE(fs::exists(storage.location().dir / "sessions"));
    CHECK(storage.CheckMirrors().empty());  // nothing to compare when off
  }
  auto storage = sb.Open();  // mirrors on: opening heals the gap
  CHECK(ReadAll(storage.location().dir / "sessions/s.json") == SessionJson("s", "Completed"));
  CHECK(storage.CheckMirrors().empty());
}

TEST_CASE("check finds missing, changed and stray files; regenerate repairs them") {
  Sandbox sb;
  auto storage = sb.Open();
  const fs::path dir = storage.location().dir;
  storage.AppendEvent("j", EventJson(1));
  storage.SaveSession(SessionJson("s", "Completed"));
  storage.AddDlqItem("job", DlqItemJson("i", "2025-09-20T17:05:40Z"));
  storage.FlushMirrors();
  fs::remove(dir / "sessions/s.json");
  WriteAll(dir / "dlq/job/items/i.json", "tampered");
  WriteAll(dir / "events/j/events.jsonl", EventJson(1) + "\n" + "extra line\n");
  WriteAll(dir / "checkpoints/ghost.checkpoint.json", "{}");
  auto problems = storage.CheckMirrors();
  std::map<std::string, std::string> by_path;
  for (const auto& p : problems) by_path[fs::relative(p.path, dir).string()] = p.problem;
  CHECK(by_path["sessions/s.json"] == "missing");
  CHECK(by_path["dlq/job/items/i.json"] == "differs from the database");
  CHECK(by_path["events/j/events.jsonl"] == "differs from the database");
  CHECK(by_path["checkpoints/ghost.checkpoint.json"].starts_with("unexpected file"));
  CHECK(problems.size() == 4);
  storage.RegenerateMirrors();
  CHECK(storage.CheckMirrors().empty());
  CHECK_FALSE(fs::exists(dir / "checkpoints/ghost.checkpoint.json"));
}

TEST_CASE("a torn events mirror is detected and rewritten by the next append") {
  Sandbox sb;
  auto storage = sb.Open();
  const fs::path file = storage.location().dir / "events/j/events.jsonl";
  storage.AppendEvent("j", EventJson(1));
  storage.FlushMirrors();
  {
    std::ofstream out(file, std::ios::app);
    out << "{\"half a li";  // as if a process died in the middle of a write
  }
  storage.AppendEvent("j", EventJson(2));
  storage.FlushMirrors();
  CHECK(ReadAll(file) == EventJson(1) + "\n" + EventJson(2) + "\n");
}

TEST_CASE("a crash between commit and mirror write is healed on the next open") {
  Sandbox sb;
  fs::path dir;
  {
    auto storage = sb.Open();
    dir = storage.location().dir;
    storage.AppendEvent("j", EventJson(1));
    storage.SaveSession(SessionJson("s", "InProgress"));
  }
  // The state after a crash right after COMMIT: rows exist, files and marks do not.
  fs::remove_all(dir / "events");
  fs::remove_all(dir / "sessions");
  fs::remove(dir / ".mirror-mark");
  auto storage = sb.Open();
  CHECK(ReadAll(dir / "events/j/events.jsonl") == EventJson(1) + "\n");
  CHECK(ReadAll(dir / "sessions/s.json") == SessionJson("s", "InProgress"));
  CHECK(storage.CheckMirrors().empty());
}

TEST_CASE("mirror marks of a deleted database do not hide the new database's data") {
  Sandbox sb;
  fs::path dir;
  {
    auto storage = sb.Open();
    dir = storage.location().dir;
    for (int i = 0; i < 20; ++i) storage.AppendEvent("j", EventJson(i));
    storage.SaveSession(SessionJson("old", "Completed"));
  }
  for (const char* f : {"prodigy.db", "prodigy.db-wal", "prodigy.db-shm"}) fs::remove(dir / f);
  auto storage = sb.Open();
  storage.AppendEvent("j", EventJson(100));
  storage.FlushMirrors();
  CHECK(ReadAll(dir / "events/j/events.jsonl") == EventJson(100) + "\n");
  CHECK_FALSE(fs::exists(dir / "sessions/old.json"));
  CHECK(storage.CheckMirrors().empty());
}

// ---- When the files are written (mirror_delay_ms, mirrors = "sync") ----------

TEST_CASE("by default commits are mirrored together after the delay, at once by FlushMirrors and on close") {
  Sandbox sb;
  StorageConfig config = sb.Config();
  config.mirror_delay_ms = 60'000;  // longer than the test: only FlushMirrors and close write
  fs::path file;
  {
    auto storage = GlobalStorage::OpenWithConfig(sb.repo, config);
    file = storage.location().dir / "events/j/events.jsonl";
    storage.AppendEvent("j", EventJson(1));
    storage.AppendEvent("j", EventJson(2));
    storage.SaveSession(SessionJson("s", "InProgress"));
    CHECK_FALSE(fs::exists(file));  // within the delay: not yet
    CHECK_FALSE(fs::exists(storage.location().dir / "sessions/s.json"));
    storage.FlushMirrors();
    CHECK(ReadAll(file) == EventJson(1) + "\n" + EventJson(2) + "\n");
    CHECK(ReadAll(storage.location().dir / "sessions/s.json") == SessionJson("s", "InProgress"));
    storage.AppendEvent("j", EventJson(3));
    // CheckMirrors writes what is pending first: lag is not a problem.
    CHECK(storage.CheckMirrors().empty());
    CHECK(ReadAll(file) == EventJson(1) + "\n" + EventJson(2) + "\n" + EventJson(3) + "\n");
    storage.AppendEvent("j", EventJson(4));
    storage.UpdateSessionStatus("s", "Completed");
  }  // close
  CHECK(ReadAll(file) ==
        EventJson(1) + "\n" + EventJson(2) + "\n" + EventJson(3) + "\n" + EventJson(4) + "\n");
  auto storage = sb.Open();
  CHECK(storage.CheckMirrors().empty());
}

TEST_CASE("a commit is mirrored within mirror_delay_ms with no further call") {
  Sandbox sb;
  StorageConfig config = sb.Config();
  config.mirror_delay_ms = 50;
  auto storage = GlobalStorage::OpenWithConfig(sb.repo, config);
  const fs::path file = storage.location().dir / "events/j/events.jsonl";
  for (int round = 1; round <= 3; ++round) {  // a quiet spell between rounds
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 50; ++i) storage.AppendEvent("j", EventJson(round * 100 + i));
    std::string expected;
    for (int r = 1; r <= round; ++r) {
      for (int i = 0; i < 50; ++i) expected += EventJson(r * 100 + i) + "\n";
    }
    // Polled, not slept: the bound is 50 ms plus one write of the files; the
    // generous limit only keeps a loaded machine from failing the test.
    while (!(fs::exists(file) && ReadAll(file) == expected) &&
           std::chrono::steady_clock::now() - start < std::chrono::seconds(20)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    CHECK(ReadAll(file) == expected);
  }
}

TEST_CASE("mirrors = \"sync\" writes the files before each call returns") {
  Sandbox sb;
  WriteAll(sb.root / "config.toml", "mirrors = \"sync\"\n");
  auto storage = sb.Open();
  REQUIRE(storage.config().mirror_delay_ms == 0);
  const fs::path dir = storage.location().dir;
  std::string expected;
  for (int i = 0; i < 5; ++i) {
    storage.AppendEvent("j", EventJson(i));
    expected += EventJson(i) + "\n";
    CHECK(ReadAll(dir / "events/j/events.jsonl") == expected);
  }
  storage.AddDlqItem("job", DlqItemJson("i", "2025-09-20T17:05:40Z"));
  CHECK(ReadAll(dir / "dlq/job/items/i.json") == DlqItemJson("i", "2025-09-20T17:05:40Z"));
}

TEST_CASE("a process killed before its mirror delay passed leaves files the next open heals") {
  Sandbox sb;
  StorageConfig config = sb.Config();
  config.mirror_delay_ms = 60'000;
  const int status = RunChild([&] {
    auto storage = GlobalStorage::OpenWithConfig(sb.repo, config);
    for (int i = 0; i < 10; ++i) storage.AppendEvent("j", EventJson(i));
    storage.SaveSession(SessionJson("s", "InProgress"));
    ::kill(::getpid(), SIGKILL);  // acknowledged, not yet mirrored
    return 0;
  });
  REQUIRE(status == 128 + SIGKILL);
  auto storage = sb.Open();
  std::string expected;
  for (int i = 0; i < 10; ++i) expected += EventJson(i) + "\n";
  CHECK(ReadAll(storage.location().dir / "events/j/events.jsonl") == expected);
  CHECK(ReadAll(storage.location().dir / "sessions/s.json") == SessionJson("s", "InProgress"));
  CHECK(storage.CheckMirrors().empty());
}
