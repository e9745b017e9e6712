// Bad input: every case gives a clear error naming the thing, and the stored
// data stays as it was.
#include <doctest/doctest.h>

#include <sqlite3.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "test_util.h"
#include "util/sha256.h"

using namespace prodigy;
using namespace prodigy::test;

namespace {

std::string FileHash(const fs::path& p) { return internal::Sha256Hex(ReadAll(p)); }

void RawSql(const fs::path& db, const std::string& sql) {
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &h) == SQLITE_OK);
  REQUIRE(sqlite3_exec(h, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(h);
}

}  // namespace

TEST_CASE("invalid documents are refused with the thing and the field named; nothing changes") {
  Sandbox sb;
  auto storage = sb.Open();
  storage.AppendEvent("j", EventJson(1));
  storage.AddDlqItem("job", DlqItemJson("item", "2025-09-20T17:05:40Z"));

  CHECK_PRODIGY_ERROR(storage.AppendEvent("j", "{not json"), ErrorCode::kInvalidArgument,
                      "event for job j: invalid JSON at byte");
  CHECK_PRODIGY_ERROR(storage.AppendEvent("j", "[1,2]"), ErrorCode::kInvalidArgument,
                      "the document must be a JSON object, not array");
  CHECK_PRODIGY_ERROR(
      storage.AppendEvent("j", R"({"timestamp":"2025-09-20T17:00:00Z","event":{"event_type":"x"}})"),
      ErrorCode::kInvalidArgument, "required field \"id\" is missing");
  CHECK_PRODIGY_ERROR(
      storage.AppendEvent("j", R"({"id":"x","timestamp":"yesterday","event":{"event_type":"x"}})"),
      ErrorCode::kInvalidArgument, "\"timestamp\" is not an RFC 3339 timestamp: \"yesterday\"");
  CHECK_PRODIGY_ERROR(storage.AppendEvent("j", R"({"timestamp":"2024-01-01T00:00:00Z","event":"test"})"),
                      ErrorCode::kInvalidArgument, "required field \"id\" is missing");
  CHECK_PRODIGY_ERROR(
      storage.AppendEvent("j", R"({"id":"x","timestamp":"2024-01-01T00:00:00Z","event":"test"})"),
      ErrorCode::kInvalidArgument, "required object \"event\" is missing");
  CHECK_PRODIGY_ERROR(storage.AppendEvent("j", R"({"id":5,"timestamp":"2024-01-01T00:00:00Z","event":{}})"),
                      ErrorCode::kInvalidArgument, "field \"id\" must be a string, not number");
  CHECK_PRODIGY_ERROR(storage.AddDlqItem("job", R"({"item_data":{}})"), ErrorCode::kInvalidArgument,
                      "DLQ item of job job: required field \"item_id\" is missing");
  CHECK_PRODIGY_ERROR(storage.AddDlqItem("job", R"({"item_id":"","first_attempt":"2025-09-20T17:05:40Z"})"),
                      ErrorCode::kInvalidArgument, "item_id is empty");
  CHECK_PRODIGY_ERROR(storage.AddDlqItem("job", R"({"item_id":"i","first_attempt":"2025-09-20T17:05:40Z"})"),
                      ErrorCode::kInvalidArgument,
                      "DLQ item i of job job: required field \"last_attempt\" is missing");
  CHECK_PRODIGY_ERROR(storage.WriteState("j", R"({"job_id":"j"})"), ErrorCode::kInvalidArgument,
                      "state of job j: required field \"checkpoint_version\"");
  CHECK_PRODIGY_ERROR(storage.WriteState("j", R"({"job_id":"j","checkpoint_version":-1})"),
                      ErrorCode::kInvalidArgument, "checkpoint_version");
  CHECK_PRODIGY_ERROR(storage.SaveSession(R"({"status":"Completed"})"), ErrorCode::kInvalidArgument,
                      "session: required field \"session_id\"");
  CHECK_PRODIGY_ERROR(storage.SaveCheckpoint(R"({"version":1})"), ErrorCode::kInvalidArgument,
                      "workflow checkpoint: required field \"workflow_id\" is missing");
  CHECK_PRODIGY_ERROR(storage.SaveSession("{\"session_id\":\"\xff\"}"), ErrorCode::kInvalidArgument,
                      "session: invalid JSON");
  CHECK_PRODIGY_ERROR(storage.ReadState(std::string(5000, 'x')), ErrorCode::kInvalidArgument,
                      "ids are limited to 4096 bytes");
  CHECK_PRODIGY_ERROR(storage.GetDlqItem("job", "\xc3"), ErrorCode::kInvalidArgument,
                      "item id is not valid UTF-8");

  CHECK(storage.ReadEvents("j").size() == 1);
  CHECK(storage.ListDlqItems().size() == 1);
  CHECK(storage.Info().counts.job_states == 0);
  CHECK(storage.Info().counts.sessions == 0);
  CHECK(storage.CheckMirrors().empty());
}

TEST_CASE("a file named prodigy.db that is not a database is refused and left alone" *
          doctest::test_suite("sqlite")) {
  Sandbox sb;
  const fs::path db = sb.root / "my-repo" / "prodigy.db";
  WriteAll(db, std::string(8192, 'Z'));
  const std::string before = FileHash(db);
  CHECK_PRODIGY_ERROR(sb.Open(), ErrorCode::kCorruption, db.string() + " is not a prodigy-store database");
  CHECK(FileHash(db) == before);
  CHECK_FALSE(fs::exists(db.string() + "-wal"));
}

