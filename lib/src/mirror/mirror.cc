#include "mirror/mirror.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "store/rows.h"
#include "util/fs.h"
#include "util/log.h"

namespace prodigy::internal {
namespace {

using Json = nlohmann::ordered_json;
namespace fs = std::filesystem;

constexpr size_t kFlushBytes = 1 << 20;

// A read transaction: every query inside sees one snapshot of the database.
class ReadSnapshot {
 public:
  explicit ReadSnapshot(Connection& conn) : conn_(conn) { conn_.db().exec("BEGIN"); }
  ~ReadSnapshot() {
    conn_.ResetAll();
    try {
      if (sqlite3_get_autocommit(conn_.db().getHandle()) == 0) conn_.db().exec("COMMIT");
    } catch (...) {
      // A read transaction has nothing to lose.
    }
  }

 private:
  Connection& conn_;
};

// Appends to (or creates) a file with large writes.
class Appender {
 public:
  Appender(const fs::path& path, bool truncate) : path_(path) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (truncate ? O_TRUNC : O_APPEND), 0644);
    if (fd_ < 0) ThrowIo("cannot write", path, errno);
  }
  ~Appender() {
    if (fd_ >= 0) ::close(fd_);
  }
  void Add(std::string_view line) {
    buf_.append(line);
    buf_.push_back('\n');
    if (buf_.size() >= kFlushBytes) Flush();
  }
  void Flush() {
    size_t done = 0;
    while (done < buf_.size()) {
      const ssize_t n = ::write(fd_, buf_.data() + done, buf_.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        ThrowIo("cannot write", path_, errno);
      }
      done += static_cast<size_t>(n);
    }
    buf_.clear();
  }
  void Close() {
    Flush();
    if (::close(fd_) != 0) {
      fd_ = -1;
      ThrowIo("cannot write", path_, errno);
    }
    fd_ = -1;
  }

 private:
  fs::path path_;
  int fd_ = -1;
  std::string buf_;
};

int64_t FileSize(const fs::path& p) {
  struct stat st;
  if (::stat(p.c_str(), &st) != 0) return -1;
  return st.st_size;
}

// "<a> <b> [<boot>]" from a small sidecar file; nullopt when missing or malformed.
std::optional<std::pair<int64_t, int64_t>> ReadMark(const fs::path& p, std::string* boot = nullptr) {
  auto text = ReadFileIfExists(p);
  if (!text) return std::nullopt;
  long long a = 0, b = 0;
  char id[64] = "";
  if (std::sscanf(text->c_str(), "%lld %lld %63s", &a, &b, id) < 2) return std::nullopt;
  if (boot != nullptr) *boot = id;
  return std::make_pair(static_cast<int64_t>(a), static_cast<int64_t>(b));
}

// Fixed width, so an in-place overwrite always replaces every byte.
void WriteMark(const fs::path& p, int64_t a, int64_t b, std::string_view boot = {}) {
  OverwriteSmallFile(p, boot.empty() ? fmt::format("{:020} {:020}\n", a, b)
                                     : fmt::format("{:020} {:020} {}\n", a, b, boot));
}

// This boot of the machine (a UUID on Linux, empty elsewhere). Mirror files
// are not synced: a power loss can take their last writes, so a mark written
// in an earlier boot does not vouch for them.
const std::string& BootId() {
  static const std::string id = [] {
    std::string text;
    try {
      text = ReadFileIfExists("/proc/sys/kernel/random/boot_id").value_or("");
    } catch (const std::exception&) {
    }
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return text;
  }();
  return id;
}

void RemoveTree(const fs::path& p) {
  std::error_code ec;
  fs::remove_all(p, ec);
  if (ec) ThrowIo("cannot remove", p, ec.value());
}

// True when the file's bytes equal `content`.
bool SameContent(const fs::path& p, std::string_view content) {
  if (FileSize(p) != static_cast<int64_t>(content.size())) return false;
  auto text = ReadFileIfExists(p);
  return text && *text == content;
}

}  // namespace

Mirror::Mirror(Connection& conn, const RepositoryLocation& location, const StorageConfig& config)
    : conn_(conn), loc_(location), config_(config) {}

