// Filesystem helpers that report failures as prodigy::Error naming the path.
#ifndef PRODIGY_UTIL_FS_H_
#define PRODIGY_UTIL_FS_H_

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace prodigy::internal {

namespace fs = std::filesystem;

// Throws Error(kIo) "<what> <path>: <strerror>" plus a hint for common errnos.
[[noreturn]] void ThrowIo(std::string_view what, const fs::path& path, int err);

// Creates `dir` and its parents with `mode` when missing; errors name the path.
void EnsureDir(const fs::path& dir, unsigned mode = 0700);

// Writes the whole file through a temporary file in the same folder and
// rename(2), so readers see either the old or the new content.
void AtomicWriteFile(const fs::path& path, std::string_view content);

// The file's content, or nullopt when it does not exist.
std::optional<std::string> ReadFileIfExists(const fs::path& path);

// Removes a file; a missing file is not an error.
void RemoveFileIfExists(const fs::path& path);

// The filesystem type name when `path` is on NFS, SMB/CIFS, FUSE or 9p
// (where SQLite's WAL mode is not safe), else nullopt.
std::optional<std::string> NetworkFilesystemType(const fs::path& path);

// A lock file for exclusive flock(2) locks. The file stays open for the
// object's lifetime, so taking the lock costs one system call. The kernel
// releases a lock when its process dies: a crash never leaves it stuck.
class FileLock {
 public:
  explicit FileLock(const fs::path& path);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

  void Lock();
  void Unlock() noexcept;

 private:
  fs::path path_;
  int fd_ = -1;
};

// Holds a FileLock's lock for a scope.
class FileLockGuard {
 public:
  explicit FileLockGuard(FileLock& lock) : lock_(lock) { lock_.Lock(); }
  ~FileLockGuard() { lock_.Unlock(); }
  FileLockGuard(const FileLockGuard&) = delete;
  FileLockGuard& operator=(const FileLockGuard&) = delete;

 private:
  FileLock& lock_;
};

// Overwrites a small file in place (no rename: this is on the hot path of
// every write). Readers must tolerate a torn or empty file; the mirror marks
// treat one as "unknown" and rebuild from the database.
void OverwriteSmallFile(const fs::path& path, std::string_view content);

}  // namespace prodigy::internal

#endif  // PRODIGY_UTIL_FS_H_
