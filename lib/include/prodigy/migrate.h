// Legacy import (placeholder; the importer defines this header's API).
#ifndef PRODIGY_MIGRATE_H_
#define PRODIGY_MIGRATE_H_
#endif  // PRODIGY_MIGRATE_H_
