// A fault-injecting SQLite VFS for the reliability tests, in the manner of
// SQLite's own test_devsym.c (I/O errors) and test6.c (power loss).
//
// Install() registers a shim over the default unix VFS as the process's
// default VFS, so every database the library opens in this process goes
// through it. The shim does nothing until armed:
//
//  - Faults: Arm() makes the Nth operation of a class (read, write, sync,
//    truncate, lock, open, ...) fail with a given SQLite error, once or from
//    then on ("persistent", like a disk that stays full).
//  - Power loss: TrackUnsynced() starts keeping, per file, the writes and
//    truncations made since that file's last xSync. PowerLoss() then puts the
//    files back into a state a real disk could be in after losing power: the
//    unsynced changes dropped, a random subset of them kept, or kept but torn
//    at sector boundaries. The process must not use its open connections
//    afterwards (call it in a child that exits right away).
//
// The shim reports iVersion 2 io methods, so SQLite does not memory-map the
// database (xFetch): every read goes through xRead, where faults can reach it.
//
// Test-only code: nothing here is linked into the library.
#ifndef PRODIGY_TESTS_FAULT_FAULT_VFS_H_
#define PRODIGY_TESTS_FAULT_FAULT_VFS_H_

#include <cstdint>
#include <functional>
#include <string>

namespace prodigy::fault {

enum class Op { kRead, kWrite, kSync, kTruncate, kLock, kOpen, kFileSize, kShm, kDelete, kAny };
const char* OpName(Op op);

// Registers the shim as the default VFS (idempotent).
void Install();

// The Nth (1-based) operation of class `op` from now on fails with
// `sqlite_error`; with `persistent`, every later one of that class fails too.
void Arm(Op op, int64_t nth, int sqlite_error, bool persistent);
void Disarm();
// True when an armed fault was delivered since the last Arm().
bool Fired();
// Operations of class `op` since the last Arm() or ResetCounts().
int64_t Count(Op op);
void ResetCounts();

enum class LossMode {
  kDropAll,     // every unsynced write and truncation is lost
  kRandomKeep,  // each unsynced change survives or not at random (reordering)
  kTorn,        // like kRandomKeep, and a kept write keeps only some of its sectors
};
const char* LossModeName(LossMode mode);

// Starts keeping unsynced changes of every file opened from now on.
void TrackUnsynced();
// Rewrites the tracked files to a post-power-loss state (deterministic for a seed).
void PowerLoss(LossMode mode, uint64_t seed);
// Calls `fn` right before the Nth write or sync (counted together) after
// this call; `fn` typically runs PowerLoss() and _exit()s the process.
void OnNthWriteOrSync(int64_t nth, std::function<void()> fn);
// Writes and syncs since the last OnNthWriteOrSync().
int64_t WritesOrSyncs();
// Syncs of files whose name ends in "-wal" so far (the point up to which a
// synchronous=NORMAL WAL database is durable).
int64_t WalSyncs();

}  // namespace prodigy::fault

#endif  // PRODIGY_TESTS_FAULT_FAULT_VFS_H_
