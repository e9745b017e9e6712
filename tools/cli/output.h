// Output helpers of the CLI: aligned tables, JSON, CSV (progress: progress.h).
#ifndef PRODIGY_TOOLS_CLI_OUTPUT_H_
#define PRODIGY_TOOLS_CLI_OUTPUT_H_

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace prodigy::cli {

// Key order of --json output is part of the documented interface.
using Json = nlohmann::ordered_json;

// Prints `j` (2-space indent) and a newline to stdout.
void PrintJson(const Json& j);

// Columns aligned with spaces (never tabs). Rows are buffered and printed in
// chunks, so a long listing does not sit in memory; column widths only grow
// from one chunk to the next. On a terminal the last column is cut to the
// terminal width.
class Table {
 public:
  Table(std::vector<std::string> headers, bool tty);
  ~Table();  // prints what is left
  Table(const Table&) = delete;
  Table& operator=(const Table&) = delete;

  void Add(std::vector<std::string> row);
  // Prints the buffered rows now (tail -f: show each batch at once).
  void Flush();
  int64_t rows() const { return rows_; }

 private:
  void PrintRow(const std::vector<std::string>& row);

  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> pending_;
  std::vector<size_t> widths_;
  bool tty_;
  bool header_printed_ = false;
  int64_t rows_ = 0;
  size_t terminal_width_ = 0;
};

// "Key: value" lines with the values aligned.
class KeyValues {
 public:
  void Add(std::string key, std::string value);
  void Print() const;

 private:
  std::vector<std::pair<std::string, std::string>> rows_;
};

// One RFC 4180 field: quoted when it holds a comma, quote or line break.
std::string CsvField(std::string_view value);
std::string CsvRow(const std::vector<std::string>& fields);

// "1 item", "3 items"
std::string Plural(int64_t n, std::string_view noun);
// "1.5 MiB"
std::string HumanBytes(int64_t bytes);
// "12.5" (one decimal; "0.0" when total is 0)
std::string Percent(int64_t part, int64_t total);
double PercentValue(int64_t part, int64_t total);
// Width in terminal columns (UTF-8 aware enough for ids and messages).
size_t DisplayWidth(std::string_view s);
// Cuts to `width` columns, ending with "..." when cut.
std::string Truncate(std::string_view s, size_t width);

}  // namespace prodigy::cli

#endif  // PRODIGY_TOOLS_CLI_OUTPUT_H_
