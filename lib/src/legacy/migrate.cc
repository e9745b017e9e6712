// The migration run: plan, import, verify, delete (the steps are described
// in prodigy/migrate.h), for Migrate, ImportPaths and the automatic migration
// on open. The restore (export --legacy) and the ledger checks are in restore.cc.
#include "prodigy/migrate.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <future>
#include <map>
#include <set>

#include <fmt/format.h>

#include "legacy/crash_hook.h"
#include "legacy/discover.h"
#include "legacy/importer.h"
#include "legacy/ledger.h"
#include "legacy/migration_run.h"
#include "legacy/rebuild.h"
#include "legacy/scan.h"
#include "prodigy/error.h"
#include "store/storage_impl.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/sha256.h"

namespace prodigy {
namespace {

namespace fs = std::filesystem;
namespace legacy = internal::legacy;
using legacy::Kind;

std::string Tilde(const fs::path& p) {
  const char* home = std::getenv("HOME");
  const std::string s = p.string();
  if (home != nullptr && *home != '\0') {
    const std::string h = fs::path(home).lexically_normal().string();
    if (s.size() > h.size() && s.compare(0, h.size(), h) == 0 && s[h.size()] == '/') {
      return "~" + s.substr(h.size());
    }
  }
  return s;
}

// The mirror folder of the kind a legacy file is stored as.
std::string_view TargetFolder(Kind kind) {
  const internal::DocumentKind* stored = legacy::StoredKind(kind);
  return stored ? stored->folder : std::string_view();
}

// Progress of one phase of a run, in bytes (MigrationOptions::on_phase).
class Progress {
 public:
  Progress(const MigrationOptions& options, std::string_view phase, uint64_t total)
      : fn_(options.on_progress), total_(total) {
    if (options.on_phase) options.on_phase(phase, total);
  }
  legacy::ProgressFn Fn() {
    if (!fn_) return {};
    return [this](uint64_t n) {
      done_ = std::min(total_, done_ + n);
      fn_(done_, total_);
    };
  }

 private:
  std::function<void(uint64_t, uint64_t)> fn_;
  uint64_t total_;
  uint64_t done_ = 0;
};

// One source during a run.
struct Item {
  legacy::Source src;
  LegacySource out;
  std::string display;                   // how messages name it
  std::optional<legacy::LedgerRow> row;  // its import (this run's or an earlier one)
  legacy::FileStat read_stat;            // the file when this run read it
  bool to_import = false;
  bool left_alone = false;  // never imported (symlink, temp file, unknown file)
  bool verified = false;
};

using LedgerLookup = std::function<std::vector<legacy::LedgerRow>(const std::string& path)>;

// How a run behaves: a migration deletes verified originals (unless told to
// keep them); `import` never deletes its inputs.
struct RunMode {
  bool migrate = true;
  fs::path repo;        // the canonical repository (for display)
  fs::path target_dir;  // <root>/<repo>
};

class Run {
 public:
  Run(const RunMode& mode, const MigrationOptions& options, std::vector<legacy::Root> roots,
      std::vector<legacy::Source> sources)
      : mode_(mode), options_(options), roots_(std::move(roots)) {
    for (const legacy::Root& r : roots_) report_.legacy_roots.push_back(r.path);
    for (legacy::Source& s : sources) items_.push_back(MakeItem(std::move(s)));
  }

  bool delete_originals() const { return mode_.migrate && !options_.keep_originals; }

  // Decides each source's action; hashes files already in the ledger.
  void Plan(const LedgerLookup& lookup) {
    for (Item& it : items_) {
      if (!it.src.error.empty()) {
        Fail(it, it.src.error);
        continue;
      }
      if (!legacy::IsImportable(it.src.kind)) {
        it.out.action = "kept: " + it.src.keep_reason;
        it.left_alone = true;
        ++report_.kept;
        continue;
      }
      const std::vector<legacy::LedgerRow> earlier = lookup(it.src.path.string());
      it.out.action = "import";
      it.to_import = true;
      if (earlier.empty()) continue;
      try {
        it.out.sha256 = legacy::HashFile(it.src.path, &it.read_stat);
      } catch (const legacy::SourceError& e) {
        Fail(it, e.what());
        continue;
      }
      for (const legacy::LedgerRow& r : earlier) {
        if (r.sha256 != it.out.sha256) continue;
        it.row = r;
        it.to_import = false;
        it.out.action = "already imported";
        it.out.rows = r.rows;
        it.out.unparsed = r.unparsed;
        it.out.note = r.note;
      }
    }
  }

