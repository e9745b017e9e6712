#include "fault_vfs.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <vector>

namespace prodigy::fault {
namespace {

constexpr int kOps = static_cast<int>(Op::kAny) + 1;
constexpr int64_t kSector = 512;

// One change made to a file since its last sync, with the bytes it replaced.
struct Change {
  bool truncate = false;
  int64_t offset = 0;  // write offset, or the new size of a truncation
  std::string data;    // bytes written (writes only)
  std::string before;  // bytes the change overwrote or cut off
};

struct FileHistory {
  int64_t synced_size = 0;
  std::vector<Change> changes;
};

struct State {
  std::mutex mu;
  sqlite3_vfs* real = nullptr;
  // Faults.
  bool armed = false;
  Op armed_op = Op::kAny;
  int64_t armed_nth = 0;
  int armed_error = SQLITE_IOERR;
  bool persistent = false;
  bool fired = false;
  int64_t counts[kOps] = {};
  // Power loss.
  bool tracking = false;
  std::map<std::string, FileHistory> files;
  int64_t writes_or_syncs = 0;
  int64_t trigger_at = 0;
  std::function<void()> trigger;
  int64_t wal_syncs = 0;
};

State& S() {
  static State* s = new State;  // never destroyed: used until the process exits
  return *s;
}

struct ShimFile {
  sqlite3_file base;
  sqlite3_file* real;
  std::string* path;  // null for temp files
};

sqlite3_file* Real(sqlite3_file* f) { return reinterpret_cast<ShimFile*>(f)->real; }

// Counts an operation and says whether it must fail (and with which error).
int Check(Op op) {
  State& s = S();
  std::lock_guard<std::mutex> lock(s.mu);
  const int64_t n = ++s.counts[static_cast<int>(op)];
  const int64_t any = ++s.counts[static_cast<int>(Op::kAny)];
  if (!s.armed) return SQLITE_OK;
  const int64_t seen = s.armed_op == Op::kAny ? any : (s.armed_op == op ? n : 0);
  if (seen == 0) return SQLITE_OK;
  if (seen == s.armed_nth || (s.persistent && seen > s.armed_nth)) {
    s.fired = true;
    return s.armed_error;
  }
  return SQLITE_OK;
}

// Runs the power-loss trigger when its write/sync comes.
void CountWriteOrSync() {
  std::function<void()> fn;
  {
    State& s = S();
    std::lock_guard<std::mutex> lock(s.mu);
    ++s.writes_or_syncs;
    if (s.trigger && s.writes_or_syncs == s.trigger_at) fn = s.trigger;
  }
  if (fn) fn();
}

int64_t RealSize(sqlite3_file* real) {
  sqlite3_int64 size = 0;
  if (real->pMethods->xFileSize(real, &size) != SQLITE_OK) return 0;
  return size;
}

std::string ReadRange(sqlite3_file* real, int64_t offset, int64_t len, int64_t size) {
  if (offset >= size) return {};
  len = std::min(len, size - offset);
  std::string out(static_cast<size_t>(len), '\0');
  real->pMethods->xRead(real, out.data(), static_cast<int>(len), offset);
  return out;
}

FileHistory* History(ShimFile* f, std::lock_guard<std::mutex>&) {
  State& s = S();
  if (!s.tracking || f->path == nullptr) return nullptr;
  auto it = s.files.find(*f->path);
  if (it == s.files.end()) {
    it = s.files.emplace(*f->path, FileHistory{}).first;
    it->second.synced_size = RealSize(f->real);
  }
  return &it->second;
}

int ShimClose(sqlite3_file* f) {
  ShimFile* p = reinterpret_cast<ShimFile*>(f);
  const int rc = p->real->pMethods ? p->real->pMethods->xClose(p->real) : SQLITE_OK;
  delete p->path;
  sqlite3_free(p->real);
  return rc;
}

int ShimRead(sqlite3_file* f, void* buf, int amt, sqlite3_int64 off) {
  if (int rc = Check(Op::kRead)) return rc;
  return Real(f)->pMethods->xRead(Real(f), buf, amt, off);
}

int ShimWrite(sqlite3_file* f, const void* buf, int amt, sqlite3_int64 off) {
  CountWriteOrSync();
  if (int rc = Check(Op::kWrite)) return rc;
  ShimFile* p = reinterpret_cast<ShimFile*>(f);
  {
    std::lock_guard<std::mutex> lock(S().mu);
    if (FileHistory* h = History(p, lock)) {
      Change c;
      c.offset = off;
      c.data.assign(static_cast<const char*>(buf), static_cast<size_t>(amt));
      c.before = ReadRange(p->real, off, amt, RealSize(p->real));
      h->changes.push_back(std::move(c));
    }
  }
  return p->real->pMethods->xWrite(p->real, buf, amt, off);
}

int ShimTruncate(sqlite3_file* f, sqlite3_int64 size) {
  CountWriteOrSync();
  if (int rc = Check(Op::kTruncate)) return rc;
  ShimFile* p = reinterpret_cast<ShimFile*>(f);
  {
    std::lock_guard<std::mutex> lock(S().mu);
    if (FileHistory* h = History(p, lock)) {
      const int64_t cur = RealSize(p->real);
      Change c;
      c.truncate = true;
      c.offset = size;
      if (cur > size) c.before = ReadRange(p->real, size, cur - size, cur);
      h->changes.push_back(std::move(c));
    }
  }
  return p->real->pMethods->xTruncate(p->real, size);
}

int ShimSync(sqlite3_file* f, int flags) {
  CountWriteOrSync();
  if (int rc = Check(Op::kSync)) return rc;
  ShimFile* p = reinterpret_cast<ShimFile*>(f);
  const int rc = p->real->pMethods->xSync(p->real, flags);
  if (rc == SQLITE_OK && p->path != nullptr) {
    State& s = S();
    std::lock_guard<std::mutex> lock(s.mu);
    const std::string& path = *p->path;
    if (path.size() > 4 && path.compare(path.size() - 4, 4, "-wal") == 0) ++s.wal_syncs;
    if (FileHistory* h = History(p, lock)) {
      h->changes.clear();
      h->synced_size = RealSize(p->real);
    }
  }
  return rc;
}

int ShimFileSize(sqlite3_file* f, sqlite3_int64* size) {
  if (int rc = Check(Op::kFileSize)) return rc;
  return Real(f)->pMethods->xFileSize(Real(f), size);
}

int ShimLock(sqlite3_file* f, int level) {
  if (int rc = Check(Op::kLock)) return rc;
  return Real(f)->pMethods->xLock(Real(f), level);
}
int ShimUnlock(sqlite3_file* f, int level) { return Real(f)->pMethods->xUnlock(Real(f), level); }
int ShimCheckReservedLock(sqlite3_file* f, int* out) {
  return Real(f)->pMethods->xCheckReservedLock(Real(f), out);
}
int ShimFileControl(sqlite3_file* f, int op, void* arg) {
  return Real(f)->pMethods->xFileControl(Real(f), op, arg);
}
int ShimSectorSize(sqlite3_file* f) { return Real(f)->pMethods->xSectorSize(Real(f)); }
int ShimDeviceCharacteristics(sqlite3_file* f) { return Real(f)->pMethods->xDeviceCharacteristics(Real(f)); }
int ShimShmMap(sqlite3_file* f, int region, int size, int extend, void volatile** out) {
  if (int rc = Check(Op::kShm)) return rc;
  return Real(f)->pMethods->xShmMap(Real(f), region, size, extend, out);
}
int ShimShmLock(sqlite3_file* f, int offset, int n, int flags) {
  return Real(f)->pMethods->xShmLock(Real(f), offset, n, flags);
}
void ShimShmBarrier(sqlite3_file* f) { Real(f)->pMethods->xShmBarrier(Real(f)); }
int ShimShmUnmap(sqlite3_file* f, int del) { return Real(f)->pMethods->xShmUnmap(Real(f), del); }

const sqlite3_io_methods kMethods = {
    2,  // no xFetch/xUnfetch: SQLite reads through xRead, where faults reach it
    ShimClose,
    ShimRead,
    ShimWrite,
    ShimTruncate,
    ShimSync,
    ShimFileSize,
    ShimLock,
    ShimUnlock,
    ShimCheckReservedLock,
    ShimFileControl,
    ShimSectorSize,
    ShimDeviceCharacteristics,
    ShimShmMap,
    ShimShmLock,
    ShimShmBarrier,
    ShimShmUnmap,
    nullptr,
    nullptr,
};

int VfsOpen(sqlite3_vfs* vfs, const char* name, sqlite3_file* f, int flags, int* out_flags) {
  ShimFile* p = reinterpret_cast<ShimFile*>(f);
  p->base.pMethods = nullptr;
  p->real = nullptr;
  p->path = nullptr;
  if (int rc = Check(Op::kOpen)) return rc;
  sqlite3_vfs* real = static_cast<sqlite3_vfs*>(vfs->pAppData);
  p->real = static_cast<sqlite3_file*>(sqlite3_malloc(real->szOsFile));
  if (p->real == nullptr) return SQLITE_NOMEM;
  std::memset(p->real, 0, static_cast<size_t>(real->szOsFile));
  const int rc = real->xOpen(real, name, p->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    if (p->real->pMethods) p->real->pMethods->xClose(p->real);
    sqlite3_free(p->real);
    p->real = nullptr;
    return rc;
  }
  if (name != nullptr) p->path = new std::string(name);
  p->base.pMethods = &kMethods;
  return SQLITE_OK;
}

int VfsDelete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
  if (int rc = Check(Op::kDelete)) return rc;
  {
    // A deleted file is taken to be gone for good (directory entries are not modelled).
    State& s = S();
    std::lock_guard<std::mutex> lock(s.mu);
    s.files.erase(name);
  }
  sqlite3_vfs* real = static_cast<sqlite3_vfs*>(vfs->pAppData);
  return real->xDelete(real, name, sync_dir);
}

int VfsAccess(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
  sqlite3_vfs* real = static_cast<sqlite3_vfs*>(vfs->pAppData);
  return real->xAccess(real, name, flags, out);
}
int VfsFullPathname(sqlite3_vfs* vfs, const char* name, int n, char* out) {
  sqlite3_vfs* real = static_cast<sqlite3_vfs*>(vfs->pAppData);
  return real->xFullPathname(real, name, n, out);
}
void* VfsDlOpen(sqlite3_vfs* vfs, const char* name) {
  sqlite3_vfs* real = static_cast<sqlite3_vfs*>(vfs->pAppData);
  return real->xDlOpen(real, name);
}
void VfsDlError(sqlite3_vfs* vfs, int n, char* out) {
  sqlite3_vfs* real = static_cast<sqlite3_vfs*>(vfs->pAppData);
  real->xDlError(real, n, out);
}
void (*VfsDlSym(sqlite3_vfs* vfs, void* h, const char* sym))(void) {
  sqlite3_vfs* real = static_cast<sqlite3_vfs*>(vfs->pAppData);
  return real->xDlSym(real, h, sym);
}
void VfsDlClose(sqlite3_vfs* vfs, void* h) {
  sqlite3_vfs* real = static_cast<sqlite3_vfs*>(vfs->pAppData);
  real->xDlClose(real, h);
}
int VfsRandomness(sqlite3_vfs* vfs, int n, char* out) {
  sqlite3_vfs* real = static_cast<sqlite3_vfs*>(vfs->pAppData);
  return real->xRandomness(real, n, out);
}
int VfsSleep(sqlite3_vfs* vfs, int us) {
  sqlite3_vfs* real = static_cast<sqlite3_vfs*>(vfs->pAppData);
  return real->xSleep(real, us);
}
int VfsCurrentTime(sqlite3_vfs* vfs, double* out) {
  sqlite3_vfs* real = static_cast<sqlite3_vfs*>(vfs->pAppData);
  return real->xCurrentTime(real, out);
}
int VfsGetLastError(sqlite3_vfs* vfs, int n, char* out) {
  sqlite3_vfs* real = static_cast<sqlite3_vfs*>(vfs->pAppData);
  return real->xGetLastError ? real->xGetLastError(real, n, out) : 0;
}
int VfsCurrentTimeInt64(sqlite3_vfs* vfs, sqlite3_int64* out) {
  sqlite3_vfs* real = static_cast<sqlite3_vfs*>(vfs->pAppData);
  return real->xCurrentTimeInt64(real, out);
}

void WriteAt(int fd, const std::string& data, int64_t offset) {
  if (data.empty()) return;
  if (::pwrite(fd, data.data(), data.size(), offset) != static_cast<ssize_t>(data.size())) std::abort();
}

}  // namespace

