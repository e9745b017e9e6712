#include "legacy/importer.h"

#include <climits>
#include <tuple>
#include <type_traits>

#include <fmt/format.h>

#include "legacy/crash_hook.h"
#include "legacy/read_ahead.h"
#include "store/rows.h"

namespace prodigy::internal::legacy {
namespace {

// From this size on an event log is imported as a bulk load: about 0.1 s of
// work here, so the readers a rollback journal holds off wait no longer.
constexpr uint64_t kBulkImportBytes = 8 << 20;
// Up to the size that even a slow disk loads (40 MB/s, half this machine's
// rate) before a process opening the store meanwhile gives up waiting.
constexpr uint64_t kBulkBytesPerBusyMs = 40'000;

void StoreBlob(engine::WriteTxn& txn, int64_t source_id, std::string_view data) {
  int64_t chunk = 0;
  do {
    const std::string_view part = data.substr(0, kChunkBytes);
    txn.AppendBlob(source_id, chunk++, part);
    data.remove_prefix(part.size());
  } while (!data.empty());
}

// Writes each line of an event log as an event or an unparsed row, and an
// archive's raw chunks as its kept bytes.
class EventWriter {
 public:
  EventWriter(engine::WriteTxn& txn, int64_t source_id) : txn_(txn), source_id_(source_id) {}

  void Apply(ScannedLine& line) {
    if (line.line_no == 0) {
      txn_.AppendBlob(source_id_, chunks_++, line.bytes);
    } else if (line.parsed.event) {
      const int64_t seq = InsertEvent(txn_, *line.parsed.event, source_id_, line.line_no);
      if (!first_seq) first_seq = seq;
      last_seq = seq;
      ++rows;
    } else {
      txn_.InsertUnparsed(source_id_, line.line_no, line.bytes, line.parsed.reason);
      ++unparsed;
    }
  }

  int64_t rows = 0;
  int64_t unparsed = 0;
  std::optional<int64_t> first_seq;
  std::optional<int64_t> last_seq;

 private:
  engine::WriteTxn& txn_;
  int64_t source_id_;
  int64_t chunks_ = 0;
};

class LineCounter : public LineVisitor {
 public:
  explicit LineCounter(const std::string& job_id) : job_id_(job_id) {}
  void Line(int64_t, std::string_view line, bool has_newline) override {
    if (ParseEventLine(job_id_, line, has_newline).event)
      ++rows;
    else
      ++unparsed;
  }
  int64_t rows = 0;
  int64_t unparsed = 0;