fs::path Mirror::EventsFile(const std::string& job_id) const {
  return loc_.dir / "events" / EncodeFileName(job_id) / "events.jsonl";
}
fs::path Mirror::DlqItemFile(const std::string& job_id, const std::string& item_id) const {
  return loc_.dir / "dlq" / EncodeFileName(job_id) / "items" / (EncodeFileName(item_id) + ".json");
}
fs::path Mirror::DlqIndexFile(const std::string& job_id) const {
  return loc_.dir / "dlq" / EncodeFileName(job_id) / "index.json";
}
fs::path Mirror::StateDir(const std::string& job_id) const {
  return loc_.dir / "state" / EncodeFileName(job_id);
}
fs::path Mirror::SessionFile(const std::string& session_id) const {
  return loc_.dir / "sessions" / (EncodeFileName(session_id) + ".json");
}
fs::path Mirror::CheckpointFile(const std::string& workflow_id) const {
  return loc_.dir / "checkpoints" / (EncodeFileName(workflow_id) + ".checkpoint.json");
}

int64_t Mirror::DatabaseId() {
  if (!database_id_) {
    SQLite::Statement& q = conn_.Prepare("SELECT value FROM meta WHERE key = 'database_id'");
    database_id_ = q.executeStep() ? q.getColumn(0).getInt64() : 0;
    q.reset();
  }
  return *database_id_;
}

FileLock& Mirror::Lock() {
  if (!lock_) lock_ = std::make_unique<FileLock>(loc_.dir / ".mirror.lock");
  return *lock_;
}

void Mirror::Sync() noexcept {
  if (!config_.mirrors) return;
  try {
    FileLockGuard guard(Lock());
    conn_.Read([&] { SyncLocked(); });
  } catch (const std::exception& e) {
    Log().warn("mirror files under {} are behind the database: {}; the next write or "
               "'prodigy-store check --repair' brings them up to date",
               loc_.dir.string(), e.what());
  }
}

