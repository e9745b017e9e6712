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

// An exclusive flock(2) on a lock file, held for the object's lifetime.
// The kernel releases it when the process dies, so a crash never leaves it stuck.
class FileLock {
 public:
  explicit FileLock(const fs::path& path);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace prodigy::internal

#endif  // PRODIGY_UTIL_FS_H_
