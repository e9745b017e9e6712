// libpq wrappers: connecting, running statements, COPY, transactions, and
// turning libpq's failures into prodigy::Error.
#include "postgres/connection.h"

#include <poll.h>

#include <charconv>
#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "prodigy/config.h"
#include "util/log.h"

namespace prodigy::internal::pg {
namespace {

// Serialization failures and deadlocks resolve themselves on a second try;
// a transaction that keeps failing after this many means something is wrong.
constexpr int kMaxAttempts = 20;

bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

std::string TrimMessage(std::string message) {
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  for (char& c : message) {
    if (c == '\n') c = ' ';
  }
  return message;
}

// The value of `key` in a connection string (explicit, else libpq's default
// from PG* variables), or "".
struct ConnInfo {
  std::string user, host, port, dbname, password;
};

ConnInfo ParseConnInfo(const std::string& url) {
  ConnInfo info;
  char* err = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(url.c_str(), &err);
  if (err != nullptr) PQfreemem(err);
  PQconninfoOption* defaults = PQconndefaults();
  auto lookup = [&](const char* key) -> std::string {
    for (PQconninfoOption* o = parsed; o != nullptr && o->keyword != nullptr; ++o) {
      if (std::string_view(o->keyword) == key && o->val != nullptr && *o->val != '\0') return o->val;
    }
    for (PQconninfoOption* o = defaults; o != nullptr && o->keyword != nullptr; ++o) {
      if (std::string_view(o->keyword) == key && o->val != nullptr && *o->val != '\0') return o->val;
    }
    return "";
  };
  info.user = lookup("user");
  info.host = lookup("host");
  if (info.host.empty()) info.host = lookup("hostaddr");
  info.port = lookup("port");
  info.dbname = lookup("dbname");
  info.password = lookup("password");
  if (info.dbname.empty()) info.dbname = info.user;
  if (parsed != nullptr) PQconninfoFree(parsed);
  if (defaults != nullptr) PQconninfoFree(defaults);
  return info;
}

std::string Describe(std::string_view user, std::string_view host, std::string_view port,
                     std::string_view dbname) {
  return fmt::format("{}@{}:{}/{}", user.empty() ? "?" : user, host.empty() ? "/var/run/postgresql" : host,
                     port.empty() ? "5432" : port, dbname.empty() ? "?" : dbname);
}

// libpq's message with any password it might quote masked.
std::string Scrub(std::string message, const std::string& password) {
  message = TrimMessage(std::move(message));
  if (password.empty()) return message;
  for (size_t at = message.find(password); at != std::string::npos; at = message.find(password, at)) {
    message.replace(at, password.size(), "***");
  }
  return message;
}

}  // namespace

std::string Result::sqlstate() const {
  if (!res_) return "";
  const char* state = PQresultErrorField(res_.get(), PG_DIAG_SQLSTATE);
  return state == nullptr ? "" : state;
}

int64_t Result::Int(int row, int col) const {
  const std::string_view text = Text(row, col);
  if (PQfformat(res_.get(), col) == 1) {
    // Binary format: a big-endian integer of the column's width.
    uint64_t v = 0;
    for (unsigned char c : text) v = (v << 8) | c;
    if (text.size() == 4) return static_cast<int32_t>(v);
    if (text.size() == 2) return static_cast<int16_t>(v);
    return static_cast<int64_t>(v);
  }
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) {
    throw Error::Internal(
        fmt::format("PostgreSQL returned '{}' where an integer was expected "
                    "(column {})",
                    text, PQfname(res_.get(), col)));
  }
  return v;
}

std::string DescribeServer(const std::string& url) {
  const ConnInfo info = ParseConnInfo(url);
  return Describe(info.user, info.host, info.port, info.dbname);
}

