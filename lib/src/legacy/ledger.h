// The import ledger (table import_sources, migrations/0002_legacy_import.sql):
// one row per imported source, with what is needed to prove and rebuild it.
#ifndef PRODIGY_LEGACY_LEDGER_H_
#define PRODIGY_LEGACY_LEDGER_H_

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sqlite/connection.h"

namespace prodigy::internal::legacy {

inline constexpr const char* kStatusImported = "imported";
inline constexpr const char* kStatusVerified = "verified";
inline constexpr const char* kStatusRemoved = "removed";

struct LedgerRow {
  int64_t id = 0;
  std::string path;
  std::string legacy_root;
  std::string rel_path;
  std::string kind;
  std::string job_id;
  uint64_t bytes = 0;
  std::string sha256;
  int64_t mtime_ns = 0;
  uint64_t inode = 0;
  int64_t rows = 0;
  int64_t unparsed = 0;
  bool final_newline = true;
  std::string content_sha256;
  std::optional<int64_t> first_seq;
  std::optional<int64_t> last_seq;
  std::string row_table;
  std::string row_key1;
  std::string row_key2;
  std::string status;
  std::string note;
  std::string imported_at;
  std::string verified_at;
  std::string removed_at;
};

// Reads go through Connection::Prepare and may run inside a transaction.
std::vector<LedgerRow> LedgerByPath(Connection& conn, const std::string& path);
std::optional<LedgerRow> LedgerById(Connection& conn, int64_t id);
std::vector<LedgerRow> LedgerAll(Connection& conn);

// Inserts a row (status "imported") and returns its id.
int64_t LedgerInsert(WriteTxn& txn, const LedgerRow& row);
// Replaces every column of row.id.
void LedgerUpdate(WriteTxn& txn, const LedgerRow& row);
void LedgerSetStatus(WriteTxn& txn, int64_t id, const char* status);
// Deletes a ledger row and every row it wrote, except typed document rows
// (the re-import of the same path replaces those; see DetachDocumentRow).
void LedgerDeleteWithRows(WriteTxn& txn, const LedgerRow& row);
// After a re-import: a document row that still names the deleted ledger row
// (the new content has another key) no longer points at it.
void DetachDocumentRow(WriteTxn& txn, const LedgerRow& row);

// Raw bytes kept for a source (gzip archives, metadata.json, index.json,
// documents that lost a key collision), in chunks.
void AppendBlob(WriteTxn& txn, int64_t source_id, int64_t chunk, std::string_view data);
bool HasBlob(Connection& conn, int64_t source_id);

// A key/value in the meta table (absent: empty).
std::string ReadMeta(Connection& conn, const char* key);
void WriteMeta(WriteTxn& txn, const char* key, const std::string& value);

// Turns SQLite's memory-mapped reads off for a bulk import, verification or
// export: they touch every page of a source once, and mapped pages would be
// counted in the process's resident memory (hundreds of MB for a large log).
class ScopedNoMmap {
 public:
  explicit ScopedNoMmap(Connection& conn);
  ~ScopedNoMmap();
  ScopedNoMmap(const ScopedNoMmap&) = delete;
  ScopedNoMmap& operator=(const ScopedNoMmap&) = delete;

 private:
  Connection& conn_;
  int64_t saved_ = 0;
};

// For the dry run, which must not create or change anything: the (sha256,
// status) pairs recorded for `path` in an existing database, opened read-only.
class ReadOnlyLedger {
 public:
  explicit ReadOnlyLedger(const std::filesystem::path& db_path);
  ~ReadOnlyLedger();
  ReadOnlyLedger(const ReadOnlyLedger&) = delete;
  ReadOnlyLedger& operator=(const ReadOnlyLedger&) = delete;
  std::vector<LedgerRow> ByPath(const std::string& path);

 private:
  struct Db;
  Db* db_ = nullptr;
};

}  // namespace prodigy::internal::legacy

#endif  // PRODIGY_LEGACY_LEDGER_H_
