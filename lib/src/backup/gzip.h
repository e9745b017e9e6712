// Streaming gzip of whole files (zlib), hashing both sides on the way.
#ifndef PRODIGY_BACKUP_GZIP_H_
#define PRODIGY_BACKUP_GZIP_H_

#include <cstdint>
#include <filesystem>
#include <string>

namespace prodigy::internal {

struct FileDigest {
  int64_t bytes = 0;
  std::string sha256;
};

struct CompressResult {
  FileDigest plain;       // the input
  FileDigest compressed;  // the output
};

// Compresses `src` into a new file `dest` (fsynced). Errors name the file.
CompressResult GzipFile(const std::filesystem::path& src, const std::filesystem::path& dest);

// Decompresses `src` into a new file `dest` (fsynced); returns the digest of
// the output. A truncated or damaged stream is kVerificationFailed naming
// `what` (the backup).
FileDigest GunzipFile(const std::filesystem::path& src, const std::filesystem::path& dest,
                      const std::string& what);

// SHA-256 and size of a file.
FileDigest DigestFile(const std::filesystem::path& path);

// fsync of a file or folder; errors name it.
void SyncPath(const std::filesystem::path& path);

}  // namespace prodigy::internal

#endif  // PRODIGY_BACKUP_GZIP_H_
