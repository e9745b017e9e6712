// Restoring imports (export --legacy) and checking the ledger.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <set>

#include <fmt/format.h>

#include "legacy/discover.h"
#include "legacy/ledger.h"
#include "legacy/rebuild.h"
#include "legacy/scan.h"
#include "prodigy/migrate.h"
#include "store/storage_impl.h"
#include "util/fs.h"
#include "util/sha256.h"

namespace prodigy {
namespace {

namespace fs = std::filesystem;
namespace legacy = internal::legacy;

// A file written through a temporary name and renamed into place.
class FileWriter {
 public:
  explicit FileWriter(const fs::path& path) : path_(path) {
    internal::EnsureDir(path.parent_path(), 0755);
    tmp_ = path.parent_path() / fmt::format(".{}.export.{}", path.filename().string(), ::getpid());
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) internal::ThrowIo("cannot write", tmp_, errno);
  }
  ~FileWriter() {
    if (fd_ >= 0) {
      ::close(fd_);
      ::unlink(tmp_.c_str());
    }
  }
  void Write(std::string_view data) {
    sha_.Update(data);
    bytes_ += data.size();
    while (!data.empty()) {
      const ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        internal::ThrowIo("cannot write", tmp_, errno);
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
  }
  void Commit() {
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) {
      const int err = errno;
      ::unlink(tmp_.c_str());
      internal::ThrowIo("cannot write", tmp_, err);
    }
    if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
      const int err = errno;
      ::unlink(tmp_.c_str());
      internal::ThrowIo("cannot replace", path_, err);
    }
  }
  uint64_t bytes() const { return bytes_; }
  std::string Sha256() { return sha_.FinalHex(); }

 private:
  fs::path path_;
  fs::path tmp_;
  int fd_ = -1;
  uint64_t bytes_ = 0;
  internal::Sha256 sha_;
};

// A relative path that stays inside the export folder.
bool IsSafeRelative(const fs::path& rel) {
  if (rel.empty() || rel.is_absolute()) return false;
  for (const auto& part : rel) {
    if (part == "..") return false;
  }
  return true;
}

}  // namespace

std::vector<ExportedFile> ExportLegacy(GlobalStorage& storage, const fs::path& dir) {
  GlobalStorage::Impl& impl = internal::ImplOf(storage);
  const std::shared_ptr<void> bulk = impl.engine->BulkReads();
  std::vector<legacy::LedgerRow> rows;
  impl.engine->Read([&](engine::ReadTxn& txn) { rows = legacy::LedgerAll(txn); });
  internal::EnsureDir(dir, 0755);
  std::vector<ExportedFile> out;
  std::set<std::string> used;
  // Newest first: when a path was imported twice (Prodigy wrote it again after
  // an earlier migration), the newest import gets the plain name.
  for (auto it = rows.rbegin(); it != rows.rend(); ++it) {
    const legacy::LedgerRow& row = *it;
    ExportedFile file;
    file.original = row.path;
    if (!IsSafeRelative(row.rel_path)) {
      file.error = fmt::format("the recorded relative path \"{}\" leaves the export folder; not written",
                               row.rel_path);
      out.push_back(std::move(file));
      continue;
    }
    std::string rel = row.rel_path;
    if (!used.insert(rel).second) {
      rel = fmt::format("{}.import-{}", row.rel_path, row.id);
      used.insert(rel);
    }
    file.path = dir / rel;
    FileWriter writer(file.path);
    std::string problem;
    impl.engine->Read([&](engine::ReadTxn& txn) {
      problem = legacy::RebuildSource(txn, row, [&](std::string_view d) { writer.Write(d); });
    });
    writer.Commit();
    file.bytes = writer.bytes();
    file.sha256 = writer.Sha256();
    file.matches_original = problem.empty() && file.sha256 == row.sha256;
    if (!problem.empty()) {
      file.error = problem;
    } else if (!file.matches_original) {
      file.error =
          "rows of this import were changed since it was imported; the file holds their current content";
    }
    out.push_back(std::move(file));
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::vector<ImportRecord> ListImports(GlobalStorage& storage) {
  GlobalStorage::Impl& impl = internal::ImplOf(storage);
  std::vector<legacy::LedgerRow> rows;
  impl.engine->Read([&](engine::ReadTxn& txn) { rows = legacy::LedgerAll(txn); });
  std::vector<ImportRecord> out;
  for (const legacy::LedgerRow& r : rows) {
    ImportRecord rec;
    rec.id = r.id;
    rec.path = r.path;
    rec.rel_path = r.rel_path;
    rec.kind = r.kind;
    rec.job_id = r.job_id;
    rec.bytes = r.bytes;
    rec.sha256 = r.sha256;
    rec.rows = r.rows;
    rec.unparsed = r.unparsed;
    rec.status = r.status;
    rec.imported_at = r.imported_at;
    rec.verified_at = r.verified_at;
    rec.removed_at = r.removed_at;
    rec.note = r.note;
    out.push_back(std::move(rec));
  }
  return out;
}

std::vector<ImportProblem> CheckImports(GlobalStorage& storage) {
  GlobalStorage::Impl& impl = internal::ImplOf(storage);
  const std::shared_ptr<void> bulk = impl.engine->BulkReads();
  std::vector<legacy::LedgerRow> rows;
  impl.engine->Read([&](engine::ReadTxn& txn) { rows = legacy::LedgerAll(txn); });
  std::vector<ImportProblem> out;
  for (const legacy::LedgerRow& r : rows) {
    std::string problem;
    int64_t changed = 0;
    impl.engine->Read([&](engine::ReadTxn& txn) {
      problem = legacy::ProveFromDatabase(txn, r);
      if (!problem.empty()) changed = txn.RowsChanged(r.id);
    });
    if (!problem.empty()) {
      if (changed > 0) {
        out.push_back(
            {r.id, r.path,
             fmt::format("{} of its rows were removed or replaced after the import (retention, purge "
                         "or newer writes), so it no longer rebuilds byte for byte: {}",
                         changed, problem),
             true});
      } else {
        out.push_back({r.id, r.path, problem});
      }
    }
    if (r.status == legacy::kStatusRemoved) continue;
    legacy::FileStat now;
    if (!legacy::StatRegular(r.path, &now)) {
      out.push_back({r.id, r.path, "the original is no longer there (its content is in the database)"});
      continue;
    }
    std::string sha;
    try {
      sha = legacy::HashFile(r.path, nullptr);
    } catch (const legacy::SourceError& e) {
      out.push_back({r.id, r.path, e.what()});
      continue;
    }
    if (sha != r.sha256) {
      out.push_back({r.id, r.path,
                     "the original changed since it was imported; run 'prodigy-store migrate' (or import it "
                     "again) to bring the database up to date"});
    }
  }
  return out;
}

}  // namespace prodigy
