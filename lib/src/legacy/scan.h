// Reading legacy sources: streaming with bounded memory, hashing every byte,
// decompressing gzip archives, splitting lines, and deciding what each line or
// document becomes. Shared by the dry run (which only counts) and the import.
#ifndef PRODIGY_LEGACY_SCAN_H_
#define PRODIGY_LEGACY_SCAN_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>

#include "legacy/discover.h"
#include "prodigy/records.h"
#include "store/kinds.h"
#include "util/sha256.h"

namespace prodigy::internal::legacy {

// A problem with one source (unreadable, changed while read, a line too long):
// that source is reported and left in place, the run goes on.
class SourceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A line (or document) longer than this makes its source fail instead of
// exhausting memory; SQLite could not store it anyway beyond 1 GB.
inline constexpr size_t kMaxLineBytes = size_t{256} << 20;
inline constexpr size_t kChunkBytes = size_t{1} << 20;

using ProgressFn = std::function<void(uint64_t bytes)>;  // bytes just read

// A regular file opened without following symlinks, read in chunks, every
// byte hashed. Errors are SourceError naming the path.
class RawFile {
 public:
  RawFile(const fs::path& path, ProgressFn progress = {});
  ~RawFile();
  RawFile(const RawFile&) = delete;
  RawFile& operator=(const RawFile&) = delete;

  const FileStat& stat() const { return stat_; }
  const fs::path& path() const { return path_; }
  // The next chunk (at most kChunkBytes); empty at the end of the file.
  std::string_view Read();
  uint64_t bytes_read() const { return bytes_read_; }
  // SHA-256 of all bytes read (call once, at the end).
  std::string FinalSha256() { return sha_.FinalHex(); }
  // Throws SourceError unless the file (and the name) is unchanged since it
  // was opened and every byte was read.
  void CheckUnchanged() const;

 private:
  fs::path path_;
  ProgressFn progress_;
  int fd_ = -1;
  FileStat stat_;
  std::string buffer_;
  uint64_t bytes_read_ = 0;
  Sha256 sha_;
};

// Reads the whole file and returns its SHA-256 (for verification). `stat`
// receives the file's state when it was opened.
std::string HashFile(const fs::path& path, FileStat* stat, const ProgressFn& progress = {});

class LineVisitor {
 public:
  virtual ~LineVisitor() = default;
  // line_no is 1-based; `has_newline` is false only for a last line without "\n".
  virtual void Line(int64_t line_no, std::string_view line, bool has_newline) = 0;
  // Archives: each chunk of the compressed file, in order.
  virtual void RawChunk(std::string_view /*chunk*/) {}
};

struct LineScan {
  int64_t lines = 0;
  bool final_newline = true;
  std::string content_sha256;  // archives: SHA-256 of the decompressed bytes
  std::string gzip_error;      // archives: why decompression stopped early
};

// Reads `file` to the end, calling `visitor` for each line of its content
// (decompressed when `gzip`). Memory: one chunk plus the longest line.
LineScan ScanLines(RawFile& file, bool gzip, LineVisitor& visitor);

// What a line of an event log becomes: an event, or an unparsed row and why.
struct ParsedLine {
  std::optional<Event> event;
  std::string reason;
};
ParsedLine ParseEventLine(const std::string& job_id, std::string_view line, bool has_newline);

// A document file read whole (at most kMaxLineBytes).
std::string ReadDocument(RawFile& file);

using TypedRow = std::variant<std::monostate, DlqItem, JobState, Session, WorkflowCheckpoint>;

// What a document becomes.
struct ParsedDoc {
  TypedRow row;        // the typed row, or monostate
  std::string reason;  // set when the document is kept as an unparsed row
  // Kept verbatim in source_blobs (metadata.json, index.json): derived data
  // the store regenerates, but the exact bytes are still needed to restore.
  bool blob = false;
  const DocumentKind* kind = nullptr;  // the typed row's kind and key
  RowKey key;
  std::string note;  // quirks (metadata.json pointing elsewhere, ...)
};
ParsedDoc ParseDocument(const Source& source, const std::string& text);

}  // namespace prodigy::internal::legacy

#endif  // PRODIGY_LEGACY_SCAN_H_
