#include "util/fs.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "prodigy/error.h"

namespace prodigy::internal {

void ThrowIo(std::string_view what, const fs::path& path, int err) {
  std::string hint;
  switch (err) {
    case EACCES:
    case EPERM:
      hint = "; check the permissions of this path or choose another storage root with --storage-dir";
      break;
    case ENOSPC:
    case EDQUOT:
      hint = "; the disk is full: free space and try again (nothing was changed)";
      break;
    case EROFS:
      hint = "; the filesystem is read-only: choose another storage root with --storage-dir";
      break;
    case ENOTDIR:
      hint = "; a part of this path is a file, not a folder";
      break;
    default:
      break;
  }
  throw Error::Io(fmt::format("{} {}: {}{}", what, path.string(), std::strerror(err), hint));
}

void EnsureDir(const fs::path& dir, unsigned mode) {
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      throw Error::Io(
          fmt::format("{} exists but is not a folder; move it aside or "
                      "choose another storage root",
                      dir.string()));
    }
    return;
  }
  if (dir.has_parent_path() && dir.parent_path() != dir) EnsureDir(dir.parent_path(), 0755 | mode);
  if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) ThrowIo("cannot create folder", dir, errno);
}

void AtomicWriteFile(const fs::path& path, std::string_view content) {
  // A unique temp name per process and call: concurrent writers never share one.
  static thread_local unsigned counter = 0;
  const fs::path tmp =
      path.parent_path() / fmt::format(".{}.tmp.{}.{}", path.filename().string(), ::getpid(), ++counter);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) ThrowIo("cannot write", tmp, errno);
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      ThrowIo("cannot write", tmp, err);
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    ThrowIo("cannot write", tmp, err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    ThrowIo("cannot replace", path, err);
  }
}

std::optional<std::string> ReadFileIfExists(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    ThrowIo("cannot read", path, errno);
  }
  std::string out;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      ThrowIo("cannot read", path, err);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

void RemoveFileIfExists(const fs::path& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) ThrowIo("cannot remove", path, errno);
}

std::optional<std::string> NetworkFilesystemType(const fs::path& path) {
  struct statfs sfs;
  if (::statfs(path.c_str(), &sfs) != 0) return std::nullopt;
  switch (static_cast<unsigned long>(sfs.f_type)) {
    case 0x6969UL:
      return "nfs";
    case 0x517BUL:
      return "smb";
    case 0xFF534D42UL:
      return "cifs";
    case 0xFE534D42UL:
      return "smb2";
    case 0x65735546UL:
      return "fuse";
    case 0x01021997UL:
      return "9p";
    case 0x47504653UL:
      return "gpfs";
    case 0x0BD00BD0UL:
      return "lustre";
    default:
      return std::nullopt;
  }
}

FileLock::FileLock(const fs::path& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) ThrowIo("cannot open lock file", path, errno);
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);
}

void FileLock::Lock() {
  while (::flock(fd_, LOCK_EX) != 0) {
    if (errno != EINTR) ThrowIo("cannot lock", path_, errno);
  }
}

void FileLock::Unlock() noexcept { ::flock(fd_, LOCK_UN); }

void OverwriteSmallFile(const fs::path& path, std::string_view content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) ThrowIo("cannot write", path, errno);
  const ssize_t n = ::pwrite(fd, content.data(), content.size(), 0);
  const int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(content.size())) ThrowIo("cannot write", path, n < 0 ? err : EIO);
}

}  // namespace prodigy::internal