  // The dry run: what the import would write, nothing written.
  MigrationReport DryRun() {
    Progress progress(options_, "scanning", BytesOf([](const Item& it) { return it.to_import; }));
    for (Item& it : items_) {
      if (it.to_import) {
        try {
          const legacy::SourceCounts c = legacy::CountSource(it.src, progress.Fn());
          it.out.sha256 = c.sha256;
          it.out.rows = c.rows;
          it.out.unparsed = c.unparsed;
          it.out.note = c.note;
        } catch (const legacy::SourceError& e) {
          Fail(it, e.what());
          continue;
        }
      }
      if (it.to_import || it.row) it.out.would_delete = delete_originals();
    }
    return Finish();
  }

  MigrationReport Execute(GlobalStorage::Impl& impl) {
    const std::shared_ptr<void> bulk = impl.engine->BulkReads();
    legacy::CrashPoint("after_plan");
    const bool any =
        std::any_of(items_.begin(), items_.end(), [](const Item& it) { return it.to_import || it.row; });
    if (any) Announce();
    for (const Item& it : items_) {
      if (it.left_alone) Say(fmt::format("Left in place: {} ({})", it.display, it.src.keep_reason));
    }
    Progress importing(options_, "importing", BytesOf([](const Item& it) { return it.to_import; }));
    // Events are numbered in import order, so a log whose earlier part (a
    // rotated .gz, the .bak) could not be imported waits for the re-run that
    // imports that part first: a job's events never end up out of order.
    std::map<fs::path, const Item*> failed_logs;  // log folder -> its first part that failed
    const auto is_log = [](const Item& it) {
      return it.src.kind == Kind::kEvents || it.src.kind == Kind::kEventsArchive;
    };
    for (Item& it : items_) {
      const auto earlier =
          it.to_import && is_log(it) ? failed_logs.find(it.src.path.parent_path()) : failed_logs.end();
      if (earlier != failed_logs.end()) {
        Fail(it, fmt::format("not imported yet: {}, an earlier part of the same event log, could not be "
                             "imported, and the log's events must keep their order; a re-run imports both",
                             earlier->second->display));
      } else if (it.to_import) {
        try {
          legacy::ImportedSource imported = legacy::ImportSource(impl, it.src, importing.Fn());
          it.row = imported.row;
          it.read_stat = imported.read_stat;
          it.out.sha256 = imported.row.sha256;
          it.out.rows = imported.row.rows;
          it.out.unparsed = imported.row.unparsed;
          it.out.note = imported.row.note;
          ++report_.imported;
          internal::Log().debug("imported {} ({} rows, {} unparsed)", it.display, it.out.rows,
                                it.out.unparsed);
        } catch (const legacy::SourceError& e) {
          Fail(it, e.what());
        }
        legacy::CrashPoint("after_import");
      }
      // Failed in the plan, just now, or held back: its log's later parts wait.
      if (is_log(it) && !it.out.error.empty()) failed_logs.emplace(it.src.path.parent_path(), &it);
    }
    Progress verifying(options_, "verifying",
                       BytesOf([](const Item& it) { return it.row.has_value() && it.out.error.empty(); }));
    for (Item& it : items_) {
      if (!it.row || !it.out.error.empty()) continue;
      const std::string problem = Verify(impl, it, verifying);
      if (!problem.empty()) {
        Fail(it, problem);
        continue;
      }
      it.verified = true;
      ++report_.verified;
      if (it.row->status == legacy::kStatusImported || it.row->status == legacy::kStatusRemoved) {
        impl.Write([&](engine::WriteTxn& txn) {
          legacy::LedgerSetStatus(txn, it.row->id, legacy::kStatusVerified);
        });
        it.row->status = legacy::kStatusVerified;
      }
    }
    legacy::CrashPoint("after_verify");
    if (delete_originals()) {
      DeleteVerified(impl);
    } else {
      for (const Item& it : items_) report_.kept += it.verified ? 1 : 0;
    }
    if (any || report_.failed > 0) Conclude();
    impl.FlushMirrors();  // the imported rows' files are there when the call returns
    return Finish();
  }

 private:
  Item MakeItem(legacy::Source s) {
    Item it;
    it.out.path = s.path;
    it.out.rel_path = s.rel_path;
    it.out.kind = legacy::KindName(s.kind);
    it.out.job_id = s.job_id;
    it.out.bytes = s.stat.size;
    it.display = s.anchor == mode_.repo ? s.rel_path : Tilde(s.path);
    it.read_stat = s.stat;
    it.src = std::move(s);
    return it;
  }

