// prodigy-pg-bench: the PostgreSQL engine against raw libpq doing the same
// work on the same schema (tools/bench.sh postgres starts the server).
//
//   1. append, one event per transaction     (engine Write vs BEGIN/lock/INSERT/UPDATE/COMMIT)
//   2. append, 1000 events per transaction
//   3. a filtered query (one job, one type) over the loaded events, paged as QueryEvents pages
//   4. sync --to of a SQLite store         (vs reading SQLite and COPY without verification)
//
// Usage: prodigy-pg-bench quick|full   with PRODIGY_BENCH_PG_URL naming the server.
#include <sqlite3.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <fmt/format.h>

#include "bench_util.h"
#include "engine/tables.h"
#include "postgres/connection.h"
#include "postgres/migrations.h"
#include "postgres/postgres_engine.h"
#include "prodigy/prodigy.h"

namespace prodigy::bench {
namespace {

namespace pg = internal::pg;
namespace tables = engine::tables;
using engine::Value;

std::string g_server;
int g_db = 0;

// A fresh database on the server, with the engine's schema.
std::string FreshDatabase() {
  const std::string name = fmt::format("prodigy_bench_{}_{}", ::getpid(), g_db++);
  pg::Connection admin(g_server);
  admin.Exec("CREATE DATABASE " + name);
  const std::string url = g_server + (g_server.find('?') == std::string::npos ? "?" : "&") + "dbname=" + name;
  pg::Connection conn(url);
  pg::ApplyMigrations(conn);
  return url;
}

Event MakeEvent(int64_t n) {
  Event e;
  e.job_id = fmt::format("mapreduce-{:02}", n % 20);
  e.record_id = fmt::format("00000000-0000-0000-0000-{:012}", n);
  e.timestamp = "2025-09-20T17:03:12.123456Z";
  e.ts_ns = 1758387792123456000 + n;
  static const char* kTypes[] = {"agent_started", "agent_completed", "agent_failed", "work_item_claimed",
                                 "dlq_item_added"};
  e.event_type = kTypes[n % 5];
  e.event_name = kTypes[n % 5];
  e.agent_id = fmt::format("agent-{}", n % 8);
  e.json = fmt::format(
      R"({{"id":"{}","timestamp":"{}","correlation_id":"c","event":{{"event_type":"{}","job_id":"{}",)"
      R"("agent_id":"{}","item_id":"item-{}","duration_ms":1234,"message":"{}"}},"metadata":{{}}}})",
      e.record_id, e.timestamp, e.event_type, e.job_id, e.agent_id, n, std::string(600, 'x'));
  return e;
}

StorageConfig ConfigFor(const std::string& url) {
  StorageConfig config;
  config.storage_url = url;
  return config;
}

// The raw libpq baseline's append: the same statements the engine sends.
void RawAppend(pg::Connection& conn, int64_t first, int count) {
  conn.Exec("BEGIN");
  int64_t seq = conn.Exec("SELECT last_seq FROM repositories WHERE id = 1 FOR UPDATE").Int(0, 0);
  for (int i = 0; i < count; ++i) {
    const Event e = MakeEvent(first + i);
    const std::string s = std::to_string(++seq), ts = std::to_string(*e.ts_ns);
    conn.Query(
        "INSERT INTO events (repo_id, seq, job_id, record_id, timestamp, ts_ns, event_type, event_name, "
        "agent_id, json) "
        "VALUES (1, $1, $2, $3, $4, $5, $6, $7, $8, $9)",
        {s, e.job_id, e.record_id, e.timestamp, ts, e.event_type, e.event_name, e.agent_id, e.json});
  }
  conn.Query("UPDATE repositories SET last_seq = $1 WHERE id = 1", {std::to_string(seq)});
  conn.Exec("COMMIT");
}

double EngineAppend(int transactions, int per_txn) {
  auto eng = internal::OpenPostgresEngine(ConfigFor(FreshDatabase()), {"bench", "bench", "/bench"});
  Stopwatch watch;
  int64_t n = 0;
  for (int t = 0; t < transactions; ++t) {
    eng->Write([&](engine::WriteTxn& txn) {
      for (int i = 0; i < per_txn; ++i) {
        const Event e = MakeEvent(n++);
        std::array<Value, 14> row;
        tables::kEventCodec.Values(e, {}, &row);
        txn.AppendEvent(row);
      }
    });
  }
  return watch.Seconds();
}

double RawAppendRun(int transactions, int per_txn) {
  const std::string url = FreshDatabase();
  pg::Connection conn(url);
  conn.Exec(
      "INSERT INTO repositories (key, name, canonical_path, created_at) VALUES ('bench', 'b', '/b', 'now')");
  Stopwatch watch;
  for (int t = 0; t < transactions; ++t) RawAppend(conn, static_cast<int64_t>(t) * per_txn, per_txn);
  return watch.Seconds();
}

void Print(const std::string& workload, double ours, double raw, const std::string& unit, double units) {
  std::printf("| %-44s | %12.0f %s/s | %12.0f %s/s | %5.2f |\n", workload.c_str(), units / ours, unit.c_str(),
              units / raw, unit.c_str(), raw / ours);
}

}  // namespace

int Main(int argc, char** argv) {
  const bool full = argc > 1 && std::string(argv[1]) == "full";
  const char* url = std::getenv("PRODIGY_BENCH_PG_URL");
  if (url == nullptr) {
    std::fprintf(stderr, "PRODIGY_BENCH_PG_URL is not set (tools/bench.sh postgres starts a server)\n");
    return 2;
  }
  g_server = url;
  const int singles = full ? 5000 : 500;
  const int batches = full ? 200 : 20;
  const int64_t loaded = full ? 1000000 : 50000;
  std::printf("| workload (%s) | prodigy-store | raw libpq | ratio |\n|---|---|---|---|\n",
              full ? "full" : "quick");

  Print(fmt::format("append, 1 per transaction (x{})", singles), EngineAppend(singles, 1),
        RawAppendRun(singles, 1), "events", singles);
  Print(fmt::format("append, 1000 per transaction (x{})", batches), EngineAppend(batches, 1000),
        RawAppendRun(batches, 1000), "events", batches * 1000.0);

  // 3: load once through the engine, then query both ways.
  {
    const std::string db = FreshDatabase();
    auto eng = internal::OpenPostgresEngine(ConfigFor(db), {"bench", "bench", "/bench"});
    for (int64_t n = 0; n < loaded;) {
      eng->Write([&](engine::WriteTxn& txn) {
        for (int i = 0; i < 5000 && n < loaded; ++i) {
          const Event e = MakeEvent(n++);
          std::array<Value, 14> row;
          tables::kEventCodec.Values(e, {}, &row);
          txn.AppendEvent(row);
        }
      });
    }
    EventQuery q;
    q.job_id = "mapreduce-06";  // n % 20 == 6: every one of its events is agent_completed
    q.types = {"agent_completed"};
    int64_t ours_rows = 0;
    Stopwatch ours;
    for (bool more = true; more;) {
      int64_t page = 0;
      eng->Read([&](engine::ReadTxn& txn) {
        txn.QueryEvents(q, 1000, [&](const engine::RowView& r) {
          q.after_seq = r.Int(0);
          ++page;
          return true;
        });
      });
      ours_rows += page;
      more = page == 1000;
    }
    const double ours_s = ours.Seconds();
    pg::Connection conn(db);
    Stopwatch raw;
    pg::Result res = conn.Query(
        "SELECT seq, json FROM events WHERE repo_id = 1 AND job_id = $1 AND event_name = $2 ORDER BY seq",
        {"mapreduce-06", "agent_completed"});
    const double raw_s = raw.Seconds();
    if (res.rows() != ours_rows)
      std::fprintf(stderr, "query: %d raw rows, %lld ours\n", res.rows(), (long long)ours_rows);
    Print(fmt::format("filtered query over {} events ({} rows)", loaded, ours_rows), ours_s, raw_s, "rows",
          static_cast<double>(ours_rows));
  }

  // 4: sync --to of a SQLite store with the loaded number of events.
  {
    TempDir tmp("pg-bench-sync");
    const fs::path repo = tmp.path() / "repo";
    fs::create_directories(repo);
    ResolveOptions options;
    options.use_process_env = false;
    options.storage_dir_flag = tmp.path() / "root";
    options.home = tmp.path().string();
    StorageConfig config = ResolveConfig(options);
    config.mirrors = false;
    {
      GlobalStorage s = GlobalStorage::OpenWithConfig(repo, config);
      std::vector<std::string> batch;
      for (int64_t n = 0; n < loaded; ++n) {
        batch.push_back(MakeEvent(n).json);
        if (batch.size() == 10000 || n + 1 == loaded) {
          s.AppendEvents(fmt::format("mapreduce-{:02}", n % 20), batch);
          batch.clear();
        }
      }
    }
    SyncOptions sync;
    sync.url = FreshDatabase();
    Stopwatch ours;
    SyncToServer(repo, config, sync);
    const double ours_s = ours.Seconds();

    // Raw: read the same rows from SQLite and COPY them, without verification.
    pg::Connection conn(FreshDatabase());
    conn.Exec(
        "INSERT INTO repositories (key, name, canonical_path, created_at) VALUES ('bench', 'b', '/b', "
        "'now')");
    Stopwatch raw;
    sqlite3* db = nullptr;
    sqlite3_open_v2((tmp.path() / "root/repo/prodigy.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "SELECT seq, job_id, record_id, json FROM events ORDER BY seq", -1, &st, nullptr);
    conn.Exec("BEGIN");
    conn.CopyIn("COPY events (repo_id, seq, job_id, record_id, json) FROM STDIN", [&]() {
      std::string buf;
      while (sqlite3_step(st) == SQLITE_ROW) {
        buf += fmt::format("1\t{}\t{}\t{}\t", sqlite3_column_int64(st, 0),
                           reinterpret_cast<const char*>(sqlite3_column_text(st, 1)),
                           reinterpret_cast<const char*>(sqlite3_column_text(st, 2)));
        for (const char* p = reinterpret_cast<const char*>(sqlite3_column_text(st, 3)); *p; ++p) {
          if (*p == '\\')
            buf += "\\\\";
          else
            buf += *p;
        }
        buf += '\n';
        if (buf.size() > (1 << 20)) {
          conn.PutCopyData(buf);
          buf.clear();
        }
      }
      if (!buf.empty()) conn.PutCopyData(buf);
    });
    conn.Exec("COMMIT");
    sqlite3_finalize(st);
    sqlite3_close(db);
    Print(fmt::format("sync --to, {} events (verified both sides)", loaded), ours_s, raw.Seconds(), "events",
          static_cast<double>(loaded));
  }
  return 0;
}

}  // namespace prodigy::bench

int main(int argc, char** argv) {
  try {
    return prodigy::bench::Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "prodigy-pg-bench: %s\n", e.what());
    return 1;
  }
}
