#include "legacy/rebuild.h"

#include <climits>

#include <fmt/format.h>

#include "store/kinds.h"
#include "util/sha256.h"

namespace prodigy::internal::legacy {
namespace {

bool IsLineSource(const LedgerRow& row) { return row.kind == "events" || row.kind == "events_archive"; }

// Whether the single line_no 0 row (a whole document, or an archive's damage
// note) exists.
bool HasLineZero(engine::ReadTxn& txn, int64_t source_id) {
  bool found = false;
  txn.UnparsedLines(source_id, 0, [&](int64_t line_no, std::string_view) {
    found = line_no == 0;
    return false;
  });
  return found;
}

std::string StreamBlob(engine::ReadTxn& txn, const LedgerRow& row, const ByteSink& sink) {
  int64_t expected = 0;
  std::string problem;
  txn.Blob(row.id, [&](int64_t chunk, std::string_view bytes) {
    if (chunk != expected++) {
      problem = fmt::format("chunk {} of the kept bytes is missing", expected - 1);
      return false;
    }
    sink(bytes);
    return true;
  });
  if (problem.empty() && expected == 0 && row.bytes > 0) problem = "the kept bytes are missing";
  return problem;
}

// A line source's unparsed lines in line order, read a page at a time
// (bounded memory however many lines failed to parse).
class UnparsedPager {
 public:
  UnparsedPager(engine::ReadTxn& txn, int64_t source_id) : txn_(txn), source_id_(source_id) {}
  // The next line's number, or INT64_MAX at the end.
  int64_t PeekLine() {
    if (pos_ == page_.size() && !done_) Refill();
    return pos_ < page_.size() ? page_[pos_].first : INT64_MAX;
  }
  const std::string& Take() { return page_[pos_++].second; }

