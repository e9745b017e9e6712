// GlobalStorage: opening a repository, job state, sessions, workflow
// checkpoints, mirrors and checks. Events and the DLQ are in events.cc/dlq.cc.
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <set>
#include <system_error>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "config/engines.h"
#include "prodigy/error.h"
#include "prodigy/storage.h"
#include "sqlite/migrations.h"
#include "store/rows.h"
#include "store/storage_impl.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/sha256.h"

namespace prodigy {
namespace {

namespace fs = std::filesystem;
using internal::Log;
using internal::WriteTxn;

// The canonical path recorded in an existing database, or nullopt when the
// file has none (being created, or not ours: Connection reports that).
std::optional<std::string> RecordedRepository(const fs::path& db_path) {
  sqlite3* db = nullptr;
  std::optional<std::string> out;
  // Read without creating -wal/-shm files: locating a repository writes nothing.
  if (sqlite3_open_v2(internal::ReadOnlyUri(db_path).c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI,
                      nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT canonical_path FROM repository WHERE id = 1", -1, &st, nullptr) ==
            SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return out;
}

// Creates the root (0700) and checks that it can hold a store.
void PrepareRoot(const StorageConfig& config) {
  const fs::path& root = config.storage_dir;
  struct stat st;
  if (::stat(root.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) {
    throw Error(ErrorCode::kConfig,
                fmt::format("storage root {} (from {}) is a file, not a folder; remove it or choose "
                            "another root with --storage-dir or PRODIGY_STORAGE_DIR",
                            root.string(), StorageDirSourceName(config.storage_dir_source)));
  }
  try {
    internal::EnsureDir(root, 0700);
  } catch (const Error& e) {
    throw Error(ErrorCode::kConfig, fmt::format("storage root {} (from {}) cannot be created: {}",
                                                root.string(),
                                                StorageDirSourceName(config.storage_dir_source),
                                                e.message()));
  }
  if (::access(root.c_str(), W_OK | X_OK) != 0) {
    throw Error(ErrorCode::kConfig,
                fmt::format("storage root {} (from {}) is not writable: {}; fix its permissions "
                            "(chmod u+rwx) or choose another root with --storage-dir",
                            root.string(), StorageDirSourceName(config.storage_dir_source),
                            std::strerror(errno)));
  }
  if (auto type = internal::NetworkFilesystemType(root)) {
    if (!config.allow_network_filesystem) {
      throw Error(ErrorCode::kConfig,
                  fmt::format("storage root {} is on a {} filesystem, where SQLite's WAL mode can "
                              "corrupt the database; choose a local folder, or set "
                              "allow_network_filesystem = true if only one machine ever uses it",
                              root.string(), *type));
    }
    Log().warn("storage root {} is on a {} filesystem; only one machine may use it",
               root.string(), *type);
  }
}

std::string Now() { return FormatTimestamp(NowNs()); }

}  // namespace

RepositoryLocation LocateRepository(const fs::path& repo_path, const StorageConfig& config) {
  std::error_code ec;
  RepositoryLocation loc;
  loc.canonical_path = fs::canonical(repo_path, ec);
  if (ec) {
    throw Error(ErrorCode::kNotFound, fmt::format("repository {} cannot be opened: {}",
                                                  repo_path.string(), ec.message()));
  }
  const std::string base = loc.canonical_path.filename().string();
  if (base.empty()) {
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("repository path {} has no folder name; give the repository's folder",
                            loc.canonical_path.string()));
  }
  // Two candidates: the plain folder name, then one made unique by the path's hash.
  const std::string candidates[] = {
      EncodeFileName(base),
      EncodeFileName(base) + "-" + internal::Sha256Hex(loc.canonical_path.string()).substr(0, 8)};
  for (const std::string& name : candidates) {
    // Folders that Prodigy's own global layout uses at the root level (and our
    // config file) can never be a repository's folder.
    static const std::set<std::string> kReserved = {
        "events", "dlq", "state", "worktrees", "sessions", "logs", "resume_locks",
        "orphaned_worktrees", "archive", "checkpoints", "config.toml", "mappings"};
    if (&name == &candidates[0] && kReserved.count(name)) continue;
    loc.name = name;
    loc.dir = config.storage_dir / name;
    loc.db_path = loc.dir / "prodigy.db";
    loc.exists = fs::exists(loc.db_path, ec);
    if (!loc.exists) return loc;
    auto recorded = RecordedRepository(loc.db_path);
    if (!recorded || *recorded == loc.canonical_path.string()) return loc;
  }
  throw Error(ErrorCode::kConfig,
              fmt::format("both {} and {} belong to other repositories; move one aside",
                          (config.storage_dir / candidates[0]).string(),
                          (config.storage_dir / candidates[1]).string()));
}

GlobalStorage GlobalStorage::Open(const fs::path& repo_path) {
  return OpenWithConfig(repo_path, ResolveConfig());
}

GlobalStorage GlobalStorage::OpenWithConfig(const fs::path& repo_path, const StorageConfig& config) {
  for (const std::string& notice : config.notices) Log().warn("{}", notice);
  internal::RequireEngineBuilt(config);
  PrepareRoot(config);
  // A second pass covers the race where another repository claims the folder
  // between LocateRepository and our claim.
  for (int attempt = 0; attempt < 3; ++attempt) {
    RepositoryLocation loc = LocateRepository(repo_path, config);
    internal::EnsureDir(loc.dir, 0700);
    auto conn = std::make_unique<internal::Connection>(loc.db_path, config);
    // Usually the row is there: read it without taking the write lock, which
    // busy writers of this repository may be holding.
    std::optional<std::string> recorded = conn->Read([&]() -> std::optional<std::string> {
      SQLite::Statement& q = conn->Prepare("SELECT canonical_path FROM repository WHERE id = 1");
      if (!q.executeStep()) return std::nullopt;
      return q.getColumn(0).getString();
    });
    if (!recorded) {
      conn->Write([&](WriteTxn& txn) {
        SQLite::Statement& q = txn.Prepare("SELECT canonical_path FROM repository WHERE id = 1");
        if (q.executeStep()) {
          recorded = q.getColumn(0).getString();  // another process claimed it meanwhile
          return;
        }
        SQLite::Statement& ins = txn.Prepare(
            "INSERT INTO repository (id, canonical_path, name, created_at) VALUES (1, ?1, ?2, ?3)");
        ins.bind(1, loc.canonical_path.string());
        ins.bind(2, loc.name);
        ins.bind(3, Now());
        ins.exec();
        recorded = loc.canonical_path.string();
      });
    }
    const bool ours = *recorded == loc.canonical_path.string();
    if (!ours) continue;
    loc.exists = true;
    auto impl = std::make_unique<Impl>();
    impl->config = config;
    impl->location = loc;
    impl->conn = std::move(conn);
    impl->mirror = std::make_unique<internal::Mirror>(*impl->conn, impl->location, impl->config);
    Log().debug("opened {} for {}", loc.db_path.string(), loc.canonical_path.string());
    GlobalStorage storage(std::move(impl));
    // Heal mirrors left behind by a crash between commit and mirror write.
    storage.impl_->mirror->Sync();
    if (config.migration == MigrationPolicy::kAuto) internal::AutoMigrateOnOpen(storage);
    return storage;
  }
  throw Error(ErrorCode::kInternal,
              fmt::format("could not claim a storage folder for {}", repo_path.string()));
}

GlobalStorage::GlobalStorage(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GlobalStorage::GlobalStorage(GlobalStorage&&) noexcept = default;
GlobalStorage& GlobalStorage::operator=(GlobalStorage&&) noexcept = default;
GlobalStorage::~GlobalStorage() = default;

const StorageConfig& GlobalStorage::config() const { return impl_->config; }
const RepositoryLocation& GlobalStorage::location() const { return impl_->location; }

RepositoryInfo GlobalStorage::Info() {
  std::lock_guard lock(impl_->mu);
  RepositoryInfo info;
  info.repo_name = impl_->location.name;
  info.repo_path = impl_->location.canonical_path;
  info.repo_dir = impl_->location.dir;
  info.db_path = impl_->location.db_path;
  info.mirrors_enabled = impl_->config.mirrors;
  std::error_code ec;
  for (const char* suffix : {"", "-wal"}) {
    const auto size = fs::file_size(info.db_path.string() + suffix, ec);
    if (!ec) info.db_bytes += static_cast<int64_t>(size);
  }
  impl_->Read([&] {
    auto& db = impl_->conn->db();
    info.schema_version = db.execAndGet("PRAGMA user_version").getInt();
    info.counts.events = db.execAndGet("SELECT count(*) FROM events").getInt64();
    info.counts.dlq_items = db.execAndGet("SELECT count(*) FROM dlq_items").getInt64();
    info.counts.job_states = db.execAndGet("SELECT count(*) FROM job_states").getInt64();
    info.counts.sessions = db.execAndGet("SELECT count(*) FROM sessions").getInt64();
    info.counts.workflow_checkpoints = db.execAndGet("SELECT count(*) FROM workflow_checkpoints").getInt64();
    info.counts.unparsed_lines = db.execAndGet("SELECT count(*) FROM unparsed_lines").getInt64();
    info.counts.import_sources = db.execAndGet("SELECT count(*) FROM import_sources").getInt64();
  });
  return info;
}

// ---- Job state ---------------------------------------------------------------

int64_t GlobalStorage::WriteState(std::string_view job_id, std::string_view state_json) {
  internal::ValidateId("job id", job_id);
  JobState state = internal::ExtractJobState(job_id, state_json);
  std::lock_guard lock(impl_->mu);
  impl_->Write([&](WriteTxn& txn) {
    internal::InsertJobState(txn, state, impl_->config.state_versions_kept);
  });
  Log().debug("write_state job={} version={} bytes={}", job_id, state.version, state_json.size());
  return state.version;
}

std::optional<JobState> GlobalStorage::ReadState(std::string_view job_id) {
  internal::ValidateId("job id", job_id);
  std::lock_guard lock(impl_->mu);
  static const std::string sql = fmt::format(
      "SELECT {} FROM job_states WHERE job_id = ?1 ORDER BY version DESC LIMIT 1", internal::kStateColumns);
  return impl_->Read([&]() -> std::optional<JobState> {
    SQLite::Statement& q = impl_->conn->Prepare(sql.c_str());
    q.bind(1, std::string(job_id));
    if (!q.executeStep()) return std::nullopt;
    return internal::ReadStateRow(q);
  });
}

std::optional<JobState> GlobalStorage::ReadStateVersion(std::string_view job_id, int64_t version) {
  internal::ValidateId("job id", job_id);
  std::lock_guard lock(impl_->mu);
  static const std::string sql = fmt::format(
      "SELECT {} FROM job_states WHERE job_id = ?1 AND version = ?2", internal::kStateColumns);
  return impl_->Read([&]() -> std::optional<JobState> {
    SQLite::Statement& q = impl_->conn->Prepare(sql.c_str());
    q.bind(1, std::string(job_id));
    q.bind(2, static_cast<int64_t>(version));
    if (!q.executeStep()) return std::nullopt;
    return internal::ReadStateRow(q);
  });
}

std::vector<JobState> GlobalStorage::StateHistory(std::string_view job_id) {
  internal::ValidateId("job id", job_id);
  std::lock_guard lock(impl_->mu);
  static const std::string sql = fmt::format(
      "SELECT {} FROM job_states WHERE job_id = ?1 ORDER BY version DESC", internal::kStateColumns);
  return impl_->Read([&] {
    std::vector<JobState> out;
    SQLite::Statement& q = impl_->conn->Prepare(sql.c_str());
    q.bind(1, std::string(job_id));
    while (q.executeStep()) out.push_back(internal::ReadStateRow(q));
    return out;
  });
}

std::vector<JobState> GlobalStorage::ListJobStates() {
  std::lock_guard lock(impl_->mu);
  static const std::string sql = fmt::format(
      "SELECT {} FROM job_states AS s WHERE version = (SELECT max(version) FROM job_states "
      "WHERE job_id = s.job_id) ORDER BY written_at DESC, job_id",
      internal::kStateColumns);
  return impl_->Read([&] {
    std::vector<JobState> out;
    SQLite::Statement& q = impl_->conn->Prepare(sql.c_str());
    while (q.executeStep()) out.push_back(internal::ReadStateRow(q));
    return out;
  });
}

// ---- Sessions ------------------------------------------------------------------

void GlobalStorage::SaveSession(std::string_view session_json) {
  Session session = internal::ExtractSession(session_json);
  std::lock_guard lock(impl_->mu);
  impl_->Write([&](WriteTxn& txn) { internal::UpsertSession(txn, session); });
  Log().debug("save_session id={} status={}", session.session_id, session.status);
}

std::optional<Session> GlobalStorage::LoadSession(std::string_view session_id) {
  internal::ValidateId("session id", session_id);
  std::lock_guard lock(impl_->mu);
  static const std::string sql =
      fmt::format("SELECT {} FROM sessions WHERE session_id = ?1", internal::kSessionColumns);
  return impl_->Read([&]() -> std::optional<Session> {
    SQLite::Statement& q = impl_->conn->Prepare(sql.c_str());
    q.bind(1, std::string(session_id));
    if (!q.executeStep()) return std::nullopt;
    return internal::ReadSessionRow(q);
  });
}

std::vector<Session> GlobalStorage::ListSessions(std::optional<std::string_view> status) {
  std::lock_guard lock(impl_->mu);
  static const std::string sql = fmt::format(
      "SELECT {} FROM sessions WHERE ?1 IS NULL OR status = ?1 ORDER BY updated_at DESC, session_id",
      internal::kSessionColumns);
  return impl_->Read([&] {
    std::vector<Session> out;
    SQLite::Statement& q = impl_->conn->Prepare(sql.c_str());
    if (status) q.bind(1, std::string(*status)); else q.bind(1);
    while (q.executeStep()) out.push_back(internal::ReadSessionRow(q));
    return out;
  });
}

bool GlobalStorage::DeleteSession(std::string_view session_id) {
  internal::ValidateId("session id", session_id);
  std::lock_guard lock(impl_->mu);
  bool deleted = false;
  impl_->Write([&](WriteTxn& txn) {
    SQLite::Statement& d = txn.Prepare("DELETE FROM sessions WHERE session_id = ?1");
    d.bind(1, std::string(session_id));
    deleted = d.exec() > 0;
    if (deleted) internal::LogChange(txn, internal::kChangeSession, session_id);
  });
  Log().debug("delete_session id={} deleted={}", session_id, deleted);
  return deleted;
}

void GlobalStorage::UpdateSessionStatus(std::string_view session_id, std::string_view status) {
  internal::ValidateId("session id", session_id);
  if (status.empty()) {
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("session {}: the new status is empty", session_id));
  }
  std::lock_guard lock(impl_->mu);
  impl_->Write([&](WriteTxn& txn) {
    SQLite::Statement& q = txn.Prepare("SELECT json FROM sessions WHERE session_id = ?1");
    q.bind(1, std::string(session_id));
    if (!q.executeStep()) {
      throw Error(ErrorCode::kNotFound,
                  fmt::format("session {} does not exist; list sessions with 'prodigy-store sessions ls'",
                              session_id));
    }
    const std::string old = q.getColumn(0).getString();
    q.reset();
    // ordered_json keeps the document's key order; a pretty document stays pretty.
    auto doc = nlohmann::ordered_json::parse(old);
    doc["status"] = std::string(status);
    const std::string updated = old.find('\n') != std::string::npos ? doc.dump(2) : doc.dump();
    internal::UpsertSession(txn, internal::ExtractSession(updated));
  });
  Log().debug("update_session_status id={} status={}", session_id, status);
}

// ---- Workflow checkpoints ----------------------------------------------------

void GlobalStorage::SaveCheckpoint(std::string_view checkpoint_json) {
  WorkflowCheckpoint cp = internal::ExtractCheckpoint(checkpoint_json);
  std::lock_guard lock(impl_->mu);
  impl_->Write([&](WriteTxn& txn) { internal::UpsertCheckpoint(txn, cp); });
  Log().debug("save_checkpoint workflow={} bytes={}", cp.workflow_id, checkpoint_json.size());
}

std::optional<WorkflowCheckpoint> GlobalStorage::LoadCheckpoint(std::string_view workflow_id) {
  internal::ValidateId("workflow id", workflow_id);
  std::lock_guard lock(impl_->mu);
  static const std::string sql = fmt::format(
      "SELECT {} FROM workflow_checkpoints WHERE workflow_id = ?1", internal::kCheckpointColumns);
  return impl_->Read([&]() -> std::optional<WorkflowCheckpoint> {
    SQLite::Statement& q = impl_->conn->Prepare(sql.c_str());
    q.bind(1, std::string(workflow_id));
    if (!q.executeStep()) return std::nullopt;
    return internal::ReadCheckpointRow(q);
  });
}

std::vector<WorkflowCheckpoint> GlobalStorage::ListCheckpoints() {
  std::lock_guard lock(impl_->mu);
  static const std::string sql = fmt::format(
      "SELECT {} FROM workflow_checkpoints ORDER BY ts_ns DESC NULLS LAST, workflow_id DESC",
      internal::kCheckpointColumns);
  return impl_->Read([&] {
    std::vector<WorkflowCheckpoint> out;
    SQLite::Statement& q = impl_->conn->Prepare(sql.c_str());
    while (q.executeStep()) out.push_back(internal::ReadCheckpointRow(q));
    return out;
  });
}

std::optional<WorkflowCheckpoint> GlobalStorage::LatestCheckpoint() {
  std::lock_guard lock(impl_->mu);
  static const std::string sql = fmt::format(
      "SELECT {} FROM workflow_checkpoints ORDER BY ts_ns DESC NULLS LAST, workflow_id DESC LIMIT 1",
      internal::kCheckpointColumns);
  return impl_->Read([&]() -> std::optional<WorkflowCheckpoint> {
    SQLite::Statement& q = impl_->conn->Prepare(sql.c_str());
    if (!q.executeStep()) return std::nullopt;
    return internal::ReadCheckpointRow(q);
  });
}

bool GlobalStorage::DeleteCheckpoint(std::string_view workflow_id) {
  internal::ValidateId("workflow id", workflow_id);
  std::lock_guard lock(impl_->mu);
  bool deleted = false;
  impl_->Write([&](WriteTxn& txn) {
    SQLite::Statement& d = txn.Prepare("DELETE FROM workflow_checkpoints WHERE workflow_id = ?1");
    d.bind(1, std::string(workflow_id));
    deleted = d.exec() > 0;
    if (deleted) internal::LogChange(txn, internal::kChangeCheckpoint, workflow_id);
  });
  return deleted;
}

// ---- Mirrors and checks ------------------------------------------------------

void GlobalStorage::RegenerateMirrors() {
  std::lock_guard lock(impl_->mu);
  impl_->mirror->RegenerateAll();
}

std::vector<MirrorProblem> GlobalStorage::CheckMirrors() {
  std::lock_guard lock(impl_->mu);
  return impl_->mirror->Check();
}

std::vector<std::string> GlobalStorage::CheckIntegrity() {
  std::lock_guard lock(impl_->mu);
  return impl_->Read([&] {
    std::vector<std::string> problems;
    SQLite::Statement q(impl_->conn->db(), "PRAGMA integrity_check");
    while (q.executeStep()) {
      const std::string line = q.getColumn(0).getString();
      if (line != "ok") problems.push_back(line);
    }
    return problems;
  });
}

}  // namespace prodigy
