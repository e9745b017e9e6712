// Document kinds as data: one descriptor per kind of stored document holds
// what the store, the mirrors, the importer and the checks need to know about
// it: its table and key, its mirror files, the legacy layout it is imported
// from, and which of two documents with the same key is the newer.
//
// Adding a kind = a record type in prodigy/records.h, its RowCodec and
// TableSpec (engine/tables.h), a DocumentKind here, a migration creating the
// table, and its tests (docs/architecture.md has the steps).
#ifndef PRODIGY_STORE_KINDS_H_
#define PRODIGY_STORE_KINDS_H_

#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/engine.h"
#include "engine/tables.h"

namespace prodigy::internal {

// A row key with owned values (strings and integers), e.g. (job_id, version).
using RowKey = std::vector<engine::Value>;

struct DocumentKind {
  // The kind's name in the import ledger (import_sources.kind) and in messages.
  std::string_view name;
  const engine::TableSpec* table = nullptr;
  // The mirror change-log kind that rewrites its files ("dlq", "state", ...).
  std::string_view change;
  // The mirror folder under the repository's folder, also where `migrate`
  // says legacy files of the kind move to.
  std::string_view folder;
  // For kinds mirrored as one file per row: folder/<EncodeFileName(key)><suffix>.
  // Empty for kinds whose mirror is a folder per group (events, DLQ, state).
  std::string_view file_suffix;
  // The newer rule between two documents with the same key: the column with
  // the document's own time (ns, or RFC 3339 text); empty: no such time.
  std::string_view time_column;
  // Whether the live file (session_state.json) beats its snapshots.
  bool live_file_first = false;
  // The key as the import ledger records it (row_key1, row_key2 as text).
  RowKey (*key_from_text)(const std::string& key1, const std::string& key2) = nullptr;
};

// A key as the import ledger records it: (row_key1, row_key2), "" when absent.
std::pair<std::string, std::string> LedgerKeyText(const RowKey& key);

// The built-in kinds.
extern const DocumentKind kEventKind;
extern const DocumentKind kDlqItemKind;
extern const DocumentKind kJobStateKind;
extern const DocumentKind kSessionKind;
extern const DocumentKind kCheckpointKind;

// Every built-in kind, events first.
std::span<const DocumentKind* const> AllKinds();
// The kind stored in `table`; nullptr when none is.
const DocumentKind* KindOfTable(std::string_view table);

// The record type <-> kind and codec mapping, for the typed helpers below.
template <class R>
struct KindOf;
template <>
struct KindOf<Event> {
  static constexpr const auto& kCodec = engine::tables::kEventCodec;
  static const DocumentKind& kind() { return kEventKind; }
};
template <>
struct KindOf<DlqItem> {
  static constexpr const auto& kCodec = engine::tables::kDlqCodec;
  static const DocumentKind& kind() { return kDlqItemKind; }
};
template <>
struct KindOf<JobState> {
  static constexpr const auto& kCodec = engine::tables::kStateCodec;
  static const DocumentKind& kind() { return kJobStateKind; }
};
template <>
struct KindOf<Session> {
  static constexpr const auto& kCodec = engine::tables::kSessionCodec;
  static const DocumentKind& kind() { return kSessionKind; }
};
template <>
struct KindOf<WorkflowCheckpoint> {
  static constexpr const auto& kCodec = engine::tables::kCheckpointCodec;
  static const DocumentKind& kind() { return kCheckpointKind; }
};

// The one read skeleton: a RowFn that decodes each row into a record.
template <class R, class Codec = decltype(KindOf<R>::kCodec)>
engine::RowFn CollectInto(std::vector<R>* out, const Codec& codec = KindOf<R>::kCodec) {
  return [out, &codec](const engine::RowView& row) {
    out->push_back(codec.Read(row));
    return true;
  };
}
template <class R, class Codec = decltype(KindOf<R>::kCodec)>
engine::RowFn FirstInto(std::optional<R>* out, const Codec& codec = KindOf<R>::kCodec) {
  return [out, &codec](const engine::RowView& row) {
    *out = codec.Read(row);
    return false;
  };
}

// The row of `key`, decoded.
template <class R>
std::optional<R> GetRow(engine::ReadTxn& txn, std::span<const engine::Value> key) {
  std::optional<R> out;
  txn.Get(*KindOf<R>::kind().table, key, FirstInto(&out));
  return out;
}

// Inserts or replaces the record's row (no change logged).
template <class R>
void PutRow(engine::WriteTxn& txn, const R& r, const engine::WriteOrigin& origin = {}) {
  std::array<engine::Value, KindOf<R>::kCodec.columns.size()> values;
  KindOf<R>::kCodec.Values(r, origin, &values);
  txn.Put(*KindOf<R>::kind().table, values);
}

}  // namespace prodigy::internal

#endif  // PRODIGY_STORE_KINDS_H_
