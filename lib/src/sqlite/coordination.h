// The SQL of coordination on the SQLite engine (docs/coordination.md):
// leases and fencing tokens (migrations/0004_leases.sql). The engine's
// transactions (sqlite_engine.cc) call these inside their own transaction;
// the semantics are those of engine::ReadTxn / engine::WriteTxn.
#ifndef PRODIGY_SQLITE_COORDINATION_H_
#define PRODIGY_SQLITE_COORDINATION_H_

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "engine/engine.h"
#include "sqlite/connection.h"

namespace prodigy::internal {

int64_t SqliteFence(Connection& conn, std::string_view key);
std::optional<Lease> SqliteCurrentLease(Connection& conn, std::string_view key, int64_t now_ns);
std::vector<Lease> SqliteListLeases(Connection& conn, int64_t now_ns);

// REQUIRES: inside a write transaction on conn.
int64_t SqliteRaiseFence(Connection& conn, std::string_view key, int64_t token);
engine::LeaseGrant SqliteAcquireLease(Connection& conn, std::string_view key, std::string_view holder,
                                      int64_t now_ns, int64_t expires_at_ns);
bool SqliteExtendLease(Connection& conn, std::string_view key, int64_t token, int64_t now_ns,
                       int64_t expires_at_ns);
bool SqliteReleaseLease(Connection& conn, std::string_view key, int64_t token, int64_t now_ns);
std::optional<Lease> SqliteForceReleaseLease(Connection& conn, std::string_view key, int64_t now_ns);

}  // namespace prodigy::internal

#endif  // PRODIGY_SQLITE_COORDINATION_H_
