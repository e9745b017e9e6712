// The schema migrations compiled in from migrations/*.sql (see embed.py).
#ifndef PRODIGY_SQLITE_MIGRATIONS_H_
#define PRODIGY_SQLITE_MIGRATIONS_H_

#include <vector>

namespace prodigy::internal {

struct Migration {
  int version;
  const char* name;
  const char* sql;
};

// Ordered by version, 1..N.
const std::vector<Migration>& Migrations();

inline int LatestSchemaVersion() { return static_cast<int>(Migrations().size()); }

}  // namespace prodigy::internal

#endif  // PRODIGY_SQLITE_MIGRATIONS_H_