const char* OpName(Op op) {
  static const char* const kNames[] = {"read", "write", "sync",    "truncate", "lock",
                                       "open", "fstat", "shm-map", "delete",   "any"};
  return kNames[static_cast<int>(op)];
}

const char* LossModeName(LossMode mode) {
  switch (mode) {
    case LossMode::kDropAll:
      return "drop-all";
    case LossMode::kRandomKeep:
      return "random-subset";
    case LossMode::kTorn:
      return "torn";
  }
  return "?";
}

void Install() {
  static sqlite3_vfs vfs;
  static std::once_flag once;
  std::call_once(once, [] {
    sqlite3_initialize();
    sqlite3_vfs* real = sqlite3_vfs_find(nullptr);
    S().real = real;
    vfs = {};
    vfs.iVersion = 2;
    vfs.szOsFile = sizeof(ShimFile);
    vfs.mxPathname = real->mxPathname;
    vfs.zName = "prodigy-fault";
    vfs.pAppData = real;
    vfs.xOpen = VfsOpen;
    vfs.xDelete = VfsDelete;
    vfs.xAccess = VfsAccess;
    vfs.xFullPathname = VfsFullPathname;
    vfs.xDlOpen = VfsDlOpen;
    vfs.xDlError = VfsDlError;
    vfs.xDlSym = VfsDlSym;
    vfs.xDlClose = VfsDlClose;
    vfs.xRandomness = VfsRandomness;
    vfs.xSleep = VfsSleep;
    vfs.xCurrentTime = VfsCurrentTime;
    vfs.xGetLastError = VfsGetLastError;
    vfs.xCurrentTimeInt64 = VfsCurrentTimeInt64;
    if (sqlite3_vfs_register(&vfs, 1) != SQLITE_OK) std::abort();
  });
}

