// The example queries of docs/schema.md run against a populated database.
#include <doctest/doctest.h>

#include <sqlite3.h>

#include <regex>

#include "test_util.h"

using namespace prodigy;
using namespace prodigy::test;

TEST_CASE("every ```sql block of docs/schema.md runs and returns rows") {
  const char* src = std::getenv("PRODIGY_SOURCE_ROOT");
  REQUIRE_MESSAGE(src != nullptr, "PRODIGY_SOURCE_ROOT is set by meson test");
  const std::string doc = ReadAll(fs::path(src) / "docs" / "schema.md");

  Sandbox sb;
  fs::path db;
  {
    auto storage = sb.Open();
    const std::string job = "mapreduce-20250920_170312";
    storage.AppendEvent(job, EventJson(1, "job_started", "m", ""));
    storage.AppendEvent(
        job,
        R"({"id":"a","timestamp":"2025-09-20T17:04:13.501122Z","correlation_id":"c","event":{"event_type":"agent_completed","job_id":"session-1","agent_id":"agent-0-item_0","duration":[61,5000000],"commits":[]},"metadata":{}})");
    storage.AppendEvent(
        job,
        R"({"id":"b","timestamp":"2025-09-20T17:05:13Z","correlation_id":"c","event":{"event_type":"agent_failed","job_id":"session-1","agent_id":"agent-1-item_1","error":"boom","retry_eligible":true},"metadata":{}})");
    storage.AddDlqItem("mapreduce-1", DlqItemJson("item_1", "2025-09-20T17:05:40Z"));
    storage.WriteState("mapreduce-1", StateJson("mapreduce-1", 1));
    storage.SaveSession(SessionJson("session-1", "Interrupted"));
    storage.SaveCheckpoint(CheckpointJson("workflow-1", "2025-09-18T04:00:00Z"));
    db = storage.location().db_path;
  }
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  const std::regex block("```sql\n([\\s\\S]*?)```");
  int queries = 0;
  for (auto it = std::sregex_iterator(doc.begin(), doc.end(), block); it != std::sregex_iterator(); ++it) {
    const std::string sql = (*it)[1].str();
    sqlite3_stmt* st = nullptr;
    REQUIRE_MESSAGE(sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr) == SQLITE_OK,
                    sql << ": " << sqlite3_errmsg(h));
    int rows = 0;
    while (sqlite3_step(st) == SQLITE_ROW) ++rows;
    CHECK_MESSAGE(rows > 0, "no rows from: " << sql);
    sqlite3_finalize(st);
    ++queries;
  }
  sqlite3_close(h);
  CHECK(queries >= 8);
}
