// Discovery of legacy Prodigy files: which folders may hold them for a
// repository, and what each file in them is. Nothing here writes or reads file
// contents (except two bytes to tell a real gzip archive from a plain-text
// rotated log); symlinks are never followed.
#ifndef PRODIGY_LEGACY_DISCOVER_H_
#define PRODIGY_LEGACY_DISCOVER_H_

#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "prodigy/config.h"
#include "store/kinds.h"

namespace prodigy::internal::legacy {

namespace fs = std::filesystem;

enum class Kind {
  kEvents,              // JSONL EventRecords (plain text, whatever the extension)
  kEventsArchive,       // a real gzip archive of JSONL lines
  kDlqItem,             // one DeadLetteredItem
  kDlqIndex,            // a DLQ index.json (derived; kept verbatim)
  kJobState,            // checkpoint-v<N>.json (MapReduceJobState)
  kJobStateMeta,        // metadata.json (CheckpointInfo; kept verbatim)
  kSession,             // session_state.json, <session-id>.json, cook-*.json, .mmm/state.json
  kWorkflowCheckpoint,  // checkpoints/<id>.checkpoint.json
  // Never imported, reported and left in place:
  kOrphanTmp,  // a temporary file of an unfinished Prodigy write
  kSymlink,    // not followed
  kSpecial,    // FIFO, socket, device, or a folder that cannot be listed
  kUnknown,    // a file in a storage folder that is not a Prodigy storage file
};

const char* KindName(Kind kind);
// The document kind a legacy file is stored as; nullptr for kinds never imported.
const DocumentKind* StoredKind(Kind kind);
bool IsImportable(Kind kind);
// Documents are read whole; the other importable kinds are streamed by line.
bool IsLineKind(Kind kind);

struct FileStat {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t inode = 0;
  uint64_t device = 0;
  bool operator==(const FileStat&) const = default;
};

enum class RootType { kLocal, kMmm, kGlobalEvents, kGlobalDlq, kGlobalState, kImport };

struct Root {
  fs::path path;    // the folder that holds the data
  fs::path anchor;  // rel_path of its files is relative to this
  RootType type;
};

struct Source {
  fs::path path;
  fs::path anchor;
  std::string rel_path;
  Kind kind = Kind::kUnknown;
  std::string job_id;       // events: the log folder; DLQ/state: the job
  FileStat stat;            // at discovery (lstat)
  std::string keep_reason;  // for kinds that are never imported
  std::string error;        // discovery failed (a folder that cannot be listed, ...)
  std::string group;        // where it came from, for the "Moving A -> B" lines
  size_t root_index = 0;
};

// The legacy folders of the repository that hold something (cheap: a few
// lstat calls and one listing of .prodigy/). `canonical_repo` is canonical.
std::vector<Root> FindRoots(const fs::path& canonical_repo, const StorageConfig& config);

// Every file in those folders' storage areas, in import order.
std::vector<Source> Discover(const std::vector<Root>& roots);

// Files and folders named by the user (`prodigy-store import`), in import order.
std::vector<Source> DiscoverPaths(const std::vector<fs::path>& paths);

FileStat ToFileStat(const struct stat& st);

// lstat as a FileStat; false when the path does not exist or is not a regular file.
bool StatRegular(const fs::path& path, FileStat* out);

}  // namespace prodigy::internal::legacy

#endif  // PRODIGY_LEGACY_DISCOVER_H_
