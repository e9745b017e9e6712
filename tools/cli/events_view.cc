#include "events_view.h"

#include <cstdio>

namespace prodigy::cli {
namespace {

constexpr size_t kMaxValueWidth = 60;

std::string Scalar(const std::string& key, const nlohmann::ordered_json& v) {
  // chrono::Duration is [secs, nanos] (reference §2.0).
  if (v.is_array() && v.size() == 2 && v[0].is_number_integer() && v[1].is_number_integer() &&
      (key == "duration" || key.ends_with("_duration"))) {
    return fmt::format("{:.3f}s", v[0].get<double>() + v[1].get<double>() / 1e9);
  }
  if (v.is_string()) return Truncate(v.get<std::string>(), kMaxValueWidth);
  if (v.is_array()) return fmt::format("[{} items]", v.size());
  if (v.is_object()) return "{...}";
  return v.dump();
}

}  // namespace

std::string EventDetails(const Event& e) {
  // ordered: details follow the record's own field order.
  nlohmann::ordered_json record = nlohmann::ordered_json::parse(e.json, nullptr, false);
  if (record.is_discarded()) return "";
  auto ev = record.find("event");
  if (ev == record.end() || !ev->is_object()) return "";
  std::string out;
  for (auto it = ev->begin(); it != ev->end(); ++it) {
    const std::string& key = it.key();
    if (key == "event_type" || key == "job_id" || key == "agent_id" || key == "timestamp") continue;
    if (it->is_null()) continue;
    if (!out.empty()) out.push_back(' ');
    out += key + "=" + Scalar(key, *it);
  }
  return out;
}

std::string EventJsonLine(const Event& e) {
  auto str = [](const std::string& s) {
    return s.empty() ? std::string("null")
                     : nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  // The record is embedded as stored: it is one line of valid JSON already.
  return fmt::format(
      R"({{"seq":{},"job_id":{},"timestamp":{},"event_type":{},"event_name":{},"agent_id":{},"item_id":{},"record":{}}})",
      e.seq, str(e.job_id), str(e.timestamp), str(e.event_type), str(e.event_name), str(e.agent_id),
      str(e.item_id), e.json);
}

EventPrinter::EventPrinter(Mode mode, bool tty, bool show_job) : mode_(mode), show_job_(show_job) {
  if (mode_ == Mode::kTable) {
    std::vector<std::string> headers = {"SEQ", "TIMESTAMP", "TYPE", "AGENT", "DETAILS"};
    if (show_job_) headers.insert(headers.begin() + 1, "JOB");
    table_ = std::make_unique<Table>(std::move(headers), tty);
  }
}

void EventPrinter::Print(const Event& e) {
  ++printed_;
  switch (mode_) {
    case Mode::kRaw:
      std::fwrite(e.json.data(), 1, e.json.size(), stdout);
      std::fputc('\n', stdout);
      return;
    case Mode::kJson: {
      const std::string line = EventJsonLine(e);
      std::fwrite(line.data(), 1, line.size(), stdout);
      std::fputc('\n', stdout);
      return;
    }
    case Mode::kTable: {
      std::vector<std::string> row = {std::to_string(e.seq), e.timestamp,
                                      e.event_name.empty() ? e.event_type : e.event_name,
                                      e.agent_id.empty() ? "-" : e.agent_id, EventDetails(e)};
      if (show_job_) row.insert(row.begin() + 1, e.job_id);
      table_->Add(std::move(row));
      return;
    }
  }
}

void EventPrinter::Flush() {
  if (table_) table_->Flush();
  std::fflush(stdout);
}

}  // namespace prodigy::cli