void Mirror::SyncLocked() {
  const fs::path mark_path = loc_.dir / ".mirror-mark";
  std::string mark_boot;
  auto mark_pair = ReadMark(mark_path, &mark_boot);
  int64_t min_seq = 0, max_seq = 0;
  {
    ReadSnapshot snap(conn_);
    const int64_t db_id = DatabaseId();
    // A mark written for another database file (deleted and created anew)
    // says nothing about this one's files.
    const bool foreign_mark = mark_pair && mark_pair->second != db_id;
    if (foreign_mark) mark_pair.reset();
    const int64_t mark = mark_pair ? mark_pair->first : 0;
    SQLite::Statement& range = conn_.Prepare(
        // Two subqueries: SQLite answers a lone min() or max() from the index, both at once by a scan.
        "SELECT (SELECT min(seq) FROM mirror_changes), (SELECT max(seq) FROM mirror_changes)");
    if (!range.executeStep() || range.getColumn(1).isNull()) return;  // nothing ever changed
    min_seq = range.getColumn(0).getInt64();
    max_seq = range.getColumn(1).getInt64();
    range.reset();
    // The files may hold less than the mark says. When the database went back
    // (a power loss undid its last commits with synchronous = normal, or an
    // older copy was put back) they hold changes it no longer has: rewrite
    // them all. When the mark was written before an OS restart, the files'
    // last writes may have been lost with the power although the mark was
    // not: check them all.
    const bool went_back = mark_pair && max_seq < mark;
    const bool earlier_boot = mark_pair && !mark_boot.empty() && mark_boot != BootId();
    if (max_seq == mark && mark_pair && !earlier_boot) return;

    bool full = foreign_mark || min_seq > mark + 1 || went_back;  // or changes were pruned before being mirrored
    struct Pending {
      std::set<std::string> events, events_rewrite, state, sessions, checkpoints, dlq_whole;
      std::map<std::string, std::set<std::string>> dlq_items;
    } p;
    if (!full) {
      SQLite::Statement& q = conn_.Prepare(
          "SELECT DISTINCT kind, key1, key2 FROM mirror_changes WHERE seq > ?1 AND seq <= ?2");
      q.bind(1, static_cast<int64_t>(mark));
      q.bind(2, static_cast<int64_t>(max_seq));
      while (q.executeStep()) {
        const std::string kind = q.getColumn(0).getString();
        const std::string key1 = q.getColumn(1).getString();
        if (kind == kChangeEvents) p.events.insert(key1);
        else if (kind == kChangeEventsRewrite) p.events_rewrite.insert(key1);
        else if (kind == kChangeState) p.state.insert(key1);
        else if (kind == kChangeSession) p.sessions.insert(key1);
        else if (kind == kChangeCheckpoint) p.checkpoints.insert(key1);
        else if (kind == kChangeDlq && q.getColumn(2).isNull()) p.dlq_whole.insert(key1);
        else if (kind == kChangeDlq) p.dlq_items[key1].insert(q.getColumn(2).getString());
        else full = true;  // a "gap" row, or a kind this binary does not know
      }
    }
    if (full || earlier_boot) {
      Log().debug("{}: {} all mirror files", loc_.dir.string(), full ? "regenerating" : "checking");
      // A check keeps event logs whose length matches their own mark, appending what is missing.
      std::set<std::string>& logs = full ? p.events_rewrite : p.events;
      SQLite::Statement& jobs = conn_.Prepare("SELECT DISTINCT job_id FROM events");
      while (jobs.executeStep()) logs.insert(jobs.getColumn(0).getString());
      SQLite::Statement& dlq = conn_.Prepare("SELECT DISTINCT job_id FROM dlq_items");
      while (dlq.executeStep()) p.dlq_whole.insert(dlq.getColumn(0).getString());
      SQLite::Statement& st = conn_.Prepare("SELECT DISTINCT job_id FROM job_states");
      while (st.executeStep()) p.state.insert(st.getColumn(0).getString());
      SQLite::Statement& ss = conn_.Prepare("SELECT session_id FROM sessions");
      while (ss.executeStep()) p.sessions.insert(ss.getColumn(0).getString());
      SQLite::Statement& cp = conn_.Prepare("SELECT workflow_id FROM workflow_checkpoints");
      while (cp.executeStep()) p.checkpoints.insert(cp.getColumn(0).getString());
    }
    for (const auto& job : p.events_rewrite) SyncEvents(job, true);
    for (const auto& job : p.events) {
      if (!p.events_rewrite.count(job)) SyncEvents(job, false);
    }
    for (const auto& job : p.dlq_whole) SyncDlqJob(job);
    for (const auto& [job, items] : p.dlq_items) {
      if (p.dlq_whole.count(job)) continue;
      for (const auto& item : items) SyncDlqItem(job, item);
      WriteDlqIndex(job);
    }
    for (const auto& job : p.state) SyncState(job);
    for (const auto& id : p.sessions) SyncSession(id);
    for (const auto& id : p.checkpoints) SyncCheckpoint(id);
    if (full) RemoveStrays();
  }
  WriteMark(mark_path, max_seq, DatabaseId(), BootId());
  // Keep the change log short; the newest row stays so the sequence is known.
  if (max_seq - min_seq > 256 && sqlite3_get_autocommit(conn_.db().getHandle()) != 0) {
    conn_.Write([&](WriteTxn& txn) {
      SQLite::Statement& d = txn.Prepare("DELETE FROM mirror_changes WHERE seq < ?1");
      d.bind(1, static_cast<int64_t>(max_seq));
      d.exec();
    });
  }
}

void Mirror::SyncEvents(const std::string& job_id, bool rewrite) {
  const fs::path file = EventsFile(job_id);
  const fs::path mark_path = file.parent_path() / ".mirror-mark";
  const auto mark = rewrite ? std::nullopt : ReadMark(mark_path);
  if (!mark || FileSize(file) != mark->second) {
    RewriteEvents(job_id);
    return;
  }
  SQLite::Statement& q =
      conn_.Prepare("SELECT seq, json FROM events WHERE job_id = ?1 AND seq > ?2 ORDER BY seq");
  q.bind(1, job_id);
  q.bind(2, static_cast<int64_t>(mark->first));
  int64_t last = mark->first;
  std::optional<Appender> out;
  while (q.executeStep()) {
    if (!out) out.emplace(file, false);
    last = q.getColumn(0).getInt64();
    const SQLite::Column json = q.getColumn(1);
    out->Add(std::string_view(json.getText(), static_cast<size_t>(json.getBytes())));
  }
  if (!out) return;
  out->Close();
  WriteMark(mark_path, last, FileSize(file));
}