  uint64_t BytesOf(const std::function<bool(const Item&)>& pred) const {
    uint64_t total = 0;
    for (const Item& it : items_) total += pred(it) ? it.src.stat.size : 0;
    return total;
  }

  void Say(const std::string& line) const {
    if (options_.on_message) options_.on_message(line);
  }

  void Fail(Item& it, const std::string& why) {
    it.to_import = false;
    it.out.error = why;
    it.out.action = "kept: " + why;
    ++report_.failed;
    Say(fmt::format("Kept {}: {}", it.display, why));
  }

  // "Migrating local storage to global storage..." and one "Moving A -> B"
  // per source folder and target. "Moving" only when the originals will go:
  // `import` and --keep-originals leave them where they are.
  void Announce() const {
    Say(mode_.migrate ? "Migrating local storage to global storage..."
                      : fmt::format("Importing Prodigy files into {} (the inputs are not changed)...",
                                    Tilde(mode_.target_dir)));
    const char* verb = !mode_.migrate ? "Importing" : delete_originals() ? "Moving" : "Copying";
    std::vector<std::string> lines;
    std::set<std::string> seen;
    for (const Item& it : items_) {
      if (!it.to_import && !it.row) continue;
      const std::string from =
          it.src.anchor == mode_.repo ? it.src.group : Tilde(it.src.anchor / it.src.group);
      const std::string line = fmt::format("{} {} -> {}", verb, from,
                                           Tilde(mode_.target_dir / std::string(TargetFolder(it.src.kind))));
      if (seen.insert(line).second) lines.push_back(line);
    }
    for (const std::string& line : lines) Say(line);
  }

  void Conclude() const {
    if (report_.failed > 0) {
      Say(fmt::format(
          "Migration incomplete: {} legacy file{} could not be imported or verified and {} left in "
          "place (see above); nothing was lost. Run the migration again after fixing the cause.",
          report_.failed, report_.failed == 1 ? "" : "s", report_.failed == 1 ? "was" : "were"));
    } else if (!mode_.migrate) {
      Say(fmt::format("Import complete: {} file{} imported and verified; the inputs were not changed.",
                      report_.verified, report_.verified == 1 ? "" : "s"));
    } else if (options_.keep_originals) {
      Say(fmt::format("Migration complete. {} legacy file{} verified; originals kept (--keep-originals).",
                      report_.verified, report_.verified == 1 ? "" : "s"));
    } else if (report_.kept == 0) {
      Say("Migration complete. Local storage removed.");
    } else {
      Say(fmt::format("Migration complete. {} legacy file{} removed; {} left in place (see the list above).",
                      report_.removed, report_.removed == 1 ? "" : "s", report_.kept));
    }
  }

  // The three proofs of design step 3.
  // The original is hashed again on a second thread while this one rebuilds
  // it from the database: two reads of the whole file's size at the cost of one.
  std::string Verify(GlobalStorage::Impl& impl, Item& it, Progress& progress) {
    legacy::FileStat now;
    if (!legacy::StatRegular(it.src.path, &now)) {
      return "verification failed: the original disappeared during the migration (its rows are in the "
             "database)";
    }
    if (!(now == it.read_stat)) return "verification failed: the original changed after it was read";
    legacy::FileStat again;
    // (Deferred, run by get(), if no thread can be started.)
    std::future<std::string> original = std::async(std::launch::async | std::launch::deferred, [&] {
      return legacy::HashFile(it.src.path, &again, progress.Fn());
    });
    std::string db_problem;
    try {
      impl.engine->Read([&](engine::ReadTxn& txn) { db_problem = legacy::ProveFromDatabase(txn, *it.row); });
    } catch (...) {
      original.wait();  // it refers to this frame
      throw;
    }
    std::string sha;
    try {
      sha = original.get();
    } catch (const legacy::SourceError& e) {
      if (db_problem.empty()) return std::string("verification failed: ") + e.what();
    }
    if (!db_problem.empty()) return "verification failed: " + db_problem;
    if (sha != it.row->sha256 || !(again == it.read_stat)) {
      return "verification failed: the original's content changed after it was read";
    }
    return {};
  }

