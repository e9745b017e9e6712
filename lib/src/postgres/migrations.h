// The PostgreSQL schema migrations compiled in from migrations/postgres/*.sql
// (migrations/embed.py), and applying them.
#ifndef PRODIGY_POSTGRES_MIGRATIONS_H_
#define PRODIGY_POSTGRES_MIGRATIONS_H_

#include <vector>

#include "sqlite/migrations.h"  // struct Migration, shared by both engines

namespace prodigy::internal {

// Ordered by version, 1..N.
const std::vector<Migration>& PostgresMigrations();

inline int LatestPostgresSchemaVersion() { return static_cast<int>(PostgresMigrations().size()); }

namespace pg {
class Connection;

// Brings the database's schema up to date: pending migrations are applied in
// one transaction under an advisory lock (so that many processes opening a
// new database at once create it exactly once) and recorded in
// prodigy_schema_migrations. Throws Error(kTooNew) when the database was
// migrated by a newer prodigy-store. Returns the schema version.
int ApplyMigrations(Connection& conn);

// The schema version recorded in the database (0: none yet).
int SchemaVersion(Connection& conn);
}  // namespace pg

}  // namespace prodigy::internal

#endif  // PRODIGY_POSTGRES_MIGRATIONS_H_
