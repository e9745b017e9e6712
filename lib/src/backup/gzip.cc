#include "backup/gzip.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <vector>

#include <fmt/format.h>

#include "prodigy/error.h"
#include "util/fs.h"
#include "util/sha256.h"

namespace prodigy::internal {

namespace {

constexpr size_t kChunk = 1 << 18;

// A file descriptor that closes itself; reads and writes throw naming the path.
class Fd {
 public:
  Fd(const std::filesystem::path& path, int flags) : path_(path) {
    fd_ = ::open(path.c_str(), flags | O_CLOEXEC, 0600);
    if (fd_ < 0) ThrowIo((flags & O_CREAT) ? "cannot create" : "cannot open", path, errno);
  }
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  size_t Read(char* buf, size_t n) {
    for (;;) {
      const ssize_t r = ::read(fd_, buf, n);
      if (r >= 0) return static_cast<size_t>(r);
      if (errno != EINTR) ThrowIo("cannot read", path_, errno);
    }
  }
  void Write(const char* buf, size_t n) {
    while (n > 0) {
      const ssize_t w = ::write(fd_, buf, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        ThrowIo("cannot write", path_, errno);
      }
      buf += w;
      n -= static_cast<size_t>(w);
    }
  }
  void SyncAndClose() {
    if (::fsync(fd_) != 0) ThrowIo("cannot sync", path_, errno);
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) ThrowIo("cannot close", path_, errno);
  }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

}  // namespace

CompressResult GzipFile(const std::filesystem::path& src, const std::filesystem::path& dest) {
  Fd in(src, O_RDONLY);
  Fd out(dest, O_WRONLY | O_CREAT | O_EXCL);
  z_stream z{};
  // windowBits 15 + 16: a gzip header, so `gunzip` and `zcat` read backups too.
  if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw Error::Internal("zlib deflateInit2 failed");
  }
  struct End {
    z_stream* z;
    ~End() { deflateEnd(z); }
  } end{&z};
  std::vector<char> ibuf(kChunk), obuf(kChunk);
  Sha256 plain_hash, gz_hash;
  CompressResult r;
  int flush = Z_NO_FLUSH;
  do {
    const size_t n = in.Read(ibuf.data(), ibuf.size());
    plain_hash.Update(std::string_view(ibuf.data(), n));
    r.plain.bytes += static_cast<int64_t>(n);
    flush = n == 0 ? Z_FINISH : Z_NO_FLUSH;
    z.next_in = reinterpret_cast<Bytef*>(ibuf.data());
    z.avail_in = static_cast<uInt>(n);
    do {
      z.next_out = reinterpret_cast<Bytef*>(obuf.data());
      z.avail_out = static_cast<uInt>(obuf.size());
      deflate(&z, flush);
      const size_t have = obuf.size() - z.avail_out;
      out.Write(obuf.data(), have);
      gz_hash.Update(std::string_view(obuf.data(), have));
      r.compressed.bytes += static_cast<int64_t>(have);
    } while (z.avail_out == 0);
  } while (flush != Z_FINISH);
  out.SyncAndClose();
  r.plain.sha256 = plain_hash.FinalHex();
  r.compressed.sha256 = gz_hash.FinalHex();
  return r;
}

FileDigest GunzipFile(const std::filesystem::path& src, const std::filesystem::path& dest,
                      const std::string& what) {
  Fd in(src, O_RDONLY);
  Fd out(dest, O_WRONLY | O_CREAT | O_EXCL);
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) throw Error::Internal("zlib inflateInit2 failed");
  struct End {
    z_stream* z;
    ~End() { inflateEnd(z); }
  } end{&z};
  std::vector<char> ibuf(kChunk), obuf(kChunk);
  Sha256 hash;
  FileDigest d;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    const size_t n = in.Read(ibuf.data(), ibuf.size());
    if (n == 0) break;
    z.next_in = reinterpret_cast<Bytef*>(ibuf.data());
    z.avail_in = static_cast<uInt>(n);
    do {
      z.next_out = reinterpret_cast<Bytef*>(obuf.data());
      z.avail_out = static_cast<uInt>(obuf.size());
      rc = inflate(&z, Z_NO_FLUSH);
      if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
        throw Error::VerificationFailed(
            fmt::format("{} is damaged: its gzip stream cannot be read ({}); use another backup. Nothing was "
                        "changed.",
                        what, z.msg ? z.msg : "zlib error"));
      }
      const size_t have = obuf.size() - z.avail_out;
      out.Write(obuf.data(), have);
      hash.Update(std::string_view(obuf.data(), have));
      d.bytes += static_cast<int64_t>(have);
    } while (z.avail_out == 0 && rc != Z_STREAM_END);
  }
  if (rc != Z_STREAM_END) {
    throw Error::VerificationFailed(fmt::format(
        "{} is truncated: its gzip stream ends early; use another backup. Nothing was changed.", what));
  }
  out.SyncAndClose();
  d.sha256 = hash.FinalHex();
  return d;
}

FileDigest DigestFile(const std::filesystem::path& path) {
  Fd in(path, O_RDONLY);
  std::vector<char> buf(kChunk);
  Sha256 hash;
  FileDigest d;
  for (size_t n; (n = in.Read(buf.data(), buf.size())) > 0;) {
    hash.Update(std::string_view(buf.data(), n));
    d.bytes += static_cast<int64_t>(n);
  }
  d.sha256 = hash.FinalHex();
  return d;
}

void SyncPath(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) ThrowIo("cannot open", path, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) ThrowIo("cannot sync", path, err);
}

}  // namespace prodigy::internal