 private:
  const std::string& job_id_;
};

struct ExistingRow {
  std::string json;
  std::optional<int64_t> source_id;
  std::optional<int64_t> doc_ns;  // the document's own time (DocumentKind::time_column)
};

// The time in a kind's time column: ns, or RFC 3339 text.
std::optional<int64_t> TimeAt(const engine::RowView& row, size_t column, const engine::TableSpec& table) {
  if (column >= table.columns.size() || row.IsNull(column)) return std::nullopt;
  if (table.columns[column].type == engine::ColumnType::kInt) return row.Int(column);
  return ParseTimestamp(row.Text(column));
}

std::optional<ExistingRow> FindRow(engine::WriteTxn& txn, const ParsedDoc& doc) {
  const engine::TableSpec& table = *doc.kind->table;
  const size_t json = table.IndexOf("json");
  const size_t source = table.IndexOf(table.source_column);
  const size_t time = table.IndexOf(doc.kind->time_column);
  std::optional<ExistingRow> out;
  txn.Get(table, doc.key, [&](const engine::RowView& row) {
    out = ExistingRow{std::string(row.Text(json)), row.OptInt(source), TimeAt(row, time, table)};
    return false;
  });
  return out;
}

// The same time of the document about to be written.
std::optional<int64_t> DocumentTime(const ParsedDoc& doc) {
  if (doc.kind->time_column.empty()) return std::nullopt;
  return std::visit(
      [&](const auto& r) -> std::optional<int64_t> {
        using R = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<R, std::monostate>) {
          return std::nullopt;
        } else {
          std::array<engine::Value, KindOf<R>::kCodec.columns.size()> values;
          KindOf<R>::kCodec.Values(r, {}, &values);
          const engine::TableSpec& table = *KindOf<R>::kind().table;
          const engine::Value& v = values[table.IndexOf(doc.kind->time_column)];
          if (const auto* n = std::get_if<int64_t>(&v)) return *n;
          if (engine::IsNull(v)) return std::nullopt;
          return ParseTimestamp(engine::TextOf(v));
        }
      },
      doc.row);
}

// session_state.json is the live state; <session-id>.json and cook-*.json are snapshots of it.
bool IsLiveSessionFile(const std::string& path) {
  return std::filesystem::path(path).filename() == "session_state.json";
}

// Whether the new document is more recent than the row's: the live session
// file first, then the documents' own times, then the files' mtimes (copies
// made without -p have meaningless mtimes, so they decide only ties).
bool IsNewer(const ParsedDoc& doc, const Source& source, const FileStat& stat, const ExistingRow& existing,
             const LedgerRow& owner) {
  if (doc.kind->live_file_first) {
    const bool live = IsLiveSessionFile(source.path.string()), owner_live = IsLiveSessionFile(owner.path);
    if (live != owner_live) return live;
  }
  const std::optional<int64_t> ns = DocumentTime(doc);
  if (ns && existing.doc_ns && *ns != *existing.doc_ns) return *ns > *existing.doc_ns;
  return stat.mtime_ns >= owner.mtime_ns;
}

void WriteTypedRow(engine::WriteTxn& txn, const TypedRow& row, int64_t source_id) {
  std::visit(
      [&](const auto& r) {
        using R = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<R, DlqItem>) {
          UpsertDlqItem(txn, r, source_id);
        } else if constexpr (std::is_same_v<R, JobState>) {
          // Every imported version is kept (Prodigy kept up to 3, and two legacy
          // folders may hold different ones); later API writes prune as configured.
          InsertJobState(txn, r, INT_MAX, /*allow_older=*/true, source_id);
        } else if constexpr (std::is_same_v<R, Session>) {
          UpsertSession(txn, r, source_id);
        } else if constexpr (std::is_same_v<R, WorkflowCheckpoint>) {
          UpsertCheckpoint(txn, r, source_id);
        }
      },
      row);
}

std::string KeyText(const ParsedDoc& doc) {
  const auto [key1, key2] = LedgerKeyText(doc.key);
  return key2.empty() ? key1 : fmt::format("{} / {}", key1, key2);
}

// Stores one document. When its key is already taken by a different
// document, one of them becomes the typed row and the other is kept verbatim
// in source_blobs: rows written through the store win over imports, and
// between imports the newer document wins (IsNewer: the live session file,
// then the documents' own times, then the files' mtimes). Returns the note.
std::string ImportDocument(engine::WriteTxn& txn, const Source& source, const FileStat& stat,
                           const std::string& text, LedgerRow* row) {
  ParsedDoc doc = ParseDocument(source, text);
  if (!doc.reason.empty()) {
    txn.InsertUnparsed(row->id, 0, text, doc.reason);
    row->unparsed = 1;
    return doc.reason;
  }
  row->rows = 1;
  if (doc.blob) {
    StoreBlob(txn, row->id, text);
    return doc.note;
  }
  row->row_table = std::string(doc.kind->table->name);
  std::tie(row->row_key1, row->row_key2) = LedgerKeyText(doc.key);
  const std::optional<ExistingRow> existing = FindRow(txn, doc);
  if (!existing) {
    WriteTypedRow(txn, doc.row, row->id);
    return doc.note;
  }
  if (existing->json == text) return "identical to a document already in the store";
  if (!existing->source_id) {
    StoreBlob(txn, row->id, text);
    return fmt::format(
        "the store already holds a different {} row {} written through the store, which is "
        "kept; this document is kept verbatim for export --legacy",
        doc.kind->table->name, KeyText(doc));
  }
  const std::optional<LedgerRow> owner = LedgerById(txn, *existing->source_id);
  if (owner && !IsNewer(doc, source, stat, *existing, *owner)) {
    StoreBlob(txn, row->id, text);
    return fmt::format(
        "{} row {} comes from the newer {}; this older document is kept verbatim for export "
        "--legacy",
        doc.kind->table->name, KeyText(doc), owner->path);
  }
  if (owner && !txn.HasBlob(owner->id)) StoreBlob(txn, owner->id, existing->json);
  WriteTypedRow(txn, doc.row, row->id);
  return owner ? fmt::format("replaces the {} row {} of the older {}", doc.kind->table->name, KeyText(doc),
                             owner->path)
               : std::string();
}

}  // namespace

