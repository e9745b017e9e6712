#include "output.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>

namespace prodigy::cli {
namespace {

constexpr size_t kChunkRows = 1000;

size_t TerminalWidth(int fd) {
  struct winsize ws {};
  if (::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 0;
}

}  // namespace

void PrintJson(const Json& j) {
  // Invalid UTF-8 in stored text is replaced rather than aborting the output.
  const std::string text = j.dump(2, ' ', false, Json::error_handler_t::replace);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
}

size_t DisplayWidth(std::string_view s) {
  size_t width = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++width;  // count code points, not bytes
  }
  return width;
}

std::string Truncate(std::string_view s, size_t width) {
  if (DisplayWidth(s) <= width) return std::string(s);
  if (width <= 3) return std::string(width, '.');
  std::string out;
  size_t cols = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = s[i];
    if ((c & 0xC0) != 0x80) {
      if (cols == width - 3) break;
      ++cols;
    }
    out.push_back(static_cast<char>(c));
  }
  return out + "...";
}

Table::Table(std::vector<std::string> headers, bool tty) : headers_(std::move(headers)), tty_(tty) {
  widths_.resize(headers_.size(), 0);
  for (size_t i = 0; i < headers_.size(); ++i) widths_[i] = DisplayWidth(headers_[i]);
  if (tty_) terminal_width_ = TerminalWidth(STDOUT_FILENO);
}

Table::~Table() { Flush(); }

void Table::Add(std::vector<std::string> row) {
  row.resize(headers_.size());
  // A cell is one line: line breaks in stored text would break the columns.
  for (std::string& cell : row)
    std::replace_if(
        cell.begin(), cell.end(), [](char c) { return c == '\n' || c == '\r' || c == '\t'; }, ' ');
  pending_.push_back(std::move(row));
  ++rows_;
  if (pending_.size() >= kChunkRows) Flush();
}

void Table::Flush() {
  if (pending_.empty()) return;
  for (const auto& row : pending_) {
    for (size_t i = 0; i < row.size(); ++i) widths_[i] = std::max(widths_[i], DisplayWidth(row[i]));
  }
  if (!header_printed_) {
    PrintRow(headers_);
    header_printed_ = true;
  }
  for (const auto& row : pending_) PrintRow(row);
  pending_.clear();
  std::fflush(stdout);
}

void Table::PrintRow(const std::vector<std::string>& row) {
  std::string line;
  for (size_t i = 0; i < row.size(); ++i) {
    const bool last = i + 1 == row.size();
    if (last) {
      std::string cell = row[i];
      // Cut the last column to the terminal; when even the columns before it
      // do not fit, cutting would hide whole columns: let the line wrap.
      if (terminal_width_ >= DisplayWidth(line) + 10) {
        cell = Truncate(cell, terminal_width_ - DisplayWidth(line));
      }
      line += cell;
    } else {
      line += row[i];
      line.append(widths_[i] - DisplayWidth(row[i]) + 2, ' ');
    }
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), stdout);
}

void KeyValues::Add(std::string key, std::string value) {
  rows_.emplace_back(std::move(key), std::move(value));
}

void KeyValues::Print() const {
  size_t width = 0;
  for (const auto& [key, value] : rows_) width = std::max(width, DisplayWidth(key) + 1);
  for (const auto& [key, value] : rows_) {
    const std::string label = key + ":";
    fmt::print("{}{}  {}\n", label, std::string(width - DisplayWidth(label), ' '), value);
  }
}

std::string CsvField(std::string_view value) {
  if (value.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    if (c == '"')
      out += "\"\"";
    else
      out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string CsvRow(const std::vector<std::string>& fields) {
  std::string line;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i) line.push_back(',');
    line += CsvField(fields[i]);
  }
  line += "\r\n";
  return line;
}

std::string Plural(int64_t n, std::string_view noun) {
  return fmt::format("{} {}{}", n, noun, n == 1 ? "" : "s");
}

std::string HumanBytes(int64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  if (unit == 0) return fmt::format("{} B", bytes);
  return fmt::format("{:.1f} {}", value, kUnits[unit]);
}

double PercentValue(int64_t part, int64_t total) {
  if (total <= 0) return 0.0;
  // Rounded to one decimal, so text and --json agree.
  return static_cast<double>(static_cast<int64_t>(1000.0 * part / total + 0.5)) / 10.0;
}

std::string Percent(int64_t part, int64_t total) { return fmt::format("{:.1f}", PercentValue(part, total)); }

}  // namespace prodigy::cli
