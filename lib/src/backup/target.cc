#include "backup/target.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

#include <fmt/format.h>

#include "backup/gzip.h"
#include "prodigy/error.h"
#include "util/fs.h"

namespace prodigy::internal {

namespace fs = std::filesystem;

namespace {

// A folder on a local (or mounted) filesystem. Writes go to a temporary name
// in the same folder, are fsynced, then renamed: a crash leaves no partial
// file under a real name.
class FolderTarget : public BackupTarget {
 public:
  explicit FolderTarget(fs::path root) : root_(std::move(root)) {}

  std::string Describe(const std::string& key) const override { return (root_ / key).string(); }

  void PutFile(const std::string& key, const fs::path& local) override {
    const fs::path dest = root_ / key;
    Prepare(dest);
    const fs::path tmp = Temp(dest);
    std::error_code ec;
    fs::copy_file(local, tmp, fs::copy_options::overwrite_existing, ec);
    if (ec) {
      fs::remove(tmp, ec);
      ThrowIo("cannot write the backup file", tmp, ec.value());
    }
    Commit(tmp, dest);
  }

  void PutText(const std::string& key, std::string_view text) override {
    const fs::path dest = root_ / key;
    Prepare(dest);
    AtomicWriteFile(dest, text);
    SyncPath(dest);
    SyncPath(dest.parent_path());
  }

  std::optional<std::string> GetText(const std::string& key) override {
    return ReadFileIfExists(root_ / key);
  }

  void GetFile(const std::string& key, const fs::path& local) override {
    const fs::path src = root_ / key;
    std::error_code ec;
    if (!fs::exists(src, ec)) {
      throw Error::NotFound(fmt::format("backup file {} does not exist", src.string()));
    }
    fs::copy_file(src, local, ec);
    if (ec) ThrowIo("cannot copy the backup file to", local, ec.value());
  }

  std::vector<std::string> List(const std::string& prefix) override {
    std::vector<std::string> keys;
    std::error_code ec;
    const fs::path dir = root_ / prefix;
    if (!fs::is_directory(dir, ec)) return keys;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      const std::string name = entry.path().filename().string();
      if (!name.starts_with(".")) keys.push_back(prefix + name);
    }
    if (ec) ThrowIo("cannot list the backup folder", dir, ec.value());
    std::sort(keys.begin(), keys.end());
    return keys;
  }

  void Remove(const std::string& key) override { RemoveFileIfExists(root_ / key); }

 private:
  static fs::path Temp(const fs::path& dest) {
    return dest.parent_path() / fmt::format(".{}.tmp-{}", dest.filename().string(), ::getpid());
  }
  void Prepare(const fs::path& dest) {
    try {
      EnsureDir(dest.parent_path(), 0700);
    } catch (const Error& e) {
      throw Error::Io(fmt::format("backup folder {}: {}", root_.string(), e.message()));
    }
    if (::access(dest.parent_path().c_str(), W_OK | X_OK) != 0) {
      ThrowIo("backup folder is not writable:", dest.parent_path(), errno);
    }
  }
  static void Commit(const fs::path& tmp, const fs::path& dest) {
    try {
      SyncPath(tmp);
    } catch (...) {
      std::error_code ec;
      fs::remove(tmp, ec);
      throw;
    }
    std::error_code ec;
    fs::rename(tmp, dest, ec);
    if (ec) {
      fs::remove(tmp, ec);
      ThrowIo("cannot rename into place", dest, ec.value());
    }
    SyncPath(dest.parent_path());
  }

  fs::path root_;
};

}  // namespace

bool IsS3Url(std::string_view target) { return target.starts_with("s3://"); }

std::unique_ptr<BackupTarget> OpenTarget(const std::string& target) {
  if (IsS3Url(target)) {
#if PRODIGY_WITH_S3
    return OpenS3Target(target);
#else
    throw Error::Config(
        fmt::format("{}: this prodigy-store was built without S3 support; rebuild with "
                    "'meson configure build -Ds3=enabled' (needs libcurl4-openssl-dev), or back up "
                    "to a folder",
                    target));
#endif
  }
  if (target.find("://") != std::string::npos) {
    throw Error::InvalidArgument(
        fmt::format("{}: unknown backup target; give a folder or s3://bucket/prefix", target));
  }
  if (target.empty()) throw Error::InvalidArgument("the backup target is empty; give a folder");
  return std::make_unique<FolderTarget>(fs::absolute(target));
}

}  // namespace prodigy::internal