void Mirror::RewriteEvents(const std::string& job_id) {
  const fs::path file = EventsFile(job_id);
  const fs::path dir = file.parent_path();
  SQLite::Statement& q = conn_.Prepare("SELECT seq, json FROM events WHERE job_id = ?1 ORDER BY seq");
  q.bind(1, job_id);
  int64_t last = 0;
  std::optional<Appender> out;
  const fs::path tmp = dir / fmt::format(".events.jsonl.tmp.{}", ::getpid());
  while (q.executeStep()) {
    if (!out) {
      EnsureDir(dir, 0755);
      out.emplace(tmp, true);
    }
    last = q.getColumn(0).getInt64();
    const SQLite::Column json = q.getColumn(1);
    out->Add(std::string_view(json.getText(), static_cast<size_t>(json.getBytes())));
  }
  if (!out) {
    RemoveTree(dir);  // the job has no events left
    return;
  }
  out->Close();
  if (::rename(tmp.c_str(), file.c_str()) != 0) ThrowIo("cannot replace", file, errno);
  WriteMark(dir / ".mirror-mark", last, FileSize(file));
}

std::string Mirror::ExpectedDlqIndex(const std::string& job_id) {
  SQLite::Statement& q =
      conn_.Prepare("SELECT item_id, updated_at FROM dlq_items WHERE job_id = ?1 ORDER BY item_id");
  q.bind(1, job_id);
  Json ids = Json::array();
  std::string updated;
  while (q.executeStep()) {
    ids.push_back(q.getColumn(0).getString());
    const std::string u = q.getColumn(1).getString();
    if (u > updated) updated = u;
  }
  if (ids.empty()) return {};
  // Prodigy builds index.json with json!, so its keys come out sorted.
  Json index;
  index["item_count"] = ids.size();
  index["item_ids"] = std::move(ids);
  index["job_id"] = job_id;
  index["updated_at"] = updated;
  return index.dump(2);
}

void Mirror::WriteDlqIndex(const std::string& job_id) {
  const std::string index = ExpectedDlqIndex(job_id);
  const fs::path file = DlqIndexFile(job_id);
  if (index.empty()) {
    RemoveTree(file.parent_path());
    return;
  }
  EnsureDir(file.parent_path(), 0755);
  AtomicWriteFile(file, index);
}

void Mirror::SyncDlqItem(const std::string& job_id, const std::string& item_id) {
  SQLite::Statement& q = conn_.Prepare("SELECT json FROM dlq_items WHERE job_id = ?1 AND item_id = ?2");
  q.bind(1, job_id);
  q.bind(2, item_id);
  const fs::path file = DlqItemFile(job_id, item_id);
  if (q.executeStep()) {
    EnsureDir(file.parent_path(), 0755);
    AtomicWriteFile(file, q.getColumn(0).getString());
  } else {
    RemoveFileIfExists(file);
  }
}

void Mirror::SyncDlqJob(const std::string& job_id) {
  const fs::path dir = DlqIndexFile(job_id).parent_path();
  std::set<std::string> expected;
  SQLite::Statement& q = conn_.Prepare("SELECT item_id, json FROM dlq_items WHERE job_id = ?1");
  q.bind(1, job_id);
  while (q.executeStep()) {
    const fs::path file = DlqItemFile(job_id, q.getColumn(0).getString());
    const std::string json = q.getColumn(1).getString();
    expected.insert(file.filename().string());
    if (!SameContent(file, json)) {
      EnsureDir(file.parent_path(), 0755);
      AtomicWriteFile(file, json);
    }
  }
  std::error_code ec;
  if (fs::is_directory(dir / "items", ec)) {
    for (const auto& entry : fs::directory_iterator(dir / "items", ec)) {
      if (!expected.count(entry.path().filename().string())) RemoveTree(entry.path());
    }
  }
  WriteDlqIndex(job_id);
}

std::string Mirror::ExpectedStateMetadata(const JobState& latest) {
  // Prodigy's CheckpointInfo: the absolute path of the newest checkpoint.
  Json meta;
  meta["path"] = (StateDir(latest.job_id) / fmt::format("checkpoint-v{}.json", latest.version)).string();
  meta["version"] = latest.version;
  meta["created_at"] = latest.written_at;
  meta["size_bytes"] = latest.json.size();
  return meta.dump(2);
}