 private:
  static constexpr size_t kPage = 1024;
  void Refill() {
    page_.clear();
    pos_ = 0;
    txn_.UnparsedLines(source_id_, next_line_, [&](int64_t line_no, std::string_view raw) {
      page_.emplace_back(line_no, std::string(raw));
      next_line_ = line_no + 1;
      return page_.size() < kPage;
    });
    done_ = page_.size() < kPage;
  }
  engine::ReadTxn& txn_;
  int64_t source_id_;
  int64_t next_line_ = 1;  // line 0 is a whole document or an archive's note
  std::vector<std::pair<int64_t, std::string>> page_;
  size_t pos_ = 0;
  bool done_ = false;
};

// The lines of a line source, merged in line order from events (by the seq
// range the import wrote) and unparsed_lines. `events` (when given) receives
// how many event rows were streamed.
std::string StreamLines(engine::ReadTxn& txn, const LedgerRow& row, const ByteSink& sink,
                        int64_t* events = nullptr) {
  UnparsedPager unparsed(txn, row.id);
  int64_t line_no = 0;
  std::string problem;
  bool pending_newline = false;
  auto emit = [&](int64_t n, std::string_view bytes) {
    if (n != line_no + 1) {
      problem = fmt::format("line {} is missing from the database", line_no + 1);
      return false;
    }
    line_no = n;
    if (pending_newline) sink("\n");
    sink(bytes);
    pending_newline = true;
    return true;
  };
  auto unparsed_before = [&](int64_t limit) {
    while (unparsed.PeekLine() < limit) {
      const int64_t n = unparsed.PeekLine();
      if (!emit(n, unparsed.Take())) return false;
    }
    return true;
  };
  int64_t streamed = 0;
  txn.ImportedEvents(row.id, row.first_seq.value_or(1), row.last_seq.value_or(0),
                     [&](int64_t n, std::string_view json) {
                       ++streamed;
                       return unparsed_before(n) && emit(n, json);
                     });
  if (events != nullptr) *events = streamed;
  if (problem.empty()) unparsed_before(INT64_MAX);
  if (problem.empty() && pending_newline && row.final_newline) sink("\n");
  return problem;
}

std::string StreamDocument(engine::ReadTxn& txn, const LedgerRow& row, const ByteSink& sink) {
  if (txn.HasBlob(row.id)) return StreamBlob(txn, row, sink);
  bool whole = false;
  txn.UnparsedLines(row.id, 0, [&](int64_t line_no, std::string_view raw) {
    if (line_no == 0) {
      sink(raw);
      whole = true;
    }
    return false;
  });
  if (whole) return {};
  const DocumentKind* kind = KindOfTable(row.row_table);
  if (kind == nullptr || !kind->key_from_text) return "the document is missing from the database";
  const RowKey key = kind->key_from_text(row.row_key1, row.row_key2);
  const size_t json = kind->table->IndexOf("json");
  const bool found = txn.Get(*kind->table, key, [&](const engine::RowView& r) {
    sink(r.Text(json));
    return false;
  });
  if (found) return {};
  return fmt::format("{} row {}{}{} no longer exists", row.row_table, row.row_key1,
                     row.row_key2.empty() ? "" : " / ", row.row_key2);
}

}  // namespace

std::string RebuildSource(engine::ReadTxn& txn, const LedgerRow& row, const ByteSink& sink) {
  if (row.kind == "events_archive") return StreamBlob(txn, row, sink);
  if (IsLineSource(row)) return StreamLines(txn, row, sink);
  return StreamDocument(txn, row, sink);
}

RowCounts CountRows(engine::ReadTxn& txn, const LedgerRow& row) {
  RowCounts c;
  if (IsLineSource(row)) {
    c.rows = txn.CountImportedEvents(row.id, row.first_seq.value_or(1), row.last_seq.value_or(0));
    c.unparsed = txn.CountUnparsed(row.id);
    return c;
  }
  if (HasLineZero(txn, row.id)) {
    c.unparsed = 1;
    return c;
  }
  bool present = txn.HasBlob(row.id);
  if (!present) {
    present = RebuildSource(txn, row, [](std::string_view) {}).empty();
  }
  c.rows = present ? 1 : 0;
  return c;
}

std::string ProveFromDatabase(engine::ReadTxn& txn, const LedgerRow& row) {
  const auto differ = [&](const RowCounts& counts) {
    return counts.rows == row.rows && counts.unparsed == row.unparsed
               ? std::string()
               : fmt::format(
                     "the database holds {} rows and {} unparsed lines of it, the file gave {} and {}",
                     counts.rows, counts.unparsed, row.rows, row.unparsed);
  };
  Sha256 sha;
  uint64_t bytes = 0;
  const ByteSink sink = [&](std::string_view data) {
    sha.Update(data);
    bytes += data.size();
  };
  std::string problem;
  if (row.kind == "events") {
    // An event log's rows are counted while its lines are rebuilt: one pass
    // over its part of the events table instead of two. A rebuild that stopped
    // early saw only some rows: those are counted again.
    RowCounts streamed;
    problem = StreamLines(txn, row, sink, &streamed.rows);
    if (problem.empty()) {
      streamed.unparsed = txn.CountUnparsed(row.id);
    } else {
      streamed = CountRows(txn, row);
    }
    if (std::string counts = differ(streamed); !counts.empty()) return counts;
  } else {
    if (std::string counts = differ(CountRows(txn, row)); !counts.empty()) return counts;
    problem = RebuildSource(txn, row, sink);
  }
  if (!problem.empty()) return problem;
  const std::string rebuilt = sha.FinalHex();
  if (rebuilt != row.sha256 || bytes != row.bytes) {
    return fmt::format(
        "the bytes rebuilt from the database ({} bytes, SHA-256 {}) differ from the original "
        "({} bytes, SHA-256 {})",
        bytes, rebuilt, row.bytes, row.sha256);
  }
  if (row.kind == "events_archive") {
    Sha256 content;
    problem = StreamLines(txn, row, [&](std::string_view data) { content.Update(data); });
    if (!problem.empty()) return problem;
    if (content.FinalHex() != row.content_sha256) {
      return "the archive's lines rebuilt from the database differ from its decompressed content";
    }
  }
  return {};
}

}  // namespace prodigy::internal::legacy
