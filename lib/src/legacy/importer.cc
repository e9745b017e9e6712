#include "legacy/importer.h"

#include <climits>

#include <fmt/format.h>

#include "legacy/crash_hook.h"
#include "store/rows.h"

namespace prodigy::internal::legacy {
namespace {

void InsertUnparsed(WriteTxn& txn, int64_t source_id, int64_t line_no, std::string_view raw,
                    const std::string& reason) {
  SQLite::Statement& s =
      txn.Prepare("INSERT INTO unparsed_lines (source_id, line_no, raw, reason) VALUES (?1, ?2, ?3, ?4)");
  s.bind(1, source_id);
  s.bind(2, line_no);
  // A null pointer would bind NULL; an empty line is an empty blob.
  s.bindNoCopy(3, static_cast<const void*>(raw.empty() ? "" : raw.data()), static_cast<int>(raw.size()));
  s.bind(4, reason);
  s.exec();
}

void StoreBlob(WriteTxn& txn, int64_t source_id, std::string_view data) {
  int64_t chunk = 0;
  do {
    const std::string_view part = data.substr(0, kChunkBytes);
    AppendBlob(txn, source_id, chunk++, part);
    data.remove_prefix(part.size());
  } while (!data.empty());
}

// Writes each line of an event log as an event or an unparsed row.
class EventWriter : public LineVisitor {
 public:
  EventWriter(WriteTxn& txn, int64_t source_id, const std::string& job_id)
      : txn_(txn), source_id_(source_id), job_id_(job_id) {}

  void Line(int64_t line_no, std::string_view line, bool has_newline) override {
    ParsedLine parsed = ParseEventLine(job_id_, line, has_newline);
    if (parsed.event) {
      const int64_t seq = InsertEvent(txn_, *parsed.event, source_id_, line_no);
      if (!first_seq) first_seq = seq;
      last_seq = seq;
      ++rows;
    } else {
      InsertUnparsed(txn_, source_id_, line_no, line, parsed.reason);
      ++unparsed;
    }
  }

  void RawChunk(std::string_view chunk) override { AppendBlob(txn_, source_id_, chunks_++, chunk); }

  int64_t rows = 0;
  int64_t unparsed = 0;
  std::optional<int64_t> first_seq;
  std::optional<int64_t> last_seq;

 private:
  WriteTxn& txn_;
  int64_t source_id_;
  const std::string& job_id_;
  int64_t chunks_ = 0;
};

class LineCounter : public LineVisitor {
 public:
  explicit LineCounter(const std::string& job_id) : job_id_(job_id) {}
  void Line(int64_t, std::string_view line, bool has_newline) override {
    if (ParseEventLine(job_id_, line, has_newline).event) ++rows;
    else ++unparsed;
  }
  int64_t rows = 0;
  int64_t unparsed = 0;

