// Faults outside SQLite: errors of the C library's file calls (ENOSPC, EIO,
// EACCES, ...) for the mirror writer and the legacy importer.
//
// libc_faults.cc defines open, read, write, rename, unlink, ... in the test
// executable itself; the dynamic linker binds the library's calls to these
// definitions first (symbol interposition, as an LD_PRELOAD shim would be),
// and they forward to the C library unless a fault is armed. Only calls on
// paths under a chosen folder count, and never those of SQLite's own files
// (prodigy.db*), which the fault VFS covers.
#ifndef PRODIGY_TESTS_FAULT_LIBC_FAULTS_H_
#define PRODIGY_TESTS_FAULT_LIBC_FAULTS_H_

#include <cstdint>
#include <string>

namespace prodigy::fault::libc {

enum class Call { kOpen, kRead, kWrite, kClose, kRename, kUnlink, kAny };
const char* CallName(Call call);

// From now on, calls of class `call` on paths under `folder` are counted; the
// Nth fails with `err` (errno), and with `persistent` every later one too (a
// full disk, or permissions taken away mid-run).
void Arm(Call call, int64_t nth, int err, bool persistent, const std::string& folder);
void Disarm();
bool Fired();
int64_t Count(Call call);

}  // namespace prodigy::fault::libc

#endif  // PRODIGY_TESTS_FAULT_LIBC_FAULTS_H_