std::string QuoteIdent(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

Connection::Connection(const std::string& url) : url_(url) {
  server_ = DescribeServer(url_);
  conn_ = PQconnectdb(url_.c_str());
  if (conn_ == nullptr) {
    throw Error::Io(fmt::format("PostgreSQL server {}: out of memory while connecting", server_));
  }
  if (PQstatus(conn_) != CONNECTION_OK) {
    const std::string message = Scrub(PQerrorMessage(conn_), ParseConnInfo(url_).password);
    PQfinish(conn_);
    conn_ = nullptr;
    if (Contains(message, "password authentication failed") || Contains(message, "no password supplied")) {
      throw Error::Config(
          fmt::format("PostgreSQL server {} refused the login: {}; fix the password in ~/.pgpass, "
                      "PGPASSWORD or the storage URL",
                      server_, message));
    }
    if (Contains(message, "does not exist")) {
      throw Error::Config(fmt::format(
          "PostgreSQL server {}: {}; create it (e.g. createdb) or fix the storage URL", server_, message));
    }
    if (Contains(message, "too many clients") || Contains(message, "too many connections") ||
        Contains(message, "remaining connection slots")) {
      throw Error::Busy(
          fmt::format("PostgreSQL server {} has no free connection (max_connections reached): {}; "
                      "close idle agents, raise max_connections, or put PgBouncer in front "
                      "(docs/postgres.md)",
                      server_, message));
    }
    if (Contains(message, "invalid") || Contains(message, "missing \"=\"") ||
        Contains(message, "unterminated")) {
      throw Error::Config(fmt::format("storage URL {} is not valid: {}", RedactStorageUrl(url_), message));
    }
    throw Error::Io(
        fmt::format("cannot reach PostgreSQL server {}: {}; check that it is running "
                    "and that the storage URL names the right host and port",
                    server_, message));
  }
  server_ = Describe(PQuser(conn_), PQhost(conn_), PQport(conn_), PQdb(conn_));
  // Notices (e.g. "relation already exists, skipping") are not for users.
  PQsetNoticeProcessor(
      conn_, [](void*, const char*) {}, nullptr);
}

Connection::~Connection() {
  if (conn_ != nullptr) PQfinish(conn_);
}

Error Connection::ErrorFor(const Result& res, std::string_view what) const {
  const std::string state = res.sqlstate();
  std::string message = TrimMessage(res ? PQresultErrorMessage(res.get()) : "");
  if (message.empty()) message = TrimMessage(PQerrorMessage(conn_));
  if (IsBroken() || state.starts_with("08") || state.starts_with("57P")) {
    return Error::Io(
        fmt::format("lost the connection to PostgreSQL server {} during {}: {}; "
                    "check that the server is running, then retry",
                    server_, what, message));
  }
  if (state == "53300") {
    return Error::Busy(
        fmt::format("PostgreSQL server {} has no free connection: {}; "
                    "close idle agents or raise max_connections",
                    server_, message));
  }
  if (state == "53100") {
    return Error::Io(
        fmt::format("PostgreSQL server {} is out of disk space during {}: {}", server_, what, message));
  }
  if (state.starts_with("22")) {
    return Error::InvalidArgument(
        fmt::format("PostgreSQL server {} rejected the data of {}: {}", server_, what, message));
  }
  return Error::Io(fmt::format("PostgreSQL server {} failed {} (SQLSTATE {}): {}", server_, what,
                               state.empty() ? "none" : state, message));
}

Result Connection::Check(Result res, std::string_view what) {
  const ExecStatusType status = res.status();
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_COPY_IN ||
      status == PGRES_COPY_OUT) {
    return res;
  }
  const std::string state = res.sqlstate();
  if (in_transaction_ && (state == "40001" || state == "40P01")) {
    throw RetryableError{state, TrimMessage(PQresultErrorMessage(res.get()))};
  }
  throw ErrorFor(res, what);
}

Result Connection::Exec(std::string_view sql) {
  const std::string text(sql);
  return Check(Result(PQexec(conn_, text.c_str())), "a statement");
}

Result Connection::Query(const char* sql, const Param* params, size_t n, bool binary) {
  std::vector<const char*> values(n);
  std::vector<int> lengths(n), formats(n);
  for (size_t i = 0; i < n; ++i) {
    values[i] = params[i].is_null ? nullptr : params[i].value.data();
    lengths[i] = static_cast<int>(params[i].value.size());
    formats[i] = params[i].binary ? 1 : 0;
  }
  // Text parameters are passed with their length too: libpq stops at NUL
  // otherwise, and string_views need not be NUL-terminated. A text value
  // sent in "text format" must be NUL-terminated, so copy those.
  std::vector<std::string> copies;
  copies.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (!params[i].is_null && !params[i].binary) {
      copies.emplace_back(params[i].value);
      values[i] = copies.back().c_str();
    }
  }
  return Check(Result(PQexecParams(conn_, sql, static_cast<int>(n), nullptr, values.data(), lengths.data(),
                                   formats.data(), binary ? 1 : 0)),
               "a query");
}

void Connection::PutCopyData(std::string_view data) {
  if (PQputCopyData(conn_, data.data(), static_cast<int>(data.size())) != 1) {
    throw ErrorFor(Result(), "COPY");
  }
}

