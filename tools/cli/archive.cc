#include "archive.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "prodigy/error.h"

namespace prodigy::cli {
namespace {

[[noreturn]] void IoError(const std::filesystem::path& path, std::string_view what, int err) {
  throw Error::Io(
      fmt::format("archive {}: {}: {}; nothing was deleted", path.string(), what, std::strerror(err)));
}

}  // namespace

GzipArchive::GzipArchive(std::filesystem::path path) : path_(std::move(path)) {
  if (::access(path_.c_str(), F_OK) == 0) {
    throw Error::Io(
        fmt::format("archive {} already exists; choose a new file name (nothing "
                    "was deleted)",
                    path_.string()));
  }
  tmp_path_ = path_;
  tmp_path_ += fmt::format(".tmp-{}", ::getpid());
  fd_ = ::open(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd_ < 0) IoError(tmp_path_, "cannot create", errno);
  // gzclose closes the descriptor it gets, so it gets its own copy.
  const int gz_fd = ::dup(fd_);
  gz_ = gz_fd < 0 ? nullptr : gzdopen(gz_fd, "wb");
  if (gz_ == nullptr) {
    if (gz_fd >= 0) ::close(gz_fd);
    IoError(tmp_path_, "cannot start gzip stream", errno ? errno : ENOMEM);
  }
}

GzipArchive::~GzipArchive() {
  if (gz_ != nullptr) gzclose(static_cast<gzFile>(gz_));
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmp_path_.c_str());
}

void GzipArchive::WriteLine(std::string_view line) {
  auto* gz = static_cast<gzFile>(gz_);
  if ((!line.empty() && gzwrite(gz, line.data(), static_cast<unsigned>(line.size())) == 0) ||
      gzputc(gz, '\n') < 0) {
    int zerr = 0;
    const char* msg = gzerror(gz, &zerr);
    throw Error::Io(fmt::format("archive {}: write failed: {}; nothing was deleted", tmp_path_.string(),
                                zerr == Z_ERRNO ? std::strerror(errno) : msg));
  }
  ++lines_;
}

void GzipArchive::Commit() {
  const int rc = gzclose(static_cast<gzFile>(gz_));
  gz_ = nullptr;
  if (rc != Z_OK) IoError(tmp_path_, "finishing the gzip stream failed", errno ? errno : EIO);
  if (::fsync(fd_) != 0) IoError(tmp_path_, "fsync failed", errno);
  ::close(fd_);
  fd_ = -1;
  // link() fails instead of replacing a file created meanwhile (rename would not).
  if (::link(tmp_path_.c_str(), path_.c_str()) != 0)
    IoError(path_, "cannot move the archive into place", errno);
  ::unlink(tmp_path_.c_str());
  committed_ = true;
  std::filesystem::path dir = path_.parent_path();
  if (dir.empty()) dir = ".";
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) IoError(dir, "cannot open the folder to fsync it", errno);
  const int sync_rc = ::fsync(dir_fd);
  const int sync_err = errno;
  ::close(dir_fd);
  if (sync_rc != 0) IoError(dir, "fsync of the folder failed", sync_err);
}

}  // namespace prodigy::cli