 private:
  const std::string& job_id_;
};

struct ExistingRow {
  std::string json;
  std::optional<int64_t> source_id;
  std::optional<int64_t> doc_ns;  // the document's own time (see DocumentTime)
};

std::optional<ExistingRow> FindRow(WriteTxn& txn, const ParsedDoc& doc) {
  SQLite::Statement* q = nullptr;
  if (doc.table == "dlq_items") {
    q = &txn.Prepare("SELECT json, source_id, last_attempt_ns FROM dlq_items WHERE job_id = ?1 AND item_id = ?2");
    q->bind(2, doc.key2);
  } else if (doc.table == "job_states") {
    q = &txn.Prepare("SELECT json, source_id, updated_at FROM job_states WHERE job_id = ?1 AND version = ?2");
    q->bind(2, static_cast<int64_t>(std::stoll(doc.key2)));
  } else if (doc.table == "sessions") {
    q = &txn.Prepare("SELECT json, source_id, NULL FROM sessions WHERE session_id = ?1");
  } else {
    q = &txn.Prepare("SELECT json, source_id, ts_ns FROM workflow_checkpoints WHERE workflow_id = ?1");
  }
  q->bind(1, doc.key1);
  std::optional<ExistingRow> out;
  if (q->executeStep()) {
    ExistingRow r;
    r.json = q->getColumn(0).getString();
    r.source_id = ColumnOptInt(*q, 1);
    const SQLite::Column t = q->getColumn(2);
    if (t.isInteger()) r.doc_ns = t.getInt64();
    else if (t.isText()) r.doc_ns = ParseTimestamp(t.getString());
    out = std::move(r);
  }
  q->reset();
  return out;
}

// When the document was current, by its own content: a DLQ item's
// last_attempt, a job state's updated_at, a workflow checkpoint's timestamp.
std::optional<int64_t> DocumentTime(const TypedRow& row) {
  if (const auto* d = std::get_if<DlqItem>(&row)) return d->last_attempt_ns;
  if (const auto* s = std::get_if<JobState>(&row)) return ParseTimestamp(s->updated_at);
  if (const auto* c = std::get_if<WorkflowCheckpoint>(&row)) return ParseTimestamp(c->timestamp);
  return std::nullopt;
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
  if (doc.table == "sessions") {
    const bool live = IsLiveSessionFile(source.path.string()), owner_live = IsLiveSessionFile(owner.path);
    if (live != owner_live) return live;
  }
  const std::optional<int64_t> ns = DocumentTime(doc.row);
  if (ns && existing.doc_ns && *ns != *existing.doc_ns) return *ns > *existing.doc_ns;
  return stat.mtime_ns >= owner.mtime_ns;
}

void WriteTypedRow(WriteTxn& txn, const TypedRow& row, int64_t source_id) {
  if (const auto* d = std::get_if<DlqItem>(&row)) {
    UpsertDlqItem(txn, *d, source_id);
  } else if (const auto* s = std::get_if<JobState>(&row)) {
    // Every imported version is kept (Prodigy kept up to 3, and two legacy
    // folders may hold different ones); later API writes prune as configured.
    InsertJobState(txn, *s, INT_MAX, /*allow_older=*/true, source_id);
  } else if (const auto* x = std::get_if<Session>(&row)) {
    UpsertSession(txn, *x, source_id);
  } else if (const auto* c = std::get_if<WorkflowCheckpoint>(&row)) {
    UpsertCheckpoint(txn, *c, source_id);
  }
}

std::string KeyText(const ParsedDoc& doc) {
  return doc.key2.empty() ? doc.key1 : fmt::format("{} / {}", doc.key1, doc.key2);
}

// Stores one document. When its key is already taken by a different
// document, one of them becomes the typed row and the other is kept verbatim
// in source_blobs: rows written through the store win over imports, and
// between imports the newer file (mtime) wins. Returns the note.
std::string ImportDocument(WriteTxn& txn, const Source& source, const FileStat& stat, const std::string& text,
                           LedgerRow* row) {
  ParsedDoc doc = ParseDocument(source, text);
  if (!doc.reason.empty()) {
    InsertUnparsed(txn, row->id, 0, text, doc.reason);
    row->unparsed = 1;
    return doc.reason;
  }
  row->rows = 1;
  if (doc.blob) {
    StoreBlob(txn, row->id, text);
    return doc.note;
  }
  row->row_table = doc.table;
  row->row_key1 = doc.key1;
  row->row_key2 = doc.key2;
  const std::optional<ExistingRow> existing = FindRow(txn, doc);
  if (!existing) {
    WriteTypedRow(txn, doc.row, row->id);
    return doc.note;
  }
  if (existing->json == text) return "identical to a document already in the store";
  if (!existing->source_id) {
    StoreBlob(txn, row->id, text);
    return fmt::format("the store already holds a different {} row {} written through the store, which is "
                       "kept; this document is kept verbatim for export --legacy",
                       doc.table, KeyText(doc));
  }
  const std::optional<LedgerRow> owner = LedgerById(txn.conn(), *existing->source_id);
  if (owner && !IsNewer(doc, source, stat, *existing, *owner)) {
    StoreBlob(txn, row->id, text);
    return fmt::format("{} row {} comes from the newer {}; this older document is kept verbatim for export "
                       "--legacy",
                       doc.table, KeyText(doc), owner->path);
  }
  if (owner && !HasBlob(txn.conn(), owner->id)) StoreBlob(txn, owner->id, existing->json);
  WriteTypedRow(txn, doc.row, row->id);
  return owner ? fmt::format("replaces the {} row {} of the older {}", doc.table, KeyText(doc), owner->path)
               : std::string();
}

}  // namespace

ImportedSource ImportSource(GlobalStorage::Impl& impl, const Source& source, const ProgressFn& progress) {
  ImportedSource result;
  impl.Write([&](WriteTxn& txn) {
    std::vector<LedgerRow> superseded;
    for (LedgerRow& old : LedgerByPath(txn.conn(), source.path.string())) {
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
    row.id = LedgerInsert(txn, row);

    RawFile file(source.path, progress);
    if (IsLineKind(source.kind)) {
      EventWriter writer(txn, row.id, source.job_id);
      const LineScan scan = ScanLines(file, source.kind == Kind::kEventsArchive, writer);
      row.rows = writer.rows;
      row.unparsed = writer.unparsed;
      row.first_seq = writer.first_seq;
      row.last_seq = writer.last_seq;
      row.final_newline = scan.final_newline;
      row.content_sha256 = scan.content_sha256;
      if (!scan.gzip_error.empty()) {
        InsertUnparsed(txn, row.id, 0, {}, scan.gzip_error);
        ++row.unparsed;
        row.note = scan.gzip_error + "; the archive's exact bytes are kept";
      }
      if (writer.rows > 0) LogChange(txn, kChangeEvents, source.job_id);
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
    LedgerUpdate(txn, row);
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
    if (doc.reason.empty()) out.rows = 1;
    else out.unparsed = 1;
    out.note = doc.reason.empty() ? doc.note : doc.reason;
  }
  file.CheckUnchanged();
  out.sha256 = file.FinalSha256();
  return out;
}

}  // namespace prodigy::internal::legacy
