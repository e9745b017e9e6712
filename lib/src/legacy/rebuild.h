// Rebuilding an imported source's exact bytes from the database: the proof
// the verification relies on before deleting an original, and what
// `export --legacy` writes. Streams (bounded memory).
#ifndef PRODIGY_LEGACY_REBUILD_H_
#define PRODIGY_LEGACY_REBUILD_H_

#include <functional>
#include <string>
#include <string_view>

#include "engine/engine.h"
#include "legacy/ledger.h"

namespace prodigy::internal::legacy {

using ByteSink = std::function<void(std::string_view)>;

// Streams the source's original bytes. Returns what is missing (empty when
// everything could be rebuilt).
std::string RebuildSource(engine::ReadTxn& txn, const LedgerRow& row, const ByteSink& sink);

struct RowCounts {
  int64_t rows = 0;
  int64_t unparsed = 0;
};
RowCounts CountRows(engine::ReadTxn& txn, const LedgerRow& row);

// Proves the import from the database alone: row counts equal the ledger's
// and the rebuilt bytes (and, for archives, the decompressed content) have
// the recorded SHA-256. Returns the problem, or empty.
std::string ProveFromDatabase(engine::ReadTxn& txn, const LedgerRow& row);

}  // namespace prodigy::internal::legacy

#endif  // PRODIGY_LEGACY_REBUILD_H_