void Mirror::SyncState(const std::string& job_id) {
  const fs::path dir = StateDir(job_id);
  static const std::string sql = fmt::format(
      "SELECT {} FROM job_states WHERE job_id = ?1 ORDER BY version DESC", kStateColumns);
  SQLite::Statement& q = conn_.Prepare(sql.c_str());
  q.bind(1, job_id);
  std::set<std::string> expected{"metadata.json"};
  std::optional<JobState> latest;
  while (q.executeStep()) {
    JobState s = ReadStateRow(q);
    const std::string name = fmt::format("checkpoint-v{}.json", s.version);
    expected.insert(name);
    EnsureDir(dir, 0755);
    if (!SameContent(dir / name, s.json)) AtomicWriteFile(dir / name, s.json);
    if (!latest) latest = std::move(s);
  }
  if (!latest) {
    RemoveTree(dir);
    return;
  }
  AtomicWriteFile(dir / "metadata.json", ExpectedStateMetadata(*latest));
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!expected.count(name) && !name.starts_with(".")) RemoveTree(entry.path());
  }
}

void Mirror::SyncSession(const std::string& session_id) {
  SQLite::Statement& q = conn_.Prepare("SELECT json FROM sessions WHERE session_id = ?1");
  q.bind(1, session_id);
  const fs::path file = SessionFile(session_id);
  if (q.executeStep()) {
    EnsureDir(file.parent_path(), 0755);
    AtomicWriteFile(file, q.getColumn(0).getString());
  } else {
    RemoveFileIfExists(file);
  }
}

void Mirror::SyncCheckpoint(const std::string& workflow_id) {
  SQLite::Statement& q = conn_.Prepare("SELECT json FROM workflow_checkpoints WHERE workflow_id = ?1");
  q.bind(1, workflow_id);
  const fs::path file = CheckpointFile(workflow_id);
  if (q.executeStep()) {
    EnsureDir(file.parent_path(), 0755);
    AtomicWriteFile(file, q.getColumn(0).getString());
  } else {
    RemoveFileIfExists(file);
  }
}

void Mirror::RemoveStrays() {
  // Top-level folders and files of each mirror kind that no row accounts for.
  auto keys = [&](const char* sql, auto to_name) {
    std::set<std::string> names;
    SQLite::Statement& q = conn_.Prepare(sql);
    while (q.executeStep()) names.insert(to_name(q.getColumn(0).getString()));
    return names;
  };
  auto enc = [](const std::string& id) { return EncodeFileName(id); };
  const std::pair<const char*, std::set<std::string>> kinds[] = {
      {"events", keys("SELECT DISTINCT job_id FROM events", enc)},
      {"dlq", keys("SELECT DISTINCT job_id FROM dlq_items", enc)},
      {"state", keys("SELECT DISTINCT job_id FROM job_states", enc)},
      {"sessions", keys("SELECT session_id FROM sessions",
                        [](const std::string& id) { return EncodeFileName(id) + ".json"; })},
      {"checkpoints", keys("SELECT workflow_id FROM workflow_checkpoints",
                           [](const std::string& id) { return EncodeFileName(id) + ".checkpoint.json"; })},
  };
  for (const auto& [kind, names] : kinds) {
    const fs::path dir = loc_.dir / kind;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (!names.count(entry.path().filename().string())) RemoveTree(entry.path());
    }
  }
}

void Mirror::RegenerateAll() {
  if (!config_.mirrors) {
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("mirror files are switched off for {} (mirrors = false in the "
                            "configuration); switch them on to regenerate them",
                            loc_.dir.string()));
  }
  FileLockGuard guard(Lock());
  conn_.Read([&] {
    RemoveFileIfExists(loc_.dir / ".mirror-mark");
    // Without a mark every change counts as unmirrored; a gap forces a full pass.
    conn_.Write([&](WriteTxn& txn) { LogChange(txn, "gap", ""); });
    SyncLocked();
  });
}

void Mirror::CollapseChangeLog() {
  conn_.Write([&](WriteTxn& txn) {
    LogChange(txn, "gap", "");
    SQLite::Statement& d = txn.Prepare("DELETE FROM mirror_changes WHERE seq < last_insert_rowid()");
    d.exec();
  });
}

