// Defined by the store layer once the engine seam is wired through it (the
// document-kind descriptors, store/kinds.cc). Until then this weak fallback,
// with the same meaning, lets the engines link; the store's definition wins.
#include "engine/tables.h"
#include "prodigy/storage.h"

namespace prodigy::engine::tables {

__attribute__((weak)) std::optional<int64_t> CheckpointTimeNs(const WorkflowCheckpoint& c) {
  return ParseTimestamp(c.timestamp);
}

}  // namespace prodigy::engine::tables
