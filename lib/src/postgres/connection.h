// libpq in small RAII wrappers: a connection, a result, and transactions that
// retry what PostgreSQL asks to retry (serialization failure, deadlock) and
// never blindly retry a COMMIT whose outcome is unknown.
//
// Every libpq failure becomes a prodigy::Error naming the server (never the
// password: see RedactStorageUrl) and what to do.
#ifndef PRODIGY_POSTGRES_CONNECTION_H_
#define PRODIGY_POSTGRES_CONNECTION_H_

#include <libpq-fe.h>

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "prodigy/error.h"

namespace prodigy::internal::pg {

// One result; PQclear on destruction.
class Result {
 public:
  Result() = default;
  explicit Result(PGresult* res) : res_(res, &PQclear) {}

  PGresult* get() const { return res_.get(); }
  explicit operator bool() const { return res_ != nullptr; }
  ExecStatusType status() const { return res_ ? PQresultStatus(res_.get()) : PGRES_FATAL_ERROR; }
  // The five-character SQLSTATE, or "" when the server sent none.
  std::string sqlstate() const;
  int rows() const { return PQntuples(res_.get()); }
  int columns() const { return PQnfields(res_.get()); }
  bool IsNull(int row, int col) const { return PQgetisnull(res_.get(), row, col) != 0; }
  std::string_view Text(int row, int col) const {
    return {PQgetvalue(res_.get(), row, col), static_cast<size_t>(PQgetlength(res_.get(), row, col))};
  }
  std::optional<std::string> OptText(int row, int col) const {
    if (IsNull(row, col)) return std::nullopt;
    return std::string(Text(row, col));
  }
  int64_t Int(int row, int col) const;
  // Rows changed by an INSERT, UPDATE or DELETE.
  int64_t Affected() const { return std::atoll(PQcmdTuples(res_.get())); }
  std::optional<int64_t> OptInt(int row, int col) const {
    if (IsNull(row, col)) return std::nullopt;
    return Int(row, col);
  }

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> res_{nullptr, &PQclear};
};

// A parameter of a query: text (or bytes for a bytea), or SQL NULL.
struct Param {
  Param() = default;                                         // NULL
  Param(std::string_view v) : value(v), is_null(false) {}    // NOLINT: implicit on purpose
  Param(const std::string& v) : value(v), is_null(false) {}  // NOLINT
  Param(const char* v) : value(v), is_null(false) {}         // NOLINT
  static Param Bytes(std::string_view v) {
    Param p(v);
    p.binary = true;
    return p;
  }
  std::string_view value;
  bool is_null = true;
  bool binary = false;  // sent in binary format (for bytea columns)
};
// Owns the text of integer parameters for the duration of a call.
class IntParam {
 public:
  explicit IntParam(int64_t v) : text_(std::to_string(v)) {}
  explicit IntParam(std::optional<int64_t> v) : text_(v ? std::to_string(*v) : ""), null_(!v) {}
  operator Param() const { return null_ ? Param() : Param(text_); }  // NOLINT

 private:
  std::string text_;
  bool null_ = false;
};

// Thrown inside a transaction when the server asks for a retry (SQLSTATE
// 40001 serialization_failure, 40P01 deadlock_detected); Transaction() catches
// it and runs the whole transaction again.
struct RetryableError {
  std::string sqlstate;
  std::string message;
};

class Connection {
 public:
  // Connects to `url` (a postgresql:// URI or libpq's key=value form; libpq
  // also reads PG* variables and ~/.pgpass). Throws Error naming the server:
  // kIo when it cannot be reached, kConfig for a wrong password, user or
  // database, kBusy when the server's connection limit is reached.
  explicit Connection(const std::string& url);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  PGconn* raw() { return conn_; }
  // "user@host:port/database" of this connection, without the password.
  const std::string& server() const { return server_; }

  // Runs a statement (no parameters, possibly several separated by ';').
  Result Exec(std::string_view sql);
  // Runs one parameterised statement ($1, $2, ...); results in text format,
  // or in binary format when `binary` (bytea comes back as its bytes, bigint
  // as 8 bytes: Result::Int and Text read both).
  Result Query(const char* sql, std::initializer_list<Param> params) {
    return Query(sql, params.begin(), params.size());
  }
  Result Query(const char* sql, const std::vector<Param>& params, bool binary = false) {
    return Query(sql, params.data(), params.size(), binary);
  }
  Result Query(const char* sql, const Param* params, size_t n, bool binary = false);

  // COPY ... FROM STDIN: `sql` starts the copy, `feed` sends the rows through
  // PutCopyData, then the copy is ended and its result checked.
  void CopyIn(const char* sql, const std::function<void()>& feed);
  void PutCopyData(std::string_view data);
  // COPY ... TO STDOUT: calls `row` with each row's text as sent by the server.
  void CopyOut(const char* sql, const std::function<void(std::string_view)>& row);

  // Runs fn between BEGIN and COMMIT. Retries the whole transaction on
  // serialization failure or deadlock (with backoff, bounded), and once after
  // the connection was lost before COMMIT was sent (nothing was committed).
  // A connection lost during COMMIT is an unknown outcome: Error(kIo) saying
  // so, never a retry (the transaction may have been committed).
  // Any other exception rolls back and propagates.
  void Transaction(const std::function<void()>& fn);
  bool in_transaction() const { return in_transaction_; }

  // Waits up to timeout_ms for a notification on a LISTENed channel; true
  // when one (or more) arrived. Drains all pending notifications.
  bool WaitForNotification(int timeout_ms);

  // The error for a failed result or a failed connection, naming the server.
  Error ErrorFor(const Result& res, std::string_view what) const;
  // Reconnects when the connection was lost (between calls: a server
  // restart costs the call that noticed it, not every later one).
  void EnsureConnected() {
    if (IsBroken()) Reconnect();
  }
  // True when the connection is gone (server restarted, network dropped).
  bool IsBroken() const { return PQstatus(conn_) != CONNECTION_OK; }

 private:
  Result Check(Result res, std::string_view what);
  // Reconnects a broken connection, throwing Error(kIo) when it cannot.
  void Reconnect();
  void RollbackQuietly() noexcept;

  std::string url_;
  std::string server_;
  PGconn* conn_ = nullptr;
  bool in_transaction_ = false;
};

// "user@host:port/database" for a connection string, from its explicit parts
// and libpq's defaults (PGHOST, PGUSER, ...), without the password.
std::string DescribeServer(const std::string& url);

// Quotes an identifier ("name") for SQL text, e.g. a schema or table name.
std::string QuoteIdent(std::string_view name);

}  // namespace prodigy::internal::pg

#endif  // PRODIGY_POSTGRES_CONNECTION_H_