void Connection::CopyIn(const char* sql, const std::function<void()>& feed) {
  Check(Result(PQexec(conn_, sql)), "COPY");
  try {
    feed();
  } catch (...) {
    PQputCopyEnd(conn_, "aborted by the client");
    while (PGresult* r = PQgetResult(conn_)) PQclear(r);
    throw;
  }
  if (PQputCopyEnd(conn_, nullptr) != 1) throw ErrorFor(Result(), "COPY");
  Result last;
  while (PGresult* r = PQgetResult(conn_)) last = Result(r);
  Check(std::move(last), "COPY");
}

void Connection::CopyOut(const char* sql, const std::function<void(std::string_view)>& row) {
  Check(Result(PQexec(conn_, sql)), "COPY");
  char* buf = nullptr;
  int n;
  while ((n = PQgetCopyData(conn_, &buf, 0)) > 0) {
    std::unique_ptr<char, void (*)(void*)> owned(buf, &PQfreemem);
    row(std::string_view(buf, static_cast<size_t>(n)));
  }
  Result last;
  while (PGresult* r = PQgetResult(conn_)) last = Result(r);
  Check(std::move(last), "COPY");
}

void Connection::Reconnect() {
  PQreset(conn_);
  if (PQstatus(conn_) != CONNECTION_OK) {
    throw Error::Io(
        fmt::format("lost the connection to PostgreSQL server {} and cannot reconnect: "
                    "{}; check that the server is running, then retry",
                    server_, TrimMessage(PQerrorMessage(conn_))));
  }
  Log().info("reconnected to PostgreSQL server {}", server_);
}

void Connection::RollbackQuietly() noexcept {
  in_transaction_ = false;
  if (IsBroken()) return;
  PQclear(PQexec(conn_, "ROLLBACK"));
}

void Connection::Transaction(const std::function<void()>& fn) {
  bool reconnected = false;
  for (int attempt = 1;; ++attempt) {
    if (IsBroken()) Reconnect();
    Result begin(PQexec(conn_, "BEGIN"));
    if (begin.status() != PGRES_COMMAND_OK && IsBroken() && !reconnected) {
      // The server went away since the last call (e.g. it restarted).
      reconnected = true;
      Reconnect();
      continue;
    }
    Check(std::move(begin), "BEGIN");
    in_transaction_ = true;
    try {
      fn();
    } catch (const RetryableError& retry) {
      RollbackQuietly();
      if (attempt >= kMaxAttempts) {
        throw Error::Busy(
            fmt::format("PostgreSQL server {}: a transaction failed {} times ({}: {}); "
                        "retry later",
                        server_, attempt, retry.sqlstate, retry.message));
      }
      Log().debug("{}: {} ({}), retry {}", server_, retry.message, retry.sqlstate, attempt);
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(attempt * attempt, 200)));
      continue;
    } catch (const Error&) {
      // The server went away before COMMIT was sent: nothing was committed,
      // so one more try on a new connection is safe.
      const bool lost = IsBroken();
      RollbackQuietly();
      if (lost && !reconnected) {
        reconnected = true;
        Reconnect();
        continue;
      }
      throw;
    } catch (...) {
      RollbackQuietly();
      throw;
    }
    Result res(PQexec(conn_, "COMMIT"));
    in_transaction_ = false;
    if (res.status() == PGRES_COMMAND_OK) return;
    const std::string state = res.sqlstate();
    if (IsBroken() || state.empty() || state.starts_with("08")) {
      throw Error::Io(
          fmt::format("lost the connection to PostgreSQL server {} during COMMIT: the write may or may "
                      "not have been stored (it is not retried, to avoid storing it twice); check "
                      "the data before writing again",
                      server_));
    }
    if ((state == "40001" || state == "40P01") && attempt < kMaxAttempts) continue;
    throw ErrorFor(res, "COMMIT");
  }
}

bool Connection::WaitForNotification(int timeout_ms) {
  auto drain = [&]() {
    bool any = false;
    PQconsumeInput(conn_);
    while (PGnotify* n = PQnotifies(conn_)) {
      any = true;
      PQfreemem(n);
    }
    return any;
  };
  if (drain()) return true;
  pollfd fd{PQsocket(conn_), POLLIN, 0};
  if (fd.fd < 0) return false;
  if (::poll(&fd, 1, timeout_ms) <= 0) return false;
  return drain();
}

}  // namespace prodigy::internal::pg