  void DeleteVerified(GlobalStorage::Impl& impl) {
    std::set<fs::path> dirs;
    Progress removing(options_, "removing originals", BytesOf([](const Item& it) { return it.verified; }));
    const legacy::ProgressFn removed = removing.Fn();
    for (Item& it : items_) {
      if (!it.verified) continue;
      legacy::FileStat now;
      if (!legacy::StatRegular(it.src.path, &now) || !(now == it.read_stat)) {
        Fail(it, "the original changed after it was verified; it was left in place");
        continue;
      }
      // Ledger first: a crash before the unlink leaves a file that the next
      // run finds "already imported" and removes then.
      impl.Write(
          [&](engine::WriteTxn& txn) { legacy::LedgerSetStatus(txn, it.row->id, legacy::kStatusRemoved); });
      if (::unlink(it.src.path.c_str()) != 0) {
        const int err = errno;
        impl.Write([&](engine::WriteTxn& txn) {
          legacy::LedgerSetStatus(txn, it.row->id, legacy::kStatusVerified);
        });
        Fail(it, fmt::format("imported and verified, but it cannot be removed: {}", std::strerror(err)));
        continue;
      }
      it.out.deleted = true;
      ++report_.removed;
      if (removed) removed(it.src.stat.size);
      legacy::CrashPoint("mid_delete");
      // Folders up to (not including) the anchor: the repository or the root.
      const fs::path stop = it.src.anchor;
      for (fs::path d = it.src.path.parent_path(); d != stop && d.string().size() > stop.string().size();
           d = d.parent_path()) {
        dirs.insert(d);
      }
    }
    // Deepest first; rmdir only removes empty folders, so config.yml and
    // anything unknown keep theirs.
    std::vector<fs::path> ordered(dirs.begin(), dirs.end());
    std::sort(ordered.begin(), ordered.end(), [](const fs::path& a, const fs::path& b) {
      return std::distance(a.begin(), a.end()) > std::distance(b.begin(), b.end());
    });
    for (const fs::path& d : ordered) ::rmdir(d.c_str());
  }

  MigrationReport Finish() {
    for (Item& it : items_) report_.sources.push_back(std::move(it.out));
    items_.clear();
    return std::move(report_);
  }