ImportedSource ImportSource(GlobalStorage::Impl& impl, const Source& source, const ProgressFn& progress) {
  ImportedSource result;
  // A large log is loaded the fast way (docs/performance.md, "Round 3"):
  // parsed on a second thread ahead of the inserts, pages written once, and
  // into an empty store the events indexes built after the rows. A small one
  // is not worth blocking other processes' readers for (the rollback journal
  // does, WAL does not).
  const bool large = IsLineKind(source.kind) && source.stat.size >= kBulkImportBytes;
  const bool in_time =
      source.stat.size <= static_cast<uint64_t>(impl.config.busy_timeout_ms) * kBulkBytesPerBusyMs;
  const std::shared_ptr<void> bulk = large && in_time ? impl.engine->BulkWrites() : nullptr;
  impl.Write([&](engine::WriteTxn& txn) {
    if (large) txn.DeferEventIndexes();
    std::vector<LedgerRow> superseded;
    for (LedgerRow& old : txn.LedgerByPath(source.path.string())) {
      if (old.status == kStatusRemoved) continue;
      LedgerDeleteWithRows(txn, old);
      superseded.push_back(std::move(old));
    }
    LedgerRow row;
    row.path = source.path.string();
    row.legacy_root = source.anchor.string();
    row.rel_path = source.rel_path;
    row.kind = KindName(source.kind);
    row.job_id = source.job_id;
    row.sha256 = "pending";
    row.status = kStatusImported;
    row.imported_at = FormatTimestamp(NowNs());
    row.id = txn.LedgerInsert(row);

    RawFile file(source.path, progress);
    if (IsLineKind(source.kind)) {
      EventWriter writer(txn, row.id);
      const LineScan scan = ScanEventLog(file, source.kind == Kind::kEventsArchive, source.job_id, large,
                                         [&](ScannedLine& line) { writer.Apply(line); });
      row.rows = writer.rows;
      row.unparsed = writer.unparsed;
      row.first_seq = writer.first_seq;
      row.last_seq = writer.last_seq;
      row.final_newline = scan.final_newline;
      row.content_sha256 = scan.content_sha256;
      if (!scan.gzip_error.empty()) {
        txn.InsertUnparsed(row.id, 0, {}, scan.gzip_error);
        ++row.unparsed;
        row.note = scan.gzip_error + "; the archive's exact bytes are kept";
      }
      if (writer.rows > 0) txn.LogChange(kChangeEvents, source.job_id);
    } else {
      const std::string text = ReadDocument(file);
      row.note = ImportDocument(txn, source, file.stat(), text, &row);
    }
    CrashPoint("mid_import");
    file.CheckUnchanged();
    for (const LedgerRow& old : superseded) DetachDocumentRow(txn, old);
    row.sha256 = file.FinalSha256();
    row.bytes = file.bytes_read();
    row.mtime_ns = file.stat().mtime_ns;
    row.inode = file.stat().inode;
    txn.LedgerUpdate(row);
    result.row = row;
    result.read_stat = file.stat();
  });
  return result;
}

SourceCounts CountSource(const Source& source, const ProgressFn& progress) {
  SourceCounts out;
  RawFile file(source.path, progress);
  if (IsLineKind(source.kind)) {
    LineCounter counter(source.job_id);
    const LineScan scan = ScanLines(file, source.kind == Kind::kEventsArchive, counter);
    out.rows = counter.rows;
    out.unparsed = counter.unparsed;
    if (!scan.gzip_error.empty()) {
      ++out.unparsed;
      out.note = scan.gzip_error;
    }
  } else {
    const std::string text = ReadDocument(file);
    const ParsedDoc doc = ParseDocument(source, text);
    if (doc.reason.empty())
      out.rows = 1;
    else
      out.unparsed = 1;
    out.note = doc.reason.empty() ? doc.note : doc.reason;
  }
  file.CheckUnchanged();
  out.sha256 = file.FinalSha256();
  return out;
}

}  // namespace prodigy::internal::legacy
