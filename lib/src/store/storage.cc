// GlobalStorage: opening a repository, job state, sessions, workflow
// checkpoints, mirrors and checks. Events and the DLQ are in events.cc/dlq.cc.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <set>
#include <system_error>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "config/engines.h"
#include "postgres/postgres_engine.h"
#include "prodigy/error.h"
#include "prodigy/storage.h"
#include "sqlite/sqlite_engine.h"
#include "store/kinds.h"
#include "store/rows.h"
#include "store/storage_impl.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/sha256.h"

namespace prodigy {
namespace {

namespace fs = std::filesystem;
using internal::Log;

// The canonical path recorded in an existing database, or nullopt when the
// file has none (being created, or not ours: opening reports that). Reads
// without creating -wal/-shm files: locating a repository writes nothing.
std::optional<std::string> RecordedRepository(const fs::path& db_path, const StorageConfig& config) {
  auto engine = internal::OpenSqliteEngineReadOnly(db_path, config);
  if (!engine) return std::nullopt;
  std::optional<std::string> out;
  try {
    engine->Read([&](engine::ReadTxn& txn) { out = txn.RecordedRepository(); });
  } catch (const Error&) {
    return std::nullopt;
  }
  return out;
}

// Creates the root (0700) and checks that it can hold a store.
void PrepareRoot(const StorageConfig& config) {
  const fs::path& root = config.storage_dir;
  struct stat st;
  if (::stat(root.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) {
    throw Error::Config(
        fmt::format("storage root {} (from {}) is a file, not a folder; remove it or choose "
                    "another root with --storage-dir or PRODIGY_STORAGE_DIR",
                    root.string(), StorageDirSourceName(config.storage_dir_source)));
  }
  try {
    internal::EnsureDir(root, 0700);
  } catch (const Error& e) {
    throw Error::Config(fmt::format("storage root {} (from {}) cannot be created: {}", root.string(),
                                    StorageDirSourceName(config.storage_dir_source), e.message()));
  }
  if (::access(root.c_str(), W_OK | X_OK) != 0) {
    throw Error::Config(
        fmt::format("storage root {} (from {}) is not writable: {}; fix its permissions "
                    "(chmod u+rwx) or choose another root with --storage-dir",
                    root.string(), StorageDirSourceName(config.storage_dir_source), std::strerror(errno)));
  }
  if (auto type = internal::NetworkFilesystemType(root)) {
    if (!config.allow_network_filesystem) {
      throw Error::Config(
          fmt::format("storage root {} is on a {} filesystem, where SQLite's WAL mode can "
                      "corrupt the database; choose a local folder, or set "
                      "allow_network_filesystem = true if only one machine ever uses it",
                      root.string(), *type));
    }
    Log().warn("storage root {} is on a {} filesystem; only one machine may use it", root.string(), *type);
  }
}

std::string Now() { return FormatTimestamp(NowNs()); }

// Deletes the row of a kind keyed by one id and logs its mirror change.
bool DeleteDocument(GlobalStorage::Impl& impl, const internal::DocumentKind& kind, std::string_view id) {
  bool deleted = false;
  const engine::Value key[] = {id};
  impl.Write([&](engine::WriteTxn& txn) {
    deleted = txn.Delete(*kind.table, key);
    if (deleted) txn.LogChange(kind.change, id);
  });
  return deleted;
}

}  // namespace

namespace {

// What a candidate folder's database records: the repository's canonical path,
// or nullopt when it records none (being created, or not ours).
using RecordedFn = std::function<std::optional<std::string>(const RepositoryLocation&)>;

// The folder of `repo_path` under the root: the first candidate whose database
// does not exist yet or records this repository (asked through `recorded_in`).
RepositoryLocation FindRepositoryFolder(const fs::path& repo_path, const StorageConfig& config,
                                        const RecordedFn& recorded_in) {
  std::error_code ec;
  RepositoryLocation loc;
  loc.canonical_path = fs::canonical(repo_path, ec);
  if (ec) {
    throw Error::NotFound(
        fmt::format("repository {} cannot be opened: {}", repo_path.string(), ec.message()));
  }
  const std::string base = loc.canonical_path.filename().string();
  if (base.empty()) {
    throw Error::InvalidArgument(fmt::format(
        "repository path {} has no folder name; give the repository's folder", loc.canonical_path.string()));
  }
  // Two candidates: the plain folder name, then one made unique by the path's hash.
  const std::string candidates[] = {
      EncodeFileName(base),
      EncodeFileName(base) + "-" + internal::Sha256Hex(loc.canonical_path.string()).substr(0, 8)};
  for (const std::string& name : candidates) {
    // Folders that Prodigy's own global layout uses at the root level (and our
    // config file) can never be a repository's folder.
    static const std::set<std::string> kReserved = {
        "events",   "dlq",         "state",        "worktrees",
        "sessions", "logs",        "resume_locks", "orphaned_worktrees",
        "archive",  "checkpoints", "config.toml",  "mappings"};
    if (&name == &candidates[0] && kReserved.count(name)) continue;
    loc.name = name;
    loc.dir = config.storage_dir / name;
    loc.db_path = loc.dir / "prodigy.db";
    loc.exists = fs::exists(loc.db_path, ec);
    if (!loc.exists) return loc;
    auto recorded = recorded_in(loc);
    if (!recorded || *recorded == loc.canonical_path.string()) return loc;
  }
  throw Error::Config(fmt::format("both {} and {} belong to other repositories; move one aside",
                                  (config.storage_dir / candidates[0]).string(),
                                  (config.storage_dir / candidates[1]).string()));
}

}  // namespace

RepositoryLocation LocateRepository(const fs::path& repo_path, const StorageConfig& config) {
  return FindRepositoryFolder(repo_path, config, [&](const RepositoryLocation& candidate) {
    return RecordedRepository(candidate.db_path, config);
  });
}

namespace internal {

namespace {

// A store whose data lives on a PostgreSQL server: the repository is the row
// named by its key there; no local database, and no mirror files (they are
// written on demand by RegenerateMirrors, i.e. `export --mirrors`).
GlobalStorage OpenServerStore(const fs::path& repo_path, const StorageConfig& config) {
  auto impl = std::make_unique<GlobalStorage::Impl>();
  impl->config = config;
  impl->config.mirrors = false;
  impl->location = LocateRepository(repo_path, config);
  impl->location.db_path.clear();
  impl->location.exists = true;
  const RepositoryLocation& loc = impl->location;
  impl->engine = OpenPostgresEngine(
      config, PostgresRepository{RepositoryKey(config, loc), loc.name, loc.canonical_path.string()},
      config.create_repository);
  // The mirror writer itself is on: it runs only when asked (RegenerateMirrors).
  StorageConfig on_demand = config;
  on_demand.mirrors = true;
  impl->mirror = std::make_unique<Mirror>(*impl->engine, impl->location, on_demand);
  impl->notifier = OpenEventNotifier(impl->config, impl->location);
  Log().debug("opened {} for {}", impl->engine->where(), loc.canonical_path.string());
  return StorageAccess::Make(std::move(impl));
}

}  // namespace

GlobalStorage OpenStore(const fs::path& repo_path, const StorageConfig& config) {
  for (const std::string& notice : config.notices) Log().warn("{}", notice);
  internal::RequireEngineBuilt(config);
  if (EngineOf(config) == Engine::kPostgres) return OpenServerStore(repo_path, config);
  PrepareRoot(config);
  // A second pass covers the race where another repository claims the folder
  // between finding it free and our claim.
  for (int attempt = 0; attempt < 3; ++attempt) {
    // The database is opened once: the engine that read a candidate's recorded
    // repository is kept when the candidate is ours (or not yet claimed).
    // Usually the row is there: read it without taking the write lock, which
    // busy writers of this repository may be holding.
    std::unique_ptr<engine::Engine> engine;
    std::optional<std::string> recorded;
    RepositoryLocation loc =
        FindRepositoryFolder(repo_path, config, [&](const RepositoryLocation& candidate) {
          std::unique_ptr<engine::Engine> opened;
          try {
            opened = OpenSqliteEngine(candidate.db_path, config, /*create=*/false);
          } catch (const Error&) {
            // Unreadable, foreign or newer: the read-only look decides whose
            // it is; opening it below then reports the error.
            return RecordedRepository(candidate.db_path, config);
          }
          std::optional<std::string> found;
          opened->Read([&](engine::ReadTxn& txn) { found = txn.RecordedRepository(); });
          if (!found || *found == candidate.canonical_path.string()) {
            engine = std::move(opened);
            recorded = found;
          }
          return found;
        });
    if (!engine) {
      internal::EnsureDir(loc.dir, 0700);
      engine = OpenSqliteEngine(loc.db_path, config);
      engine->Read([&](engine::ReadTxn& txn) { recorded = txn.RecordedRepository(); });
    }
    if (!recorded) {
      engine->Write([&](engine::WriteTxn& txn) {
        recorded = txn.ClaimRepository(loc.canonical_path.string(), loc.name, Now());
      });
    }
    if (*recorded != loc.canonical_path.string()) continue;
    loc.exists = true;
    auto impl = std::make_unique<GlobalStorage::Impl>();
    impl->config = config;
    impl->location = loc;
    impl->engine = std::move(engine);
    impl->mirror = std::make_unique<Mirror>(*impl->engine, impl->location, impl->config);
    if (config.mirrors) {
      impl->mirror_writer =
          std::make_unique<MirrorWriter>(*impl->mirror, std::chrono::milliseconds(config.mirror_delay_ms));
    }
    impl->notifier = OpenEventNotifier(impl->config, impl->location);
    Log().debug("opened {} for {}", loc.db_path.string(), loc.canonical_path.string());
    GlobalStorage storage = StorageAccess::Make(std::move(impl));
    // Heal mirrors left behind by a crash between commit and mirror write.
    ImplOf(storage).mirror->Sync();
    return storage;
  }
  throw Error::Internal(fmt::format("could not claim a storage folder for {}", repo_path.string()));
}

}  // namespace internal

GlobalStorage::GlobalStorage(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GlobalStorage::GlobalStorage(GlobalStorage&&) noexcept = default;
GlobalStorage& GlobalStorage::operator=(GlobalStorage&&) noexcept = default;
GlobalStorage::~GlobalStorage() = default;

const StorageConfig& GlobalStorage::config() const { return impl_->config; }
const RepositoryLocation& GlobalStorage::location() const { return impl_->location; }
std::string GlobalStorage::Where() const { return impl_->engine->where(); }

RepositoryInfo GlobalStorage::Info() {
  RepositoryInfo info;
  info.repo_name = impl_->location.name;
  info.repo_path = impl_->location.canonical_path;
  info.repo_dir = impl_->location.dir;
  info.db_path = impl_->location.db_path;
  info.mirrors_enabled = impl_->config.mirrors;
  std::error_code ec;
  for (const char* suffix : {"", "-wal"}) {
    if (info.db_path.empty()) break;  // a server store has no local file
    const auto size = fs::file_size(info.db_path.string() + suffix, ec);
    if (!ec) info.db_bytes += static_cast<int64_t>(size);
  }
  info.schema_version = impl_->engine->SchemaVersion();
  impl_->engine->Read([&](engine::ReadTxn& txn) { info.counts = txn.Counts(); });
  return info;
}

// ---- Job state ---------------------------------------------------------------

int64_t GlobalStorage::WriteState(std::string_view job_id, std::string_view state_json) {
  internal::ValidateId("job id", job_id);
  JobState state = internal::ExtractJobState(job_id, state_json);
  impl_->Write([&](engine::WriteTxn& txn) {
    internal::InsertJobState(txn, state, impl_->config.state_versions_kept);
  });
  Log().debug("write_state job={} version={} bytes={}", job_id, state.version, state_json.size());
  return state.version;
}

std::optional<JobState> GlobalStorage::ReadState(std::string_view job_id) {
  internal::ValidateId("job id", job_id);
  std::optional<JobState> out;
  const engine::Value prefix[] = {job_id};
  impl_->engine->Read([&](engine::ReadTxn& txn) {
    txn.Scan(engine::tables::kJobStates, prefix, /*descending=*/true, internal::FirstInto(&out));
  });
  return out;
}

std::optional<JobState> GlobalStorage::ReadStateVersion(std::string_view job_id, int64_t version) {
  internal::ValidateId("job id", job_id);
  std::optional<JobState> out;
  const engine::Value key[] = {job_id, version};
  impl_->engine->Read([&](engine::ReadTxn& txn) { out = internal::GetRow<JobState>(txn, key); });
  return out;
}

std::vector<JobState> GlobalStorage::StateHistory(std::string_view job_id) {
  internal::ValidateId("job id", job_id);
  std::vector<JobState> out;
  const engine::Value prefix[] = {job_id};
  impl_->engine->Read([&](engine::ReadTxn& txn) {
    txn.Scan(engine::tables::kJobStates, prefix, /*descending=*/true, internal::CollectInto(&out));
  });
  return out;
}

std::vector<JobState> GlobalStorage::ListJobStates() {
  std::vector<JobState> out;
  impl_->engine->Read([&](engine::ReadTxn& txn) { txn.LatestStates(internal::CollectInto(&out)); });
  return out;
}

// ---- Sessions ------------------------------------------------------------------

void GlobalStorage::SaveSession(std::string_view session_json) {
  Session session = internal::ExtractSession(session_json);
  impl_->Write([&](engine::WriteTxn& txn) { internal::UpsertSession(txn, session); });
  Log().debug("save_session id={} status={}", session.session_id, session.status);
}

std::optional<Session> GlobalStorage::LoadSession(std::string_view session_id) {
  internal::ValidateId("session id", session_id);
  std::optional<Session> out;
  const engine::Value key[] = {session_id};
  impl_->engine->Read([&](engine::ReadTxn& txn) { out = internal::GetRow<Session>(txn, key); });
  return out;
}

std::vector<Session> GlobalStorage::ListSessions(std::optional<std::string_view> status) {
  std::vector<Session> out;
  impl_->engine->Read([&](engine::ReadTxn& txn) { txn.ListSessions(status, internal::CollectInto(&out)); });
  return out;
}

bool GlobalStorage::DeleteSession(std::string_view session_id) {
  internal::ValidateId("session id", session_id);
  const bool deleted = DeleteDocument(*impl_, internal::kSessionKind, session_id);
  Log().debug("delete_session id={} deleted={}", session_id, deleted);
  return deleted;
}

void GlobalStorage::UpdateSessionStatus(std::string_view session_id, std::string_view status) {
  internal::ValidateId("session id", session_id);
  if (status.empty()) {
    throw Error::InvalidArgument(fmt::format("session {}: the new status is empty", session_id));
  }
  const engine::Value key[] = {session_id};
  impl_->Write([&](engine::WriteTxn& txn) {
    const std::optional<Session> old = internal::GetRow<Session>(txn, key);
    if (!old) {
      throw Error::NotFound(fmt::format(
          "session {} does not exist; list sessions with 'prodigy-store sessions ls'", session_id));
    }
    // ordered_json keeps the document's key order; a pretty document stays pretty.
    auto doc = nlohmann::ordered_json::parse(old->json);
    doc["status"] = std::string(status);
    const std::string updated = old->json.find('\n') != std::string::npos ? doc.dump(2) : doc.dump();
    internal::UpsertSession(txn, internal::ExtractSession(updated));
  });
  Log().debug("update_session_status id={} status={}", session_id, status);
}

// ---- Workflow checkpoints ----------------------------------------------------

void GlobalStorage::SaveCheckpoint(std::string_view checkpoint_json) {
  WorkflowCheckpoint cp = internal::ExtractCheckpoint(checkpoint_json);
  impl_->Write([&](engine::WriteTxn& txn) { internal::UpsertCheckpoint(txn, cp); });
  Log().debug("save_checkpoint workflow={} bytes={}", cp.workflow_id, checkpoint_json.size());
}

std::optional<WorkflowCheckpoint> GlobalStorage::LoadCheckpoint(std::string_view workflow_id) {
  internal::ValidateId("workflow id", workflow_id);
  std::optional<WorkflowCheckpoint> out;
  const engine::Value key[] = {workflow_id};
  impl_->engine->Read([&](engine::ReadTxn& txn) { out = internal::GetRow<WorkflowCheckpoint>(txn, key); });
  return out;
}

std::vector<WorkflowCheckpoint> GlobalStorage::ListCheckpoints() {
  std::vector<WorkflowCheckpoint> out;
  impl_->engine->Read(
      [&](engine::ReadTxn& txn) { txn.ListCheckpoints(std::nullopt, internal::CollectInto(&out)); });
  return out;
}

std::optional<WorkflowCheckpoint> GlobalStorage::LatestCheckpoint() {
  std::optional<WorkflowCheckpoint> out;
  impl_->engine->Read([&](engine::ReadTxn& txn) { txn.ListCheckpoints(1, internal::FirstInto(&out)); });
  return out;
}

bool GlobalStorage::DeleteCheckpoint(std::string_view workflow_id) {
  internal::ValidateId("workflow id", workflow_id);
  return DeleteDocument(*impl_, internal::kCheckpointKind, workflow_id);
}

// ---- Mirrors and checks ------------------------------------------------------

void GlobalStorage::RegenerateMirrors() { impl_->mirror->RegenerateAll(); }

void GlobalStorage::FlushMirrors() { impl_->FlushMirrors(); }

std::vector<MirrorProblem> GlobalStorage::CheckMirrors() {
  // Mirrors off, or a PostgreSQL store (its files are written only on demand): nothing to compare.
  if (!impl_->config.mirrors) return {};
  impl_->FlushMirrors();  // a lag within the configured delay is no problem
  return impl_->mirror->Check();
}

std::vector<std::string> GlobalStorage::CheckIntegrity() { return impl_->engine->CheckIntegrity(); }

}  // namespace prodigy
