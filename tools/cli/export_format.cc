#include "export_format.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "output.h"
#include "prodigy/error.h"

namespace prodigy::cli {
namespace {

std::string Bool(bool b) { return b ? "true" : "false"; }

// One line of JSONL for a document that may be pretty-printed: parsed with
// the key order kept and written compact. A document that does not parse
// (never stored by the library, but be safe) is written with its line
// breaks escaped away rather than breaking the line structure.
std::string CompactLine(std::string_view json) {
  if (json.find('\n') == std::string_view::npos) return std::string(json);
  auto doc = nlohmann::ordered_json::parse(json, nullptr, false);
  if (doc.is_discarded()) {
    std::string out(json);
    for (char& c : out) {
      if (c == '\n' || c == '\r') c = ' ';
    }
    return out;
  }
  return doc.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace

Format ParseFormat(std::string_view text) {
  if (text == "jsonl") return Format::kJsonl;
  if (text == "json") return Format::kJson;
  if (text == "csv") return Format::kCsv;
  throw UsageError(fmt::format("--format '{}' is not one of jsonl, json, csv", text));
}

const char* FormatExtension(Format format) {
  switch (format) {
    case Format::kJsonl:
      return "jsonl";
    case Format::kJson:
      return "json";
    case Format::kCsv:
      return "csv";
  }
  return "";
}

OutputSink::OutputSink(const std::string& path) {
  if (path.empty() || path == "-") {
    file_ = stdout;
    return;
  }
  path_ = path;
  tmp_path_ = path_;
  tmp_path_ += fmt::format(".tmp-{}", ::getpid());
  file_ = std::fopen(tmp_path_.c_str(), "wbx");
  if (file_ == nullptr) {
    throw Error::Io(fmt::format("cannot create {}: {}", tmp_path_.string(), std::strerror(errno)));
  }
}

OutputSink::~OutputSink() {
  if (file_ != nullptr && file_ != stdout) {
    std::fclose(file_);
    ::unlink(tmp_path_.c_str());
  }
}

void OutputSink::Write(std::string_view text) {
  if (std::fwrite(text.data(), 1, text.size(), file_) != text.size()) {
    throw Error::Io(fmt::format("writing {} failed: {}", is_stdout() ? "stdout" : tmp_path_.string(),
                                std::strerror(errno)));
  }
}

void OutputSink::Commit() {
  if (file_ == stdout) {
    std::fflush(stdout);
    return;
  }
  const bool ok = std::fflush(file_) == 0 && ::fsync(fileno(file_)) == 0;
  const int err = errno;
  std::fclose(file_);
  file_ = nullptr;
  if (!ok || std::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    const int rename_err = ok ? errno : err;
    ::unlink(tmp_path_.c_str());
    throw Error::Io(fmt::format("cannot write {}: {}", path_.string(), std::strerror(rename_err)));
  }
}

DocWriter::DocWriter(OutputSink& sink, Format format, std::vector<std::string> csv_header)
    : sink_(sink), format_(format) {
  if (format_ == Format::kCsv) {
    csv_header.push_back("json");
    sink_.Write(CsvRow(csv_header));
  } else if (format_ == Format::kJson) {
    sink_.Write("[");
  }
}

void DocWriter::Add(std::string_view json, std::vector<std::string> csv) {
  switch (format_) {
    case Format::kJsonl:
      sink_.Write(CompactLine(json));
      sink_.Write("\n");
      break;
    case Format::kJson:
      // Stored documents are valid JSON: the array holds them verbatim.
      sink_.Write(count_ ? ",\n" : "\n");
      sink_.Write(json);
      break;
    case Format::kCsv:
      csv.emplace_back(json);
      sink_.Write(CsvRow(csv));
      break;
  }
  ++count_;
}

void DocWriter::Finish() {
  if (format_ == Format::kJson) sink_.Write(count_ ? "\n]\n" : "]\n");
}

std::vector<std::string> EventCsvHeader() {
  return {"seq", "job_id", "timestamp", "event_type", "event_name", "agent_id", "item_id", "record_id"};
}
std::vector<std::string> EventCsv(const Event& e) {
  return {std::to_string(e.seq), e.job_id,   e.timestamp, e.event_type,
          e.event_name,          e.agent_id, e.item_id,   e.record_id};
}

std::vector<std::string> DlqCsvHeader() {
  return {"job_id",
          "item_id",
          "first_attempt",
          "last_attempt",
          "failure_count",
          "error_type",
          "error_signature",
          "reprocess_eligible",
          "manual_review_required",
          "reprocess_requested_at"};
}
std::vector<std::string> DlqCsv(const DlqItem& d) {
  return {d.job_id,
          d.item_id,
          d.first_attempt,
          d.last_attempt,
          std::to_string(d.failure_count),
          d.error_type,
          d.error_signature,
          Bool(d.reprocess_eligible),
          Bool(d.manual_review_required),
          d.reprocess_requested_at.value_or("")};
}

std::vector<std::string> StateCsvHeader() {
  return {"job_id",           "version",      "is_complete", "total_items",
          "successful_count", "failed_count", "updated_at",  "written_at"};
}
std::vector<std::string> StateCsv(const JobState& s) {
  return {s.job_id,
          std::to_string(s.version),
          Bool(s.is_complete),
          std::to_string(s.total_items),
          std::to_string(s.successful_count),
          std::to_string(s.failed_count),
          s.updated_at,
          s.written_at};
}

std::vector<std::string> SessionCsvHeader() {
  return {"session_id", "status", "started_at", "ended_at", "working_directory", "updated_at"};
}
std::vector<std::string> SessionCsv(const Session& s) {
  return {s.session_id, s.status, s.started_at, s.ended_at, s.working_directory, s.updated_at};
}

std::vector<std::string> CheckpointCsvHeader() {
  return {"workflow_id", "workflow_name", "status",    "current_step_index",
          "total_steps", "timestamp",     "updated_at"};
}
std::vector<std::string> CheckpointCsv(const WorkflowCheckpoint& c) {
  return {c.workflow_id,
          c.workflow_name,
          c.status,
          std::to_string(c.current_step_index),
          std::to_string(c.total_steps),
          c.timestamp,
          c.updated_at};
}

}  // namespace prodigy::cli