std::vector<MirrorProblem> Mirror::Check() {
  std::vector<MirrorProblem> problems;
  if (!config_.mirrors) return problems;
  FileLockGuard guard(Lock());
  return conn_.Read([&] {
    ReadSnapshot snap(conn_);
    std::set<std::string> expected;  // every mirror file the database accounts for
    auto check_file = [&](const fs::path& file, std::string_view content) {
      expected.insert(file.string());
      if (FileSize(file) < 0) problems.push_back({file.string(), "missing"});
      else if (!SameContent(file, content)) problems.push_back({file.string(), "differs from the database"});
    };

    // Event logs: compared as a stream, never loaded whole.
    std::vector<std::string> jobs;
    {
      SQLite::Statement& q = conn_.Prepare("SELECT DISTINCT job_id FROM events");
      while (q.executeStep()) jobs.push_back(q.getColumn(0).getString());
    }
    for (const auto& job : jobs) {
      const fs::path file = EventsFile(job);
      expected.insert(file.string());
      std::ifstream in(file, std::ios::binary);
      if (!in) {
        problems.push_back({file.string(), "missing"});
        continue;
      }
      SQLite::Statement& q = conn_.Prepare("SELECT json FROM events WHERE job_id = ?1 ORDER BY seq");
      q.bind(1, job);
      bool same = true;
      std::string line;
      while (same && q.executeStep()) {
        const SQLite::Column c = q.getColumn(0);
        if (!std::getline(in, line) || in.eof() ||
            line != std::string_view(c.getText(), static_cast<size_t>(c.getBytes()))) {
          same = false;
        }
      }
      q.reset();
      if (same && in.peek() != std::char_traits<char>::eof()) same = false;
      if (!same) problems.push_back({file.string(), "differs from the database"});
    }

    {
      SQLite::Statement& q = conn_.Prepare("SELECT job_id, item_id, json FROM dlq_items ORDER BY job_id");
      std::set<std::string> dlq_jobs;
      while (q.executeStep()) {
        const std::string job = q.getColumn(0).getString();
        check_file(DlqItemFile(job, q.getColumn(1).getString()), q.getColumn(2).getString());
        dlq_jobs.insert(job);
      }
      for (const auto& job : dlq_jobs) check_file(DlqIndexFile(job), ExpectedDlqIndex(job));
    }
    {
      static const std::string sql =
          fmt::format("SELECT {} FROM job_states ORDER BY job_id, version DESC", kStateColumns);
      SQLite::Statement& q = conn_.Prepare(sql.c_str());
      std::string current;
      while (q.executeStep()) {
        JobState s = ReadStateRow(q);
        if (s.job_id != current) {
          current = s.job_id;
          check_file(StateDir(s.job_id) / "metadata.json", ExpectedStateMetadata(s));
        }
        check_file(StateDir(s.job_id) / fmt::format("checkpoint-v{}.json", s.version), s.json);
      }
    }
    {
      SQLite::Statement& q = conn_.Prepare("SELECT session_id, json FROM sessions");
      while (q.executeStep()) check_file(SessionFile(q.getColumn(0).getString()), q.getColumn(1).getString());
    }
    {
      SQLite::Statement& q = conn_.Prepare("SELECT workflow_id, json FROM workflow_checkpoints");
      while (q.executeStep()) {
        check_file(CheckpointFile(q.getColumn(0).getString()), q.getColumn(1).getString());
      }
    }
    // Files nobody wrote (dot files are the mirror's own bookkeeping).
    for (const char* kind : {"events", "dlq", "state", "sessions", "checkpoints"}) {
      const fs::path dir = loc_.dir / kind;
      std::error_code ec;
      if (!fs::is_directory(dir, ec)) continue;
      for (auto it = fs::recursive_directory_iterator(dir, ec); it != fs::recursive_directory_iterator();
           it.increment(ec)) {
        if (ec) break;
        const std::string name = it->path().filename().string();
        if (name.starts_with(".")) continue;
        if (it->is_regular_file(ec) && !expected.count(it->path().string())) {
          problems.push_back({it->path().string(), "unexpected file (no row in the database)"});
        }
      }
    }
    return problems;
  });
}

}  // namespace prodigy::internal