TEST_CASE("a SQLite database of another program is refused without a write" * doctest::test_suite("sqlite")) {
  Sandbox sb;
  const fs::path db = sb.root / "my-repo" / "prodigy.db";
  fs::create_directories(db.parent_path());
  RawSql(db, "CREATE TABLE bookmarks (url TEXT); INSERT INTO bookmarks VALUES ('x');");
  const std::string before = FileHash(db);
  CHECK_PRODIGY_ERROR(sb.Open(), ErrorCode::kCorruption,
                      "is a SQLite database of something else (tables: bookmarks)");
  CHECK(FileHash(db) == before);
}

TEST_CASE("a database from a newer prodigy-store is refused without a write" *
          doctest::test_suite("sqlite")) {
  Sandbox sb;
  fs::path db;
  {
    auto storage = sb.Open();
    storage.AppendEvent("j", EventJson(1));
    db = storage.location().db_path;
  }
  RawSql(db, "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA user_version = 999;");
  RawSql(db, "PRAGMA wal_checkpoint(TRUNCATE);");
  const std::string before = FileHash(db);
  CHECK_PRODIGY_ERROR(sb.Open(), ErrorCode::kTooNew,
                      "has schema version 999, newer than this prodigy-store knows");
  CHECK(FileHash(db) == before);
}

TEST_CASE("a damaged database is reported as corruption, never as success" * doctest::test_suite("sqlite")) {
  Sandbox sb;
  fs::path db;
  {
    auto storage = sb.Open();
    std::vector<std::string> batch;
    for (int i = 0; i < 3000; ++i) batch.push_back(EventJson(i));
    storage.AppendEvents("j", batch);
    db = storage.location().db_path;
  }
  RawSql(db, "PRAGMA wal_checkpoint(TRUNCATE);");
  {
    // Overwrite pages in the middle of the file (the header stays intact).
    std::fstream f(db, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(db) / 2));
    const std::string junk(20000, '\x5a');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  bool reported = false;
  try {
    auto storage = sb.Open();
    auto problems = storage.CheckIntegrity();
    reported = !problems.empty();
    if (!reported) storage.ReadEvents("j");
  } catch (const Error& e) {
    reported = e.code() == ErrorCode::kCorruption;
    CHECK_MESSAGE(reported, e.message());
  }
  CHECK(reported);
}

TEST_CASE("an unusable storage root is a clear error naming the path" * doctest::test_suite("sqlite")) {
  Sandbox sb;
  StorageConfig config = sb.Config();

  WriteAll(sb.root, "a file where the root should be");
  CHECK_PRODIGY_ERROR(GlobalStorage::OpenWithConfig(sb.repo, config), ErrorCode::kConfig,
                      "storage root " + sb.root.string() + " (from flag) is a file, not a folder");

  config.storage_dir = sb.root / "below-a-file";
  CHECK_PRODIGY_ERROR(GlobalStorage::OpenWithConfig(sb.repo, config), ErrorCode::kConfig,
                      (sb.root / "below-a-file").string());

  // Permissions do not stop root, so the unwritable case runs as "nobody".
  const fs::path locked = sb.tmp / "locked";
  fs::create_directories(locked);
  ::chmod(sb.tmp.path().c_str(), 0755);
  ::chmod(sb.repo.c_str(), 0755);
  ::chmod(locked.c_str(), 0555);
  config.storage_dir = locked;
  const int code = RunChild([&] {
    if (::getuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) return 10;
    try {
      GlobalStorage::OpenWithConfig(sb.repo, config);
      return 1;
    } catch (const Error& e) {
      const bool ok = e.code() == ErrorCode::kConfig &&
                      e.message().find(locked.string() + " (from flag) is not writable") != std::string::npos;
      if (!ok) std::fprintf(stderr, "unexpected: %s\n", e.what());
      return ok ? 0 : 2;
    }
  });
  CHECK(code == 0);
  CHECK(fs::is_empty(locked));
}

TEST_CASE("a full disk fails the write with a clear error and keeps what was stored") {
  TempDir tmp;
  const fs::path mnt = tmp / "small";
  fs::create_directories(mnt);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=600k") != 0) {
    // Mounting needs CAP_SYS_ADMIN; CI runs as root on machines where it works.
    FAIL("cannot mount a small tmpfs to fill (", std::strerror(errno), "): run the tests as root");
    return;
  }
  struct Unmount {
    fs::path p;
    ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } unmount{mnt};
  fs::create_directories(tmp / "repo");
  ResolveOptions o;
  o.use_process_env = false;
  o.storage_dir_flag = mnt / "root";
  StorageConfig config = ResolveConfig(o);
  config.mirrors = false;
  auto storage = GlobalStorage::OpenWithConfig(tmp / "repo", config);
  storage.AppendEvent("j", EventJson(0));
  const std::string big(20000, 'x');
  bool failed = false;
  int stored = 1;
  for (int i = 1; i < 200 && !failed; ++i) {
    std::vector<std::string> batch;
    for (int k = 0; k < 5; ++k) {
      std::string e = EventJson(i * 10 + k);
      e.insert(e.size() - 1, ",\"pad\":\"" + big + "\"");
      batch.push_back(e);
    }
    try {
      storage.AppendEvents("j", batch);
      stored += 5;
    } catch (const Error& e) {
      failed = true;
      CHECK(e.code() == ErrorCode::kIo);
      CHECK_MESSAGE(e.message().find("the disk is full") != std::string::npos, e.message());
    }
  }
  CHECK(failed);
  // Everything committed before the failure is still there, nothing half-written.
  CHECK(storage.CountEvents({}) == stored);
  CHECK(storage.CheckIntegrity().empty());
}
