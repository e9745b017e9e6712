// Helpers for tests against the PostgreSQL server named by
// PRODIGY_TEST_PG_URL (tests/servers/with_postgres.sh starts one when unset):
// each test gets its own fresh database, dropped at scope exit.
#ifndef PRODIGY_TESTS_PG_TEST_UTIL_H_
#define PRODIGY_TESTS_PG_TEST_UTIL_H_

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>

#include <fmt/format.h>

#include "postgres/connection.h"
#include "test_util.h"

namespace prodigy::test {

// The server's URL; aborts the test run when it is not set (the suites are
// registered behind tests/servers/with_postgres.sh, which always sets it).
inline std::string ServerUrl() {
  const char* url = std::getenv("PRODIGY_TEST_PG_URL");
  if (url == nullptr || *url == '\0') {
    std::fprintf(stderr, "PRODIGY_TEST_PG_URL is not set: run through tests/servers/with_postgres.sh\n");
    std::abort();
  }
  return url;
}

// `base` with its database replaced by `db` (libpq: a later dbname wins).
inline std::string WithParam(const std::string& base, const std::string& key, const std::string& value) {
  return base + (base.find('?') == std::string::npos ? "?" : "&") + key + "=" + value;
}

// A fresh database on the test server, dropped at scope exit.
class TestDatabase {
 public:
  TestDatabase() {
    static std::atomic<int> counter{0};
    name_ = fmt::format("prodigy_test_{}_{}", ::getpid(), counter++);
    internal::pg::Connection admin(ServerUrl());
    admin.Exec("DROP DATABASE IF EXISTS " + name_);
    admin.Exec("CREATE DATABASE " + name_);
    url_ = WithParam(ServerUrl(), "dbname", name_);
  }
  ~TestDatabase() {
    try {
      internal::pg::Connection admin(ServerUrl());
      admin.Exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (...) {
      // Left behind for a look; the cluster is thrown away anyway.
    }
  }
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  std::string url_;
};

}  // namespace prodigy::test

#endif  // PRODIGY_TESTS_PG_TEST_UTIL_H_
