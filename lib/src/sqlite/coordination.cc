#include "sqlite/coordination.h"

#include <string>

#include "prodigy/storage.h"

namespace prodigy::internal {
namespace {

#define LEASE_COLUMNS "key, holder, token, expires_at_ns"

Lease ReadLeaseRow(SQLite::Statement& q) {
  Lease lease;
  lease.key = q.getColumn(0).getString();
  lease.holder = q.getColumn(1).getString();
  lease.token = q.getColumn(2).getInt64();
  lease.expires_at_ns = q.getColumn(3).getInt64();
  return lease;
}

void BindKey(SQLite::Statement& q, std::string_view key) { q.bind(1, std::string(key)); }

}  // namespace

int64_t SqliteFence(Connection& conn, std::string_view key) {
  SQLite::Statement& q = conn.Prepare("SELECT token FROM lease_fences WHERE key = ?1");
  BindKey(q, key);
  const int64_t token = q.executeStep() ? q.getColumn(0).getInt64() : 0;
  q.reset();
  return token;
}

std::optional<Lease> SqliteCurrentLease(Connection& conn, std::string_view key, int64_t now_ns) {
  SQLite::Statement& q =
      conn.Prepare("SELECT " LEASE_COLUMNS " FROM leases WHERE key = ?1 AND expires_at_ns > ?2");
  BindKey(q, key);
  q.bind(2, now_ns);
  std::optional<Lease> out;
  if (q.executeStep()) out = ReadLeaseRow(q);
  q.reset();
  return out;
}

std::vector<Lease> SqliteListLeases(Connection& conn, int64_t now_ns) {
  SQLite::Statement& q =
      conn.Prepare("SELECT " LEASE_COLUMNS " FROM leases WHERE expires_at_ns > ?1 ORDER BY key");
  q.bind(1, now_ns);
  std::vector<Lease> out;
  while (q.executeStep()) out.push_back(ReadLeaseRow(q));
  q.reset();
  return out;
}

int64_t SqliteRaiseFence(Connection& conn, std::string_view key, int64_t token) {
  const int64_t before = SqliteFence(conn, key);
  if (token > before) {
    SQLite::Statement& up = conn.Prepare(
        "INSERT INTO lease_fences (key, token, updated_at) VALUES (?1, ?2, ?3) "
        "ON CONFLICT (key) DO UPDATE SET token = excluded.token, updated_at = excluded.updated_at");
    BindKey(up, key);
    up.bind(2, token);
    up.bind(3, FormatTimestamp(NowNs()));
    up.exec();
  }
  return before;
}

engine::LeaseGrant SqliteAcquireLease(Connection& conn, std::string_view key, std::string_view holder,
                                      int64_t now_ns, int64_t expires_at_ns) {
  if (std::optional<Lease> current = SqliteCurrentLease(conn, key, now_ns)) return {false, *current};
  const int64_t token = SqliteFence(conn, key) + 1;
  SqliteRaiseFence(conn, key, token);
  SQLite::Statement& ins = conn.Prepare(
      "INSERT OR REPLACE INTO leases (key, holder, token, acquired_at_ns, expires_at_ns) "
      "VALUES (?1, ?2, ?3, ?4, ?5)");
  BindKey(ins, key);
  ins.bind(2, std::string(holder));
  ins.bind(3, token);
  ins.bind(4, now_ns);
  ins.bind(5, expires_at_ns);
  ins.exec();
  return {true, Lease{std::string(key), std::string(holder), token, expires_at_ns}};
}

bool SqliteExtendLease(Connection& conn, std::string_view key, int64_t token, int64_t now_ns,
                       int64_t expires_at_ns) {
  SQLite::Statement& q = conn.Prepare(
      "UPDATE leases SET expires_at_ns = ?4 WHERE key = ?1 AND token = ?2 AND expires_at_ns > ?3");
  BindKey(q, key);
  q.bind(2, token);
  q.bind(3, now_ns);
  q.bind(4, expires_at_ns);
  return q.exec() == 1;
}

bool SqliteReleaseLease(Connection& conn, std::string_view key, int64_t token, int64_t now_ns) {
  SQLite::Statement& q =
      conn.Prepare("DELETE FROM leases WHERE key = ?1 AND token = ?2 AND expires_at_ns > ?3");
  BindKey(q, key);
  q.bind(2, token);
  q.bind(3, now_ns);
  return q.exec() == 1;
}

std::optional<Lease> SqliteForceReleaseLease(Connection& conn, std::string_view key, int64_t now_ns) {
  std::optional<Lease> live = SqliteCurrentLease(conn, key, now_ns);
  SQLite::Statement& q = conn.Prepare("DELETE FROM leases WHERE key = ?1");
  BindKey(q, key);
  q.exec();
  return live;  // an expired row is deleted too, but the key was free
}

}  // namespace prodigy::internal
