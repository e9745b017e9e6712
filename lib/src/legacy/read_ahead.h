// Importing a large event log on two cores: one thread reads, hashes, splits
// and parses the file while the calling thread inserts what it parsed.
#ifndef PRODIGY_LEGACY_READ_AHEAD_H_
#define PRODIGY_LEGACY_READ_AHEAD_H_

#include <cstdint>
#include <functional>
#include <string>

#include "legacy/scan.h"

namespace prodigy::internal::legacy {

// One line of an event log, parsed, or one raw chunk of an archive.
struct ScannedLine {
  int64_t line_no = 0;  // 1-based; 0: `bytes` is a chunk of the compressed file
  std::string bytes;    // the line when it did not parse (an event keeps it as its json), or the chunk
  ParsedLine parsed;
};

// ScanLines for an event log, calling `apply` on the calling thread for every
// line and raw chunk in file order. With `ahead`, a second thread reads and
// parses a bounded number of batches (about a megabyte) ahead; without, or
// when no thread can be started, everything runs on the calling thread. An
// exception of either side stops both; the reader's (a SourceError) surfaces
// when `apply` has seen every line before it.
LineScan ScanEventLog(RawFile& file, bool gzip, const std::string& job_id, bool ahead,
                      const std::function<void(ScannedLine&)>& apply);

}  // namespace prodigy::internal::legacy

#endif  // PRODIGY_LEGACY_READ_AHEAD_H_
