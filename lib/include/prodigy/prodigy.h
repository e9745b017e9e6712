// Everything a C++ caller of prodigy-store needs.
#ifndef PRODIGY_PRODIGY_H_
#define PRODIGY_PRODIGY_H_

#include "prodigy/config.h"
#include "prodigy/coordination.h"
#include "prodigy/error.h"
#include "prodigy/log.h"
#include "prodigy/migrate.h"
#include "prodigy/records.h"
#include "prodigy/storage.h"
#include "prodigy/sync.h"

#endif  // PRODIGY_PRODIGY_H_
