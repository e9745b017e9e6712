// Backups and restores: the orchestration above the SQLite engine
// (sqlite/snapshot.h) and the storage targets (backup/target.h).
#include "prodigy/backup.h"

#include <unistd.h>

#include <ctime>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "backup/gzip.h"
#include "backup/repository_swap.h"
#include "backup/target.h"
#include "prodigy/error.h"
#include "sqlite/migrations.h"
#include "sqlite/snapshot.h"
#include "util/fs.h"
#include "util/log.h"

namespace prodigy {

namespace fs = std::filesystem;
using internal::Log;
using Json = nlohmann::json;

namespace {

constexpr const char* kFormat = "prodigy-store-backup";
constexpr int kFormatVersion = 1;
constexpr std::string_view kManifestSuffix = ".manifest.json";
constexpr std::string_view kDataSuffix = ".db.gz";

Json CountsJson(const TableCounts& counts) {
  Json j = Json::object();
  counts.ForEach([&](const char* table, int64_t n) { j[table] = n; });
  return j;
}

}  // namespace

std::string BackupManifestJson(const BackupInfo& b) {
  const Json j{{"format", kFormat},
               {"format_version", kFormatVersion},
               {"name", b.name},
               {"repo_name", b.repo_name},
               {"repo_path", b.repo_path},
               {"database_id", b.database_id},
               {"schema_version", b.schema_version},
               {"created_at", b.created_at},
               {"counts", CountsJson(b.counts)},
               {"db_bytes", b.db_bytes},
               {"db_sha256", b.db_sha256},
               {"file", b.name + std::string(kDataSuffix)},
               {"file_bytes", b.file_bytes},
               {"file_sha256", b.file_sha256}};
  return j.dump(2) + "\n";
}

namespace {

// Parses a manifest; `where` names it in errors.
BackupInfo ParseManifest(const std::string& text, const std::string& where) {
  try {
    const Json j = Json::parse(text);
    if (j.value("format", "") != kFormat) {
      throw Error::InvalidArgument(fmt::format("{} is not a prodigy-store backup manifest", where));
    }
    if (j.value("format_version", 0) > kFormatVersion) {
      throw Error::TooNew(
          fmt::format("{} was written by a newer prodigy-store (backup format {}); "
                      "upgrade prodigy-store to restore it",
                      where, j.value("format_version", 0)));
    }
    BackupInfo b;
    b.location = where;
    b.name = j.at("name").get<std::string>();
    b.repo_name = j.at("repo_name").get<std::string>();
    b.repo_path = j.at("repo_path").get<std::string>();
    b.database_id = j.at("database_id").get<std::string>();
    b.schema_version = j.at("schema_version").get<int>();
    b.created_at = j.at("created_at").get<std::string>();
    const Json& c = j.at("counts");
    b.counts.ForEach([&](const char* table, int64_t& n) { n = c.value(table, int64_t{0}); });
    b.db_bytes = j.at("db_bytes").get<int64_t>();
    b.db_sha256 = j.at("db_sha256").get<std::string>();
    b.file_bytes = j.at("file_bytes").get<int64_t>();
    b.file_sha256 = j.at("file_sha256").get<std::string>();
    return b;
  } catch (const nlohmann::json::exception& e) {
    throw Error::VerificationFailed(
        fmt::format("{} is damaged or not a backup manifest ({}); use another backup", where, e.what()));
  }
}

// "20261202T004000.123Z": sorts by time, unique per millisecond.
std::string Stamp() {
  const int64_t ns = NowNs();
  const std::time_t secs = static_cast<std::time_t>(ns / 1'000'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%S", &tm);
  return fmt::format("{}.{:03}Z", buf, (ns / 1'000'000) % 1000);
}

// Splits ".../<repo>/<name>.manifest.json" (or .db.gz) into the target and
// the manifest's key.
std::pair<std::string, std::string> SplitBackupPath(const std::string& from) {
  std::string path = from;
  if (!internal::IsS3Url(from)) path = fs::absolute(from).lexically_normal().string();
  const size_t file_slash = path.rfind('/');
  const size_t repo_slash = file_slash == std::string::npos || file_slash == 0
                                ? std::string::npos
                                : path.rfind('/', file_slash - 1);
  if (repo_slash == std::string::npos) {
    throw Error::InvalidArgument(
        fmt::format("{}: a backup file lies in <target>/<repository>/; give its full path", from));
  }
  std::string key = path.substr(repo_slash + 1);
  if (key.ends_with(kDataSuffix))
    key = key.substr(0, key.size() - kDataSuffix.size()) + std::string(kManifestSuffix);
  return {path.substr(0, repo_slash), key};
}

bool IsBackupFile(const std::string& from) {
  return from.ends_with(kManifestSuffix) || from.ends_with(kDataSuffix);
}

std::vector<BackupInfo> ListIn(internal::BackupTarget& target, const std::string& repo_name) {
  std::vector<BackupInfo> out;
  for (const std::string& key : target.List(repo_name + "/")) {
    if (!key.ends_with(kManifestSuffix)) continue;
    auto text = target.GetText(key);
    if (!text) continue;
    try {
      out.push_back(ParseManifest(*text, target.Describe(key)));
    } catch (const Error& e) {
      Log().warn("skipping {}: {}", target.Describe(key), e.message());
    }
  }
  return out;  // keys are sorted, names start with the time
}

}  // namespace

BackupResult CreateBackup(GlobalStorage& storage, const std::string& target_name,
                          const BackupOptions& options) {
  auto target = internal::OpenTarget(target_name);
  const RepositoryLocation& loc = storage.location();
  internal::TempPaths tmp;
  const fs::path snapshot = tmp.Add(loc.dir, "backup-snapshot.db", true);
  const fs::path gz = tmp.Add(loc.dir, "backup-snapshot.db.gz");
  internal::SnapshotDatabase(loc.db_path, snapshot);
  const internal::DatabaseFacts facts = internal::ReadDatabaseFacts(snapshot);
  if (!facts.integrity.empty()) {
    throw Error::Corruption(
        fmt::format("{} fails PRAGMA integrity_check ({}); no backup was written. Run 'prodigy-store "
                    "check --repair' to rebuild it from what is readable plus the mirror files",
                    loc.db_path.string(), facts.integrity.front()));
  }
  const internal::CompressResult packed = internal::GzipFile(snapshot, gz);

  BackupResult result;
  BackupInfo& b = result.backup;
  b.name = Stamp() + "-" + facts.database_id;
  b.repo_name = loc.name;
  b.repo_path = facts.canonical_path;
  b.database_id = facts.database_id;
  b.schema_version = facts.schema_version;
  b.created_at = FormatTimestamp(NowNs());
  b.counts = facts.counts;
  b.db_bytes = packed.plain.bytes;
  b.db_sha256 = packed.plain.sha256;
  b.file_bytes = packed.compressed.bytes;
  b.file_sha256 = packed.compressed.sha256;
  const std::string key = loc.name + "/" + b.name;
  target->PutFile(key + std::string(kDataSuffix), gz);
  // The manifest goes last: a backup interrupted before this line is never listed.
  target->PutText(key + std::string(kManifestSuffix), BackupManifestJson(b));
  b.location = target->Describe(key + std::string(kManifestSuffix));
  Log().debug("backup {} of {} written", b.location, loc.db_path.string());

  if (options.keep > 0) {
    std::vector<BackupInfo> all = ListIn(*target, loc.name);
    for (size_t i = 0; i + static_cast<size_t>(options.keep) < all.size(); ++i) {
      const std::string old = loc.name + "/" + all[i].name;
      // Manifest first: a prune cut short leaves an unlisted data file, never
      // a listed backup without its data.
      target->Remove(old + std::string(kManifestSuffix));
      target->Remove(old + std::string(kDataSuffix));
      result.pruned.push_back(all[i].name);
    }
  }
  return result;
}

std::vector<BackupInfo> ListBackups(const std::string& target_name, const std::string& repo_name) {
  auto target = internal::OpenTarget(target_name);
  return ListIn(*target, repo_name);
}

RestoreResult RestoreBackup(const fs::path& repo_path, const StorageConfig& config, const std::string& from,
                            const RestoreOptions& options) {
  const RepositoryLocation loc = LocateRepository(repo_path, config);
  // Which backup: a manifest or data file, else this repository's newest in a target.
  std::unique_ptr<internal::BackupTarget> target;
  BackupInfo b;
  if (IsBackupFile(from)) {
    auto [target_name, key] = SplitBackupPath(from);
    target = internal::OpenTarget(target_name);
    auto text = target->GetText(key);
    if (!text) {
      throw Error::NotFound(
          fmt::format("backup manifest {} does not exist (a backup without its manifest is "
                      "unfinished); see 'prodigy-store backup ls {}'",
                      target->Describe(key), target_name));
    }
    b = ParseManifest(*text, target->Describe(key));
  } else {
    target = internal::OpenTarget(from);
    std::vector<BackupInfo> all = ListIn(*target, loc.name);
    if (all.empty()) {
      throw Error::NotFound(
          fmt::format("{} holds no backup of repository {} (looked in {}); see "
                      "'prodigy-store backup ls {}'. Nothing was changed.",
                      from, loc.name, target->Describe(loc.name + "/"), from));
    }
    b = all.back();
  }
  if (b.schema_version > internal::LatestSchemaVersion()) {
    throw Error::TooNew(
        fmt::format("backup {} has schema version {}, newer than this prodigy-store knows ({}); "
                    "upgrade prodigy-store to restore it. Nothing was changed.",
                    b.location, b.schema_version, internal::LatestSchemaVersion()));
  }

  // Fetch and verify everything before touching the current database.
  internal::EnsureDir(loc.dir, 0700);
  internal::TempPaths tmp;
  const fs::path gz = tmp.Add(loc.dir, "restore.db.gz");
  const fs::path db = tmp.Add(loc.dir, "restore.db", true);
  target->GetFile(b.repo_name + "/" + b.name + std::string(kDataSuffix), gz);
  const internal::FileDigest file = internal::DigestFile(gz);
  if (file.sha256 != b.file_sha256 || file.bytes != b.file_bytes) {
    throw Error::VerificationFailed(
        fmt::format("backup {} is damaged or was changed: its data file has {} bytes and SHA-256 {}, "
                    "the manifest says {} bytes and {}; use another backup. Nothing was changed.",
                    b.location, file.bytes, file.sha256, b.file_bytes, b.file_sha256));
  }
  const internal::FileDigest plain = internal::GunzipFile(gz, db, "backup " + b.location);
  if (plain.sha256 != b.db_sha256) {
    throw Error::VerificationFailed(
        fmt::format("backup {} does not decompress to the database it recorded (SHA-256 {} instead of "
                    "{}); use another backup. Nothing was changed.",
                    b.location, plain.sha256, b.db_sha256));
  }
  const internal::DatabaseFacts facts = internal::ReadDatabaseFacts(db);
  if (!facts.integrity.empty()) {
    throw Error::VerificationFailed(
        fmt::format("backup {} fails PRAGMA integrity_check ({}); use another backup. Nothing was changed.",
                    b.location, facts.integrity.front()));
  }
  if (facts.schema_version > internal::LatestSchemaVersion()) {
    throw Error::TooNew(
        fmt::format("backup {} holds a database of schema version {}, newer than this prodigy-store "
                    "knows ({}); upgrade prodigy-store to restore it. Nothing was changed.",
                    b.location, facts.schema_version, internal::LatestSchemaVersion()));
  }
  if (facts.canonical_path != loc.canonical_path.string()) {
    throw Error::InvalidArgument(
        fmt::format("backup {} belongs to repository {}, not {}; restore it with --repo {}. Nothing "
                    "was changed.",
                    b.location, facts.canonical_path, loc.canonical_path.string(), facts.canonical_path));
  }

  RestoreResult result;
  result.backup = b;
  result.db_path = loc.db_path;
  result.moved_aside = internal::SwapInDatabase(loc, db, "before-restore", options.force, "restore");
  internal::RewriteMirrors(repo_path, config);
  return result;
}

bool IsS3Url(std::string_view location) { return internal::IsS3Url(location); }

void UploadVerified(const fs::path& local, const std::string& url) {
  if (!internal::IsS3Url(url)) {
    throw Error::InvalidArgument(fmt::format("{}: not an s3://bucket/key URL", url));
  }
  const size_t slash = url.find('/', 5);
  if (slash == std::string::npos || slash + 1 == url.size()) {
    throw Error::InvalidArgument(fmt::format("{}: no object name; give s3://bucket/name.jsonl.gz", url));
  }
  auto target = internal::OpenTarget(url.substr(0, slash));
  const std::string key = url.substr(slash + 1);
  for (const std::string& existing : target->List(key)) {
    if (existing == key) {
      throw Error::InvalidArgument(
          fmt::format("{} already exists; choose another name (an archive "
                      "is never overwritten)",
                      url));
    }
  }
  const internal::FileDigest want = internal::DigestFile(local);
  target->PutFile(key, local);
  internal::TempPaths tmp;
  const fs::path back = tmp.Add(local.parent_path(), "upload-check");
  target->GetFile(key, back);
  const internal::FileDigest got = internal::DigestFile(back);
  if (got.sha256 != want.sha256 || got.bytes != want.bytes) {
    throw Error::VerificationFailed(
        fmt::format("{} reads back as {} bytes with SHA-256 {}, not the {} bytes uploaded ({}); nothing "
                    "was deleted",
                    url, got.bytes, got.sha256, want.bytes, want.sha256));
  }
}

}  // namespace prodigy
