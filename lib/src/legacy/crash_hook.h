// Test-only crash points. With PRODIGY_TEST_CRASH_AT=<step>[:<n>] in the
// environment the importer kills its own process with SIGKILL the n-th time
// (default: the first) it reaches <step>, so tests can prove that a migration
// killed at any point loses nothing and re-runs cleanly. Steps, in order:
//   after_plan    sources discovered, nothing written yet
//   mid_import    inside a source's transaction, all its rows written, not committed
//   after_import  a source committed (n counts sources)
//   after_verify  every source verified, nothing deleted
//   mid_delete    an original deleted (n counts deletions)
// Never set in production; unset, a crash point costs one branch.
#ifndef PRODIGY_LEGACY_CRASH_HOOK_H_
#define PRODIGY_LEGACY_CRASH_HOOK_H_

namespace prodigy::internal::legacy {

void CrashPoint(const char* step);

}  // namespace prodigy::internal::legacy

#endif  // PRODIGY_LEGACY_CRASH_HOOK_H_
