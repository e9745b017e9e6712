// The import ledger (table import_sources, migrations/0002_legacy_import.sql):
// one row per imported source, with what is needed to prove and rebuild it.
// The rows are read and written through the engine (engine/engine.h); this
// file holds what the importer adds on top.
#ifndef PRODIGY_LEGACY_LEDGER_H_
#define PRODIGY_LEGACY_LEDGER_H_

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "prodigy/config.h"

namespace prodigy::internal::legacy {

using engine::LedgerRow;

inline constexpr const char* kStatusImported = "imported";
inline constexpr const char* kStatusVerified = "verified";
inline constexpr const char* kStatusRemoved = "removed";

// One ledger row by id, and every row by id: the engine's generic Get and
// Scan with the ledger's codec, so every engine reads them alike.
std::optional<LedgerRow> LedgerById(engine::ReadTxn& txn, int64_t id);
std::vector<LedgerRow> LedgerAll(engine::ReadTxn& txn);

// Sets the status (and its time) of a ledger row.
void LedgerSetStatus(engine::WriteTxn& txn, int64_t id, const char* status);
// Deletes a ledger row and every row it wrote, except typed document rows
// (the re-import of the same path replaces those; see DetachDocumentRow).
void LedgerDeleteWithRows(engine::WriteTxn& txn, const LedgerRow& row);
// After a re-import: a document row that still names the deleted ledger row
// (the new content has another key) no longer points at it.
void DetachDocumentRow(engine::WriteTxn& txn, const LedgerRow& row);

// For the dry run, which must not create or change anything: the ledger rows
// recorded for `path` in an existing database, opened read-only.
class ReadOnlyLedger {
 public:
  ReadOnlyLedger(const std::filesystem::path& db_path, const StorageConfig& config);
  ~ReadOnlyLedger();
  ReadOnlyLedger(const ReadOnlyLedger&) = delete;
  ReadOnlyLedger& operator=(const ReadOnlyLedger&) = delete;
  std::vector<LedgerRow> ByPath(const std::string& path);

 private:
  std::unique_ptr<engine::Engine> engine_;
};

}  // namespace prodigy::internal::legacy

#endif  // PRODIGY_LEGACY_LEDGER_H_