void Arm(Op op, int64_t nth, int sqlite_error, bool persistent) {
  State& s = S();
  std::lock_guard<std::mutex> lock(s.mu);
  s.armed = true;
  s.armed_op = op;
  s.armed_nth = nth;
  s.armed_error = sqlite_error;
  s.persistent = persistent;
  s.fired = false;
  std::fill(std::begin(s.counts), std::end(s.counts), 0);
}

void Disarm() {
  std::lock_guard<std::mutex> lock(S().mu);
  S().armed = false;
}

bool Fired() {
  std::lock_guard<std::mutex> lock(S().mu);
  return S().fired;
}

int64_t Count(Op op) {
  std::lock_guard<std::mutex> lock(S().mu);
  return S().counts[static_cast<int>(op)];
}

void ResetCounts() {
  std::lock_guard<std::mutex> lock(S().mu);
  std::fill(std::begin(S().counts), std::end(S().counts), 0);
}

void TrackUnsynced() {
  std::lock_guard<std::mutex> lock(S().mu);
  S().tracking = true;
  S().files.clear();
}

void OnNthWriteOrSync(int64_t nth, std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(S().mu);
  S().writes_or_syncs = 0;
  S().trigger_at = nth;
  S().trigger = std::move(fn);
}

int64_t WritesOrSyncs() {
  std::lock_guard<std::mutex> lock(S().mu);
  return S().writes_or_syncs;
}

