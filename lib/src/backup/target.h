// Where backups are stored: a folder, or (built with -Ds3=enabled) an S3
// bucket. Keys are relative ("<repo>/<name>.db.gz"); each target maps them to
// its own paths or object names.
#ifndef PRODIGY_BACKUP_TARGET_H_
#define PRODIGY_BACKUP_TARGET_H_

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backup/backup_config.h"

namespace prodigy::internal {

class BackupTarget {
 public:
  virtual ~BackupTarget() = default;
  // The key as users see it: a path or an s3:// URL.
  virtual std::string Describe(const std::string& key) const = 0;
  // Stores a local file under `key`; readers never see a partial object.
  virtual void PutFile(const std::string& key, const std::filesystem::path& local) = 0;
  virtual void PutText(const std::string& key, std::string_view text) = 0;
  // nullopt when the key does not exist.
  virtual std::optional<std::string> GetText(const std::string& key) = 0;
  // Copies the object into the new local file `local`; kNotFound when missing.
  virtual void GetFile(const std::string& key, const std::filesystem::path& local) = 0;
  // Keys under `prefix` (a "folder" ending in '/'), sorted.
  virtual std::vector<std::string> List(const std::string& prefix) = 0;
  virtual void Remove(const std::string& key) = 0;
};

// True for "s3://..." targets.
bool IsS3Url(std::string_view target);

// Opens a folder (created on the first write) or an s3:// URL. An s3://
// target in a build without S3 is kConfig naming the option to rebuild with.
std::unique_ptr<BackupTarget> OpenTarget(const std::string& target);

#if PRODIGY_WITH_S3
// s3://bucket/prefix with AWS_* credentials (backup/s3.cc).
std::unique_ptr<BackupTarget> OpenS3Target(const std::string& url);
#endif

}  // namespace prodigy::internal

#endif  // PRODIGY_BACKUP_TARGET_H_
