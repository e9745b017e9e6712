// The schema migrations compiled in from migrations/*.sql (see embed.py).
#ifndef PRODIGY_SQLITE_MIGRATIONS_H_
#define PRODIGY_SQLITE_MIGRATIONS_H_

#include <vector>

namespace prodigy::internal {

// A column the runner adds before the migration's SQL, only where it is
// missing (declared in the .sql file by `-- ensure-column:`).
struct EnsuredColumn {
  const char* table;
  const char* column;
  const char* definition;
};

struct Migration {
  int version;
  const char* name;
  const char* sql;
  std::vector<EnsuredColumn> ensure_columns;
};

// Ordered by version, 1..N.
const std::vector<Migration>& Migrations();

inline int LatestSchemaVersion() { return static_cast<int>(Migrations().size()); }

}  // namespace prodigy::internal

#endif  // PRODIGY_SQLITE_MIGRATIONS_H_
