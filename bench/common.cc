#include "workloads.h"

namespace prodigy::bench {

Sizes QuickSizes() {
  Sizes s;
  s.mode = "quick";
  s.import_lines = 100000;
  s.single_appends = 2000;
  s.batch_events = 50000;
  s.concurrent_per_proc = 400;
  s.query_events = 100000;
  s.dlq_items = 20000;
  s.opens = 200;
  s.rounds = 3;
  return s;
}

Sizes FullSizes() {
  Sizes s;
  s.mode = "full";
  s.import_lines = 1250000;  // ~1.06 GB: the size the RSS target is stated for
  s.single_appends = 20000;
  s.batch_events = 200000;
  s.concurrent_per_proc = 2000;
  s.query_events = 1000000;
  s.dlq_items = 100000;
  s.opens = 200;
  s.rounds = 5;
  return s;
}

StorageConfig BenchConfig(const fs::path& dir, bool mirrors) {
  StorageConfig c;
  c.storage_dir = dir / "store";
  c.storage_dir_source = StorageDirSource::kFlag;
  c.mirrors = mirrors;
  c.migration = MigrationPolicy::kOff;
  return c;
}

fs::path MakeRepo(const fs::path& dir, const std::string& name) {
  const fs::path repo = dir / name;
  fs::create_directories(repo);
  return repo;
}

}  // namespace prodigy::bench
