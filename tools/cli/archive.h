// A gzip-compressed JSONL file that is durable before anything is deleted:
// written to "<path>.tmp-<pid>", fsync'd, renamed to <path>, and the folder
// fsync'd. An existing <path> is never overwritten.
#ifndef PRODIGY_TOOLS_CLI_ARCHIVE_H_
#define PRODIGY_TOOLS_CLI_ARCHIVE_H_

#include <cstdint>
#include <filesystem>
#include <string_view>

namespace prodigy::cli {

class GzipArchive {
 public:
  // Throws Error(kIo) when the file exists or cannot be created.
  explicit GzipArchive(std::filesystem::path path);
  ~GzipArchive();  // an archive that was not committed is removed
  GzipArchive(const GzipArchive&) = delete;
  GzipArchive& operator=(const GzipArchive&) = delete;

  // Appends `line` and a "\n".
  void WriteLine(std::string_view line);
  // Flushes, fsyncs and renames into place; only then may the lines go.
  void Commit();
  int64_t lines() const { return lines_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::filesystem::path tmp_path_;
  int fd_ = -1;
  void* gz_ = nullptr;  // gzFile
  int64_t lines_ = 0;
  bool committed_ = false;
};

}  // namespace prodigy::cli

#endif  // PRODIGY_TOOLS_CLI_ARCHIVE_H_
