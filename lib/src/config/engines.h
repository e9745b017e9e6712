// Which storage engines this build contains.
#ifndef PRODIGY_CONFIG_ENGINES_H_
#define PRODIGY_CONFIG_ENGINES_H_

#include "prodigy/config.h"

namespace prodigy::internal {

// Throws Error(kConfig) saying how to rebuild when the configuration selects
// an engine this build does not contain.
void RequireEngineBuilt(const StorageConfig& config);

}  // namespace prodigy::internal

#endif  // PRODIGY_CONFIG_ENGINES_H_