int64_t WalSyncs() {
  std::lock_guard<std::mutex> lock(S().mu);
  return S().wal_syncs;
}

void PowerLoss(LossMode mode, uint64_t seed) {
  State& s = S();
  std::lock_guard<std::mutex> lock(s.mu);
  std::mt19937_64 rng(seed);
  for (const auto& [path, h] : s.files) {
    if (h.changes.empty()) continue;
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) continue;  // deleted since
    // Back to the last synced state: undo every change, newest first.
    for (auto it = h.changes.rbegin(); it != h.changes.rend(); ++it) {
      WriteAt(fd, it->before, it->offset);
    }
    if (::ftruncate(fd, h.synced_size) != 0) std::abort();
    // Then redo the changes the disk happened to keep, in order.
    for (const Change& c : h.changes) {
      if (mode == LossMode::kDropAll || rng() % 2 == 0) continue;
      if (c.truncate) {
        if (::ftruncate(fd, c.offset) != 0) std::abort();
        continue;
      }
      if (mode != LossMode::kTorn) {
        WriteAt(fd, c.data, c.offset);
        continue;
      }
      // Torn: each whole sector of the write reaches the disk or not.
      int64_t pos = c.offset;
      const int64_t end = c.offset + static_cast<int64_t>(c.data.size());
      while (pos < end) {
        const int64_t next = std::min(end, (pos / kSector + 1) * kSector);
        if (rng() % 2 == 0) {
          WriteAt(fd, c.data.substr(static_cast<size_t>(pos - c.offset), static_cast<size_t>(next - pos)),
                  pos);
        }
        pos = next;
      }
    }
    ::close(fd);
  }
  s.files.clear();
}

}  // namespace prodigy::fault
