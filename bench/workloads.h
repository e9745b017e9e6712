// The six workloads. Each runs its contenders side by side (interleaved in
// rounds where a run is short) and adds its rows to the table.
#ifndef PRODIGY_BENCH_WORKLOADS_H_
#define PRODIGY_BENCH_WORKLOADS_H_

#include <cstddef>
#include <string>
#include <vector>

#include "bench_util.h"
#include "prodigy/config.h"

namespace prodigy::bench {

struct Sizes {
  std::string mode;            // "quick" or "full"
  size_t import_lines;         // legacy JSONL file to import
  size_t single_appends;       // events appended one per transaction
  size_t batch_events;         // events appended in batches
  size_t concurrent_per_proc;  // events per process (one per transaction)
  size_t query_events;         // events in the store queried
  size_t dlq_items;            // DLQ items for stats
  int opens;                   // opens timed
  int rounds;                  // rounds of the short workloads (median reported)
};

Sizes QuickSizes();
Sizes FullSizes();

// A configuration with its root at <dir>/store: no config file, no
// automatic migration, mirrors as given, every other setting the default.
StorageConfig BenchConfig(const fs::path& dir, bool mirrors);
// Creates the repository folder <dir>/<name> and returns it.
fs::path MakeRepo(const fs::path& dir, const std::string& name = "repo");

void RunImport(const Sizes& sizes, Table& table);
void RunAppend(const Sizes& sizes, Table& table);
void RunConcurrent(const Sizes& sizes, Table& table);
void RunQueries(const Sizes& sizes, Table& table);
void RunDlq(const Sizes& sizes, Table& table);
void RunOpen(const Sizes& sizes, Table& table);

// Child process entry points (the program re-executes itself so that the
// child's peak RSS is its own). Return the process exit code.
int ImportChild(const std::vector<std::string>& args);
int RawImportChild(const std::vector<std::string>& args);
// Writes a legacy events file of `lines` generated events; returns the lines written.
size_t WriteLegacyFile(const fs::path& file, size_t lines);

}  // namespace prodigy::bench

#endif  // PRODIGY_BENCH_WORKLOADS_H_
