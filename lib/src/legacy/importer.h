// Importing one legacy source: its rows, its ledger row and its kept bytes in
// ONE write transaction, so a crash or error leaves the whole source or
// nothing. Rows go through the core's row writers (store/rows.h), so imported
// data is queried exactly like data written through the API.
#ifndef PRODIGY_LEGACY_IMPORTER_H_
#define PRODIGY_LEGACY_IMPORTER_H_

#include "legacy/discover.h"
#include "legacy/ledger.h"
#include "legacy/scan.h"
#include "store/storage_impl.h"

namespace prodigy::internal::legacy {

struct ImportedSource {
  LedgerRow row;       // as recorded
  FileStat read_stat;  // the file when it was read
};

// Throws SourceError when the source cannot be read or changed while being
// read (nothing was written), prodigy::Error when the database cannot be
// written (stop the run). An earlier import of the same path whose original
// was not removed (the file has changed since) is replaced in the same
// transaction, so a re-import never duplicates rows.
ImportedSource ImportSource(GlobalStorage::Impl& impl, const Source& source, const ProgressFn& progress);

// What the import of a source would write, without writing (the dry run).
struct SourceCounts {
  std::string sha256;
  int64_t rows = 0;
  int64_t unparsed = 0;
  std::string note;
};
SourceCounts CountSource(const Source& source, const ProgressFn& progress);

}  // namespace prodigy::internal::legacy

#endif  // PRODIGY_LEGACY_IMPORTER_H_
