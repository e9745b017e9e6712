// prodigy-bench: measures the store against raw SQLite, Prodigy's JSONL and
// one-file-per-item layouts, sqlite-utils and jq, and prints one table.
//
//   prodigy-bench [quick|full] [--only 1,2,...] [--out FILE]
//
// Run it through tools/bench.sh, which builds in release mode first.
#include <fstream>
#include <iostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "prodigy/error.h"
#include "prodigy/log.h"
#include "workloads.h"

namespace {

using namespace prodigy::bench;

int Usage() {
  std::cerr << "usage: prodigy-bench [quick|full] [--only 1,2,3,4,5,6] [--out FILE]\n"
               "  1 import  2 append  3 concurrent  4 queries  5 DLQ stats  6 open\n";
  return 2;
}

std::string MachineLine() {
  std::string cpu = "unknown CPU";
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  }
  return fmt::format("{} logical CPUs, {}", std::thread::hardware_concurrency(), cpu);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "--child-import") {
    return ImportChild(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  if (!args.empty() && args[0] == "--child-raw-import") {
    return RawImportChild(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  // The import workload's input, for profiling the import by hand
  // (docs/performance.md, "Profiles"): --write-legacy FILE LINES.
  if (args.size() == 3 && args[0] == "--write-legacy") {
    WriteLegacyFile(args[1], std::stoull(args[2]));
    return 0;
  }
  Sizes sizes = QuickSizes();
  std::set<int> only;
  std::string out_file;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "quick")
      sizes = QuickSizes();
    else if (args[i] == "full")
      sizes = FullSizes();
    else if (args[i] == "--only" && i + 1 < args.size()) {
      for (char c : args[++i]) {
        if (c >= '1' && c <= '6') only.insert(c - '0');
      }
    } else if (args[i] == "--out" && i + 1 < args.size())
      out_file = args[++i];
    else
      return Usage();
  }
  const auto want = [&](int n) { return only.empty() || only.count(n) > 0; };

  Table table;
  Stopwatch total;
  try {
    if (want(1)) RunImport(sizes, table);
    if (want(2)) RunAppend(sizes, table);
    if (want(3)) RunConcurrent(sizes, table);
    if (want(4)) RunQueries(sizes, table);
    if (want(5)) RunDlq(sizes, table);
    if (want(6)) RunOpen(sizes, table);
  } catch (const prodigy::Error& e) {
    std::cerr << "prodigy-bench: " << e.message() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "prodigy-bench: " << e.what() << "\n";
    return 1;
  }
  const std::string text = fmt::format("Mode {} on {}; {:.0f} s in all.\n\n{}", sizes.mode, MachineLine(),
                                       total.Seconds(), table.Render());
  std::cout << text;
  if (!out_file.empty()) std::ofstream(out_file) << text;
  return 0;
}
