// Built without _FILE_OFFSET_BITS: the definitions below must keep the
// C library's own symbol names (open, pwrite), not their *64 redirections.
#undef _FILE_OFFSET_BITS

#include "libc_faults.h"

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace prodigy::fault::libc {
namespace {

constexpr int kCalls = static_cast<int>(Call::kAny) + 1;
constexpr int kMaxFd = 65536;

struct State {
  std::mutex mu;
  std::atomic<bool> armed{false};
  Call call = Call::kAny;
  int64_t nth = 0;
  int err = EIO;
  bool persistent = false;
  bool fired = false;
  std::string folder;
  int64_t counts[kCalls] = {};
  bool watched_fd[kMaxFd] = {};
};

State& S() {
  static State* s = new State;  // used until the process exits
  return *s;
}

bool Watched(const char* path) {
  State& s = S();
  if (path == nullptr || s.folder.empty()) return false;
  std::string_view p(path);
  if (p.substr(0, s.folder.size()) != s.folder) return false;
  return p.find("prodigy.db") == std::string_view::npos;
}

// Counts a call on a watched path; returns the errno to fail with, or 0.
int Check(Call call) {
  State& s = S();
  std::lock_guard<std::mutex> lock(s.mu);
  const int64_t n = ++s.counts[static_cast<int>(call)];
  const int64_t any = ++s.counts[static_cast<int>(Call::kAny)];
  const int64_t seen = s.call == Call::kAny ? any : (s.call == call ? n : 0);
  if (seen == 0) return 0;
  if (seen == s.nth || (s.persistent && seen > s.nth)) {
    s.fired = true;
    return s.err;
  }
  return 0;
}

int CheckPath(Call call, const char* path) {
  if (!S().armed.load(std::memory_order_relaxed) || !Watched(path)) return 0;
  return Check(call);
}

int CheckFd(Call call, int fd) {
  if (!S().armed.load(std::memory_order_relaxed) || fd < 0 || fd >= kMaxFd || !S().watched_fd[fd]) return 0;
  return Check(call);
}

void NoteFd(int fd, const char* path) {
  if (fd >= 0 && fd < kMaxFd) S().watched_fd[fd] = S().armed.load(std::memory_order_relaxed) && Watched(path);
}

template <class F>
F Next(const char* name) {
  void* sym = ::dlsym(RTLD_NEXT, name);
  if (sym == nullptr) std::abort();
  return reinterpret_cast<F>(sym);
}

}  // namespace

const char* CallName(Call call) {
  static const char* const kNames[] = {"open", "read", "write", "close", "rename", "unlink", "any"};
  return kNames[static_cast<int>(call)];
}

void Arm(Call call, int64_t nth, int err, bool persistent, const std::string& folder) {
  State& s = S();
  std::lock_guard<std::mutex> lock(s.mu);
  s.call = call;
  s.nth = nth;
  s.err = err;
  s.persistent = persistent;
  s.fired = false;
  s.folder = folder;
  std::fill(std::begin(s.counts), std::end(s.counts), 0);
  s.armed = true;
}

void Disarm() { S().armed = false; }

bool Fired() {
  std::lock_guard<std::mutex> lock(S().mu);
  return S().fired;
}

int64_t Count(Call call) {
  std::lock_guard<std::mutex> lock(S().mu);
  return S().counts[static_cast<int>(call)];
}

}  // namespace prodigy::fault::libc

// ---- The interposed C library calls -----------------------------------------
using prodigy::fault::libc::Call;
namespace shim = prodigy::fault::libc;

#define PRODIGY_FAIL_WITH(err_expr)  \
  do {                               \
    if (const int e_ = (err_expr)) { \
      errno = e_;                    \
      return -1;                     \
    }                                \
  } while (0)

extern "C" {

static int OpenImpl(const char* name, const char* path, int flags, mode_t mode) {
  using Fn = int (*)(const char*, int, ...);
  PRODIGY_FAIL_WITH(shim::CheckPath(Call::kOpen, path));
  static Fn open_fn = shim::Next<Fn>(name);
  const int fd = open_fn(path, flags, mode);
  shim::NoteFd(fd, path);
  return fd;
}

// The mode argument of open(2), present only when a file may be created.
#define PRODIGY_OPEN_MODE(flags, mode)           \
  mode_t mode = 0;                               \
  if ((flags) & (O_CREAT | O_TMPFILE)) {         \
    va_list ap;                                  \
    va_start(ap, flags);                         \
    mode = static_cast<mode_t>(va_arg(ap, int)); \
    va_end(ap);                                  \
  }

int open(const char* path, int flags, ...) {
  PRODIGY_OPEN_MODE(flags, mode);
  return OpenImpl("open", path, flags, mode);
}

int open64(const char* path, int flags, ...) {
  PRODIGY_OPEN_MODE(flags, mode);
  return OpenImpl("open64", path, flags, mode);
}

DIR* opendir(const char* path) {
  using Fn = DIR* (*)(const char*);
  if (const int e = shim::CheckPath(Call::kOpen, path)) {
    errno = e;
    return nullptr;
  }
  static Fn fn = shim::Next<Fn>("opendir");
  return fn(path);
}

ssize_t read(int fd, void* buf, size_t n) {
  using Fn = ssize_t (*)(int, void*, size_t);
  PRODIGY_FAIL_WITH(shim::CheckFd(Call::kRead, fd));
  static Fn fn = shim::Next<Fn>("read");
  return fn(fd, buf, n);
}

ssize_t write(int fd, const void* buf, size_t n) {
  using Fn = ssize_t (*)(int, const void*, size_t);
  PRODIGY_FAIL_WITH(shim::CheckFd(Call::kWrite, fd));
  static Fn fn = shim::Next<Fn>("write");
  return fn(fd, buf, n);
}

ssize_t pwrite(int fd, const void* buf, size_t n, off_t off) {
  using Fn = ssize_t (*)(int, const void*, size_t, off_t);
  PRODIGY_FAIL_WITH(shim::CheckFd(Call::kWrite, fd));
  static Fn fn = shim::Next<Fn>("pwrite");
  return fn(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void* buf, size_t n, off_t off) {
  using Fn = ssize_t (*)(int, const void*, size_t, off_t);
  PRODIGY_FAIL_WITH(shim::CheckFd(Call::kWrite, fd));
  static Fn fn = shim::Next<Fn>("pwrite64");
  return fn(fd, buf, n, off);
}

int close(int fd) {
  using Fn = int (*)(int);
  static Fn fn = shim::Next<Fn>("close");
  // A failed close still releases the descriptor (Linux), as here.
  const int e = shim::CheckFd(Call::kClose, fd);
  if (fd >= 0 && fd < 65536) shim::S().watched_fd[fd] = false;
  const int rc = fn(fd);
  if (e) {
    errno = e;
    return -1;
  }
  return rc;
}

int rename(const char* from, const char* to) {
  using Fn = int (*)(const char*, const char*);
  PRODIGY_FAIL_WITH(shim::CheckPath(Call::kRename, to));
  static Fn fn = shim::Next<Fn>("rename");
  return fn(from, to);
}

int unlink(const char* path) {
  using Fn = int (*)(const char*);
  PRODIGY_FAIL_WITH(shim::CheckPath(Call::kUnlink, path));
  static Fn fn = shim::Next<Fn>("unlink");
  return fn(path);
}

int rmdir(const char* path) {
  using Fn = int (*)(const char*);
  PRODIGY_FAIL_WITH(shim::CheckPath(Call::kUnlink, path));
  static Fn fn = shim::Next<Fn>("rmdir");
  return fn(path);
}

}  // extern "C"
