// The libpq wrappers: errors that name the server without the password,
// transactions that retry, roll back, and never blindly retry COMMIT.
#include <doctest/doctest.h>

#include <thread>

#include "pg_test_util.h"

using namespace prodigy;
using namespace prodigy::test;
namespace pg = prodigy::internal::pg;

TEST_CASE("bad connections: one clear error naming the server, never the password") {
  const std::string base = ServerUrl();
  auto message_of = [](const std::string& url) -> std::pair<ErrorCode, std::string> {
    try {
      pg::Connection conn(url);
    } catch (const Error& e) {
      return {e.code(), e.message()};
    }
    return {ErrorCode::kInternal, "connected"};
  };

  auto [code, message] =
      message_of("postgresql:///postgres?host=/nonexistent-socket-dir&user=bob&password=hunter2");
  CHECK(code == ErrorCode::kIo);
  CHECK(message.find("cannot reach PostgreSQL server bob@/nonexistent-socket-dir:5432/postgres") == 0);
  CHECK(message.find("hunter2") == std::string::npos);

  std::tie(code, message) =
      message_of(WithParam(WithParam(base, "user", "prodigy_password"), "password", "hunter2"));
  CHECK(code == ErrorCode::kConfig);
  CHECK(message.find("refused the login") != std::string::npos);
  CHECK(message.find("password authentication failed") != std::string::npos);
  CHECK(message.find("hunter2") == std::string::npos);

  std::tie(code, message) = message_of(WithParam(base, "dbname", "no_such_database"));
  CHECK(code == ErrorCode::kConfig);
  CHECK(message.find("database \"no_such_database\" does not exist") != std::string::npos);

  std::tie(code, message) = message_of("postgresql://bob:hunter2@/x?no_such_option=1");
  CHECK(code == ErrorCode::kConfig);
  CHECK(message.find("hunter2") == std::string::npos);

  // The right password works.
  pg::Connection ok(WithParam(WithParam(base, "user", "prodigy_password"), "password", "right-password"));
  CHECK(ok.server().find("prodigy_password@") == 0);
}

TEST_CASE("the connection limit is a busy error that says what to do") {
  TestDatabase db;
  pg::Connection admin(db.url());
  admin.Exec("DROP ROLE IF EXISTS prodigy_limited");  // roles belong to the cluster, not the database
  admin.Exec("CREATE ROLE prodigy_limited LOGIN CONNECTION LIMIT 1");
  const std::string url = WithParam(db.url(), "user", "prodigy_limited");
  {
    pg::Connection first(url);
    try {
      pg::Connection second(url);
      FAIL("second connection allowed");
    } catch (const Error& e) {
      CHECK(e.code() == ErrorCode::kBusy);
      CHECK(e.message().find("has no free connection") != std::string::npos);
    }
  }
  admin.Exec("DROP ROLE prodigy_limited");
}

TEST_CASE("a transaction rolls back on error and retries on deadlock") {
  TestDatabase db;
  pg::Connection conn(db.url());
  conn.Exec("CREATE TABLE t (k int PRIMARY KEY, v int)");
  conn.Exec("INSERT INTO t VALUES (1, 0), (2, 0)");
  CHECK_THROWS_AS(conn.Transaction([&]() {
    conn.Exec("UPDATE t SET v = 1 WHERE k = 1");
    throw Error(ErrorCode::kInvalidArgument, "caller failed");
  }),
                  Error);
  CHECK(conn.Exec("SELECT v FROM t WHERE k = 1").Int(0, 0) == 0);

  // Two connections lock the rows in opposite order: one of them gets
  // 40P01 and is retried; both end up applied.
  std::atomic<int> attempts{0};
  auto worker = [&](int first, int second) {
    pg::Connection c(db.url());
    c.Transaction([&]() {
      attempts++;
      c.Query("UPDATE t SET v = v + 1 WHERE k = $1", {std::to_string(first)});
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      c.Query("UPDATE t SET v = v + 1 WHERE k = $1", {std::to_string(second)});
    });
  };
  std::thread a(worker, 1, 2), b(worker, 2, 1);
  a.join();
  b.join();
  CHECK(attempts >= 3);
  CHECK(conn.Exec("SELECT sum(v) FROM t").Int(0, 0) == 4);
}

TEST_CASE("a server restart between calls: the next transaction reconnects once") {
  TestDatabase db;
  pg::Connection conn(db.url());
  conn.Exec("CREATE TABLE t (k int)");
  // Another session terminates ours, as a restart would.
  pg::Connection admin(db.url());
  const int64_t pid = conn.Exec("SELECT pg_backend_pid()").Int(0, 0);
  admin.Exec("SELECT pg_terminate_backend(" + std::to_string(pid) + ")");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  conn.Transaction([&]() { conn.Exec("INSERT INTO t VALUES (1)"); });
  CHECK(conn.Exec("SELECT count(*) FROM t").Int(0, 0) == 1);
}

TEST_CASE("a connection lost during COMMIT is an unknown outcome, never retried") {
  TestDatabase db;
  pg::Connection conn(db.url());
  conn.Exec("CREATE TABLE t (k int)");
  pg::Connection admin(db.url());
  const int64_t pid = conn.Exec("SELECT pg_backend_pid()").Int(0, 0);
  int runs = 0;
  try {
    conn.Transaction([&]() {
      ++runs;
      conn.Exec("INSERT INTO t VALUES (1)");
      // Killed after the last statement, before COMMIT reaches the server.
      admin.Exec("SELECT pg_terminate_backend(" + std::to_string(pid) + ")");
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    });
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::kIo);
    CHECK(e.message().find("during COMMIT: the write may or may not have been stored") != std::string::npos);
  }
  CHECK(runs == 1);
}
