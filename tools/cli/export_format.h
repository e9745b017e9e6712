// Export formats shared by `export` and `dlq export`: documents as a JSON
// array (verbatim texts), JSONL (one compact line per document, key order
// kept) or CSV (the extracted columns plus the document), written to stdout or
// to a file that appears only when complete (temp file + rename).
#ifndef PRODIGY_TOOLS_CLI_EXPORT_FORMAT_H_
#define PRODIGY_TOOLS_CLI_EXPORT_FORMAT_H_

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "prodigy/records.h"

namespace prodigy::cli {

enum class Format { kJsonl, kJson, kCsv };
// "jsonl", "json", "csv"; anything else is a UsageError.
Format ParseFormat(std::string_view text);
const char* FormatExtension(Format format);

// stdout for "-"; otherwise "<path>.tmp-<pid>", renamed to <path> by Commit()
// and removed if never committed.
class OutputSink {
 public:
  explicit OutputSink(const std::string& path);
  ~OutputSink();
  OutputSink(const OutputSink&) = delete;
  OutputSink& operator=(const OutputSink&) = delete;
  FILE* file() const { return file_; }
  void Write(std::string_view text);
  void Commit();
  bool is_stdout() const { return path_.empty(); }

 private:
  std::filesystem::path path_;  // empty for stdout
  std::filesystem::path tmp_path_;
  FILE* file_ = nullptr;
};

class DocWriter {
 public:
  DocWriter(OutputSink& sink, Format format, std::vector<std::string> csv_header);
  // `json` is the stored document; `csv` its row (without the document).
  void Add(std::string_view json, std::vector<std::string> csv);
  void Finish();
  int64_t count() const { return count_; }

 private:
  OutputSink& sink_;
  Format format_;
  int64_t count_ = 0;
};

// CSV columns of each kind; every row ends with the document in "json".
std::vector<std::string> EventCsvHeader();
std::vector<std::string> EventCsv(const Event& e);
std::vector<std::string> DlqCsvHeader();
std::vector<std::string> DlqCsv(const DlqItem& d);
std::vector<std::string> StateCsvHeader();
std::vector<std::string> StateCsv(const JobState& s);
std::vector<std::string> SessionCsvHeader();
std::vector<std::string> SessionCsv(const Session& s);
std::vector<std::string> CheckpointCsvHeader();
std::vector<std::string> CheckpointCsv(const WorkflowCheckpoint& c);

}  // namespace prodigy::cli

#endif  // PRODIGY_TOOLS_CLI_EXPORT_FORMAT_H_
