#include "legacy/ledger.h"

#include "prodigy/error.h"
#include "prodigy/storage.h"
#include "sqlite/sqlite_engine.h"
#include "store/kinds.h"
#include "store/rows.h"

namespace prodigy::internal::legacy {

std::optional<LedgerRow> LedgerById(engine::ReadTxn& txn, int64_t id) {
  std::optional<LedgerRow> out;
  const engine::Value key[] = {id};
  txn.Get(engine::tables::kImportSources, key, FirstInto(&out, engine::tables::kLedgerCodec));
  return out;
}

std::vector<LedgerRow> LedgerAll(engine::ReadTxn& txn) {
  std::vector<LedgerRow> out;
  txn.Scan(engine::tables::kImportSources, {}, /*descending=*/false,
           CollectInto(&out, engine::tables::kLedgerCodec));
  return out;
}

void LedgerSetStatus(engine::WriteTxn& txn, int64_t id, const char* status) {
  txn.LedgerSetStatus(id, status, FormatTimestamp(NowNs()));
}

void LedgerDeleteWithRows(engine::WriteTxn& txn, const LedgerRow& row) {
  if (row.first_seq && row.last_seq) {
    const engine::Removed removed = txn.DeleteImportedEvents(row.id, *row.first_seq, *row.last_seq);
    // A rewrite, not an append: the mirror file must lose these lines.
    for (const std::string& job : removed.jobs) txn.LogChange(kChangeEventsRewrite, job);
  }
  txn.LedgerDelete(row.id);
}

void DetachDocumentRow(engine::WriteTxn& txn, const LedgerRow& row) {
  const DocumentKind* kind = KindOfTable(row.row_table);
  if (kind == nullptr || !kind->key_from_text) return;  // not a document source
  const RowKey key = kind->key_from_text(row.row_key1, row.row_key2);
  txn.Detach(*kind->table, key, row.id);
}

ReadOnlyLedger::ReadOnlyLedger(const std::filesystem::path& db_path, const StorageConfig& config)
    : engine_(OpenSqliteEngineReadOnly(db_path, config)) {}

ReadOnlyLedger::~ReadOnlyLedger() = default;

std::vector<LedgerRow> ReadOnlyLedger::ByPath(const std::string& path) {
  std::vector<LedgerRow> out;
  if (!engine_) return out;
  try {
    engine_->Read([&](engine::ReadTxn& txn) { out = txn.LedgerByPath(path); });
  } catch (const Error&) {
    out.clear();  // an older schema without the ledger: nothing was imported
  }
  return out;
}

}  // namespace prodigy::internal::legacy