  RunMode mode_;
  const MigrationOptions& options_;
  std::vector<legacy::Root> roots_;
  std::vector<Item> items_;
  MigrationReport report_;
};

std::string Fingerprint(const std::vector<legacy::Source>& sources) {
  internal::Sha256 sha;
  for (const legacy::Source& s : sources) {
    sha.Update(fmt::format("{}\t{}\t{}\t{}\n", s.path.string(), s.stat.size, s.stat.mtime_ns,
                           legacy::KindName(s.kind)));
  }
  return sha.FinalHex();
}

constexpr const char* kFingerprintKey = "legacy_fingerprint";

LedgerLookup ConnectionLookup(GlobalStorage::Impl& impl) {
  return [&impl](const std::string& path) {
    std::vector<legacy::LedgerRow> rows;
    impl.engine->Read([&](engine::ReadTxn& txn) { rows = txn.LedgerByPath(path); });
    return rows;
  };
}

std::string StoredFingerprint(GlobalStorage::Impl& impl) {
  std::string fp;
  impl.engine->Read([&](engine::ReadTxn& txn) { fp = txn.Meta(kFingerprintKey).value_or(""); });
  return fp;
}

RunMode MigrateMode(const GlobalStorage::Impl& impl) {
  return RunMode{true, impl.location.canonical_path, impl.location.dir};
}

}  // namespace

namespace internal::legacy {

MigrationReport RunMigration(GlobalStorage::Impl& impl, const MigrationOptions& options,
                             bool only_if_changed) {
  // Two processes opening the repository at once: the second waits here and
  // then finds the sources removed or already imported.
  FileLock lock_file(impl.location.dir / ".migrate.lock");
  FileLockGuard lock(lock_file);
  std::vector<Root> roots = FindRoots(impl.location.canonical_path, impl.config);
  std::vector<Source> sources = Discover(roots);
  if (only_if_changed && Fingerprint(sources) == StoredFingerprint(impl)) {
    MigrationReport unchanged;
    for (const Root& r : roots) unchanged.legacy_roots.push_back(r.path);
    return unchanged;
  }
  Run run(MigrateMode(impl), options, std::move(roots), std::move(sources));
  run.Plan(ConnectionLookup(impl));
  MigrationReport report = run.Execute(impl);
  // What is left (kept files) is remembered, so opening the repository again
  // does not report it again until something changes.
  const std::string left = Fingerprint(Discover(FindRoots(impl.location.canonical_path, impl.config)));
  impl.Write([&](engine::WriteTxn& txn) { txn.SetMeta(kFingerprintKey, left); });
  return report;
}

bool LegacyDataChanged(GlobalStorage::Impl& impl) {
  std::vector<Root> roots = FindRoots(impl.location.canonical_path, impl.config);
  if (roots.empty()) return false;
  const std::string fp = Fingerprint(Discover(roots));
  return fp != StoredFingerprint(impl);
}

}  // namespace internal::legacy

void ThrowIfFailed(const MigrationReport& report) {
  if (report.ok()) return;
  std::string list;
  int shown = 0;
  for (const LegacySource& s : report.sources) {
    if (s.error.empty()) continue;
    if (shown++ == 5) {
      list += "; ...";
      break;
    }
    list += fmt::format("{}{}: {}", list.empty() ? "" : "; ", s.path.string(), s.error);
  }
  throw Error::VerificationFailed(
      fmt::format("{} legacy file{} could not be imported or verified and {} left in place (nothing was "
                  "lost): {}",
                  report.failed, report.failed == 1 ? "" : "s", report.failed == 1 ? "was" : "were", list));
}

std::vector<fs::path> FindLegacyRoots(const fs::path& repo_path, const StorageConfig& config) {
  std::error_code ec;
  const fs::path canonical = fs::canonical(repo_path, ec);
  if (ec) {
    throw Error::NotFound(
        fmt::format("repository {} cannot be opened: {}", repo_path.string(), ec.message()));
  }
  std::vector<fs::path> out;
  for (const legacy::Root& r : legacy::FindRoots(canonical, config)) out.push_back(r.path);
  return out;
}

MigrationReport PlanMigration(const fs::path& repo_path, const StorageConfig& config) {
  MigrationOptions options;
  options.dry_run = true;
  return Migrate(repo_path, config, options);
}

MigrationReport Migrate(const fs::path& repo_path, const StorageConfig& config,
                        const MigrationOptions& options) {
  if (options.dry_run) {
    const RepositoryLocation loc = LocateRepository(repo_path, config);  // writes nothing
    std::vector<legacy::Root> roots = legacy::FindRoots(loc.canonical_path, config);
    std::vector<legacy::Source> sources = legacy::Discover(roots);
    legacy::ReadOnlyLedger ledger(loc.db_path, config);
    Run run(RunMode{true, loc.canonical_path, loc.dir}, options, std::move(roots), std::move(sources));
    run.Plan([&](const std::string& path) { return ledger.ByPath(path); });
    return run.DryRun();
  }
  // Nothing to migrate: no database is created for it.
  if (FindLegacyRoots(repo_path, config).empty()) return {};
  StorageConfig no_auto = config;
  no_auto.migration = MigrationPolicy::kOff;
  GlobalStorage storage = GlobalStorage::OpenWithConfig(repo_path, no_auto);
  return legacy::RunMigration(internal::ImplOf(storage), options, /*only_if_changed=*/false);
}

MigrationReport ImportPaths(GlobalStorage& storage, const std::vector<fs::path>& paths,
                            const MigrationOptions& options) {
  GlobalStorage::Impl& impl = internal::ImplOf(storage);
  std::vector<legacy::Source> sources = legacy::DiscoverPaths(paths);
  // The store's own mirror files are Prodigy-shaped too; importing them would
  // duplicate every row.
  const std::string own = impl.location.dir.string() + "/";
  for (legacy::Source& s : sources) {
    if (s.path.string().rfind(own, 0) == 0 && legacy::IsImportable(s.kind)) {
      s.kind = Kind::kUnknown;
      s.keep_reason = "a mirror file of this repository's store, not legacy data";
    }
  }
  std::vector<legacy::Root> roots;  // the report lists the inputs instead
  RunMode mode{false, impl.location.canonical_path, impl.location.dir};
  Run run(mode, options, roots, std::move(sources));
  MigrationReport report;
  if (options.dry_run) {
    run.Plan(ConnectionLookup(impl));
    report = run.DryRun();
  } else {
    internal::FileLock lock_file(impl.location.dir / ".migrate.lock");
    internal::FileLockGuard lock(lock_file);
    run.Plan(ConnectionLookup(impl));
    report = run.Execute(impl);
  }
  report.legacy_roots.assign(paths.begin(), paths.end());
  return report;
}

}  // namespace prodigy
