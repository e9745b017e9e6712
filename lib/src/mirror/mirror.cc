#include "mirror/mirror.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <fstream>
#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "prodigy/error.h"
#include "store/rows.h"
#include "util/fs.h"
#include "util/log.h"

namespace prodigy::internal {
namespace {

using Json = nlohmann::ordered_json;
namespace fs = std::filesystem;

constexpr size_t kFlushBytes = 1 << 20;

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
  OverwriteSmallFile(
      p, boot.empty() ? fmt::format("{:020} {:020}\n", a, b) : fmt::format("{:020} {:020} {}\n", a, b, boot));
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

// The kind mirrored as one file per row whose change-log kind is `change`.
const DocumentKind* FileKind(const std::vector<const DocumentKind*>& kinds, std::string_view change) {
  for (const DocumentKind* k : kinds) {
    if (!k->file_suffix.empty() && k->change == change) return k;
  }
  return nullptr;
}

}  // namespace

Mirror::Mirror(engine::Engine& engine, const RepositoryLocation& location, const StorageConfig& config,
               std::span<const DocumentKind* const> kinds)
    : engine_(engine), loc_(location), config_(config), kinds_(kinds.begin(), kinds.end()) {}

fs::path Mirror::EventsFile(const std::string& job_id) const {
  return loc_.dir / kEventKind.folder / EncodeFileName(job_id) / "events.jsonl";
}
fs::path Mirror::DlqItemFile(const std::string& job_id, const std::string& item_id) const {
  return loc_.dir / kDlqItemKind.folder / EncodeFileName(job_id) / "items" /
         (EncodeFileName(item_id) + ".json");
}
fs::path Mirror::DlqIndexFile(const std::string& job_id) const {
  return loc_.dir / kDlqItemKind.folder / EncodeFileName(job_id) / "index.json";
}
fs::path Mirror::StateDir(const std::string& job_id) const {
  return loc_.dir / kJobStateKind.folder / EncodeFileName(job_id);
}
fs::path Mirror::DocumentFile(const DocumentKind& kind, const std::string& id) const {
  return loc_.dir / kind.folder / (EncodeFileName(id) + std::string(kind.file_suffix));
}

int64_t Mirror::DatabaseId(engine::ReadTxn& txn) {
  if (!database_id_) {
    const std::string text = txn.Meta("database_id").value_or("0");
    int64_t id = 0;
    std::from_chars(text.data(), text.data() + text.size(), id);
    database_id_ = id;
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
    std::lock_guard lock(mu_);
    FileLockGuard guard(Lock());
    SyncLocked();
  } catch (const std::exception& e) {
    Log().warn(
        "mirror files under {} are behind the database: {}; the next write or "
        "'prodigy-store check --repair' brings them up to date",
        loc_.dir.string(), e.what());
  }
}

void Mirror::SyncLocked(bool full_requested) {
  const fs::path mark_path = loc_.dir / ".mirror-mark";
  std::string mark_boot;
  auto mark_pair = ReadMark(mark_path, &mark_boot);
  int64_t min_seq = 0, max_seq = 0;
  bool done = false;
  bool went_back = false;
  bool earlier_boot = false;
  int64_t db_id = 0;
  engine_.Snapshot([&](engine::ReadTxn& txn) {
    db_id = DatabaseId(txn);
    // A mark written for another database file (deleted and created anew)
    // says nothing about this one's files.
    const bool foreign_mark = mark_pair && mark_pair->second != db_id;
    if (foreign_mark) mark_pair.reset();
    const int64_t mark = mark_pair ? mark_pair->first : 0;
    const auto range = txn.ChangeRange();
    if (!range && !full_requested) {  // nothing ever changed
      done = true;
      return;
    }
    min_seq = range ? range->first : 0;
    max_seq = range ? range->second : 0;
    // The files may hold less than the mark says. When the database went back
    // (a power loss undid its last commits with synchronous = normal, or an
    // older copy was put back) they hold changes it no longer has: rewrite
    // them all. When the mark was written before an OS restart, the files'
    // last writes may have been lost with the power although the mark was
    // not: check them all.
    went_back = mark_pair && max_seq < mark;
    earlier_boot = mark_pair && !mark_boot.empty() && mark_boot != BootId();
    if (max_seq == mark && mark_pair && !earlier_boot && !full_requested) {
      done = true;
      return;
    }

    bool full = full_requested || foreign_mark || min_seq > mark + 1 ||
                went_back;  // or changes were pruned before being mirrored
    struct Pending {
      std::set<std::string> events, events_rewrite, state, dlq_whole;
      std::map<std::string, std::set<std::string>> dlq_items;
      std::map<const DocumentKind*, std::set<std::string>> documents;  // one file per row
    } p;
    if (!full) {
      txn.Changes(mark, max_seq, [&](const engine::Change& c) {
        if (c.kind == kChangeEvents)
          p.events.insert(c.key1);
        else if (c.kind == kChangeEventsRewrite)
          p.events_rewrite.insert(c.key1);
        else if (c.kind == kChangeState)
          p.state.insert(c.key1);
        else if (c.kind == kChangeDlq && !c.key2)
          p.dlq_whole.insert(c.key1);
        else if (c.kind == kChangeDlq)
          p.dlq_items[c.key1].insert(*c.key2);
        else if (const DocumentKind* k = FileKind(kinds_, c.kind))
          p.documents[k].insert(c.key1);
        else
          full = true;  // a "gap" row, or a kind this binary does not know
      });
    }
    if (full || earlier_boot) {
      Log().debug("{}: {} all mirror files", loc_.dir.string(), full ? "regenerating" : "checking");
      // A check keeps event logs whose length matches their own mark, appending what is missing.
      std::set<std::string>& logs = full ? p.events_rewrite : p.events;
      for (const auto& job : txn.Groups(*kEventKind.table)) logs.insert(job);
      for (const auto& job : txn.Groups(*kDlqItemKind.table)) p.dlq_whole.insert(job);
      for (const auto& job : txn.Groups(*kJobStateKind.table)) p.state.insert(job);
      for (const DocumentKind* k : kinds_) {
        if (k->file_suffix.empty()) continue;
        for (const auto& id : txn.Groups(*k->table)) p.documents[k].insert(id);
      }
    }
    for (const auto& job : p.events_rewrite) SyncEvents(txn, job, true);
    for (const auto& job : p.events) {
      if (!p.events_rewrite.count(job)) SyncEvents(txn, job, false);
    }
    for (const auto& job : p.dlq_whole) SyncDlqJob(txn, job);
    for (const auto& [job, items] : p.dlq_items) {
      if (p.dlq_whole.count(job)) continue;
      for (const auto& item : items) SyncDlqItem(txn, job, item);
      WriteDlqIndex(txn, job);
    }
    for (const auto& job : p.state) SyncState(txn, job);
    for (const auto& [kind, ids] : p.documents) {
      for (const auto& id : ids) SyncDocument(txn, *kind, id);
    }
    if (full) RemoveStrays(txn);
  });
  if (done) return;
  WriteMark(mark_path, max_seq, db_id, BootId());
  // Keep the change log short; the newest row stays so the sequence is known.
  if (max_seq - min_seq > 256) {
    engine_.Write([&](engine::WriteTxn& txn) { txn.PruneChanges(max_seq); });
  }
}

void Mirror::SyncEvents(engine::ReadTxn& txn, const std::string& job_id, bool rewrite) {
  const fs::path file = EventsFile(job_id);
  const fs::path mark_path = file.parent_path() / ".mirror-mark";
  const auto mark = rewrite ? std::nullopt : ReadMark(mark_path);
  if (!mark || FileSize(file) != mark->second) {
    RewriteEvents(txn, job_id);
    return;
  }
  int64_t last = mark->first;
  std::optional<Appender> out;
  txn.EventLog(job_id, mark->first, [&](int64_t seq, std::string_view json) {
    if (!out) out.emplace(file, false);
    last = seq;
    out->Add(json);
    return true;
  });
  if (!out) return;
  out->Close();
  WriteMark(mark_path, last, FileSize(file));
}

void Mirror::RewriteEvents(engine::ReadTxn& txn, const std::string& job_id) {
  const fs::path file = EventsFile(job_id);
  const fs::path dir = file.parent_path();
  int64_t last = 0;
  std::optional<Appender> out;
  const fs::path tmp = dir / fmt::format(".events.jsonl.tmp.{}", ::getpid());
  txn.EventLog(job_id, 0, [&](int64_t seq, std::string_view json) {
    if (!out) {
      EnsureDir(dir, 0755);
      out.emplace(tmp, true);
    }
    last = seq;
    out->Add(json);
    return true;
  });
  if (!out) {
    RemoveTree(dir);  // the job has no events left
    return;
  }
  out->Close();
  if (::rename(tmp.c_str(), file.c_str()) != 0) ThrowIo("cannot replace", file, errno);
  WriteMark(dir / ".mirror-mark", last, FileSize(file));
}

std::string Mirror::ExpectedDlqIndex(engine::ReadTxn& txn, const std::string& job_id) {
  Json ids = Json::array();
  std::string updated;
  const engine::Value prefix[] = {std::string_view(job_id)};
  txn.Scan(*kDlqItemKind.table, prefix, false, [&](const engine::RowView& row) {
    const DlqItem d = engine::tables::kDlqCodec.Read(row);
    ids.push_back(d.item_id);
    if (d.updated_at > updated) updated = d.updated_at;
    return true;
  });
  if (ids.empty()) return {};
  // Prodigy builds index.json with json!, so its keys come out sorted.
  Json index;
  index["item_count"] = ids.size();
  index["item_ids"] = std::move(ids);
  index["job_id"] = job_id;
  index["updated_at"] = updated;
  return index.dump(2);
}

void Mirror::WriteDlqIndex(engine::ReadTxn& txn, const std::string& job_id) {
  const std::string index = ExpectedDlqIndex(txn, job_id);
  const fs::path file = DlqIndexFile(job_id);
  if (index.empty()) {
    RemoveTree(file.parent_path());
    return;
  }
  EnsureDir(file.parent_path(), 0755);
  AtomicWriteFile(file, index);
}

void Mirror::SyncDlqItem(engine::ReadTxn& txn, const std::string& job_id, const std::string& item_id) {
  const engine::Value key[] = {std::string_view(job_id), std::string_view(item_id)};
  const fs::path file = DlqItemFile(job_id, item_id);
  if (const std::optional<DlqItem> d = GetRow<DlqItem>(txn, key)) {
    EnsureDir(file.parent_path(), 0755);
    AtomicWriteFile(file, d->json);
  } else {
    RemoveFileIfExists(file);
  }
}

void Mirror::SyncDlqJob(engine::ReadTxn& txn, const std::string& job_id) {
  const fs::path dir = DlqIndexFile(job_id).parent_path();
  std::set<std::string> expected;
  std::vector<DlqItem> items;
  const engine::Value prefix[] = {std::string_view(job_id)};
  txn.Scan(*kDlqItemKind.table, prefix, false, CollectInto(&items));
  for (const DlqItem& d : items) {
    const fs::path file = DlqItemFile(job_id, d.item_id);
    expected.insert(file.filename().string());
    if (!SameContent(file, d.json)) {
      EnsureDir(file.parent_path(), 0755);
      AtomicWriteFile(file, d.json);
    }
  }
  std::error_code ec;
  if (fs::is_directory(dir / "items", ec)) {
    for (const auto& entry : fs::directory_iterator(dir / "items", ec)) {
      if (!expected.count(entry.path().filename().string())) RemoveTree(entry.path());
    }
  }
  WriteDlqIndex(txn, job_id);
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

void Mirror::SyncState(engine::ReadTxn& txn, const std::string& job_id) {
  const fs::path dir = StateDir(job_id);
  std::vector<JobState> versions;  // newest first
  const engine::Value prefix[] = {std::string_view(job_id)};
  txn.Scan(*kJobStateKind.table, prefix, true, CollectInto(&versions));
  if (versions.empty()) {
    RemoveTree(dir);
    return;
  }
  std::set<std::string> expected{"metadata.json"};
  EnsureDir(dir, 0755);
  for (const JobState& s : versions) {
    const std::string name = fmt::format("checkpoint-v{}.json", s.version);
    expected.insert(name);
    if (!SameContent(dir / name, s.json)) AtomicWriteFile(dir / name, s.json);
  }
  AtomicWriteFile(dir / "metadata.json", ExpectedStateMetadata(versions.front()));
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!expected.count(name) && !name.starts_with(".")) RemoveTree(entry.path());
  }
}

void Mirror::SyncDocument(engine::ReadTxn& txn, const DocumentKind& kind, const std::string& id) {
  const engine::Value key[] = {std::string_view(id)};
  const fs::path file = DocumentFile(kind, id);
  const size_t json = kind.table->IndexOf("json");
  std::optional<std::string> content;
  txn.Get(*kind.table, key, [&](const engine::RowView& row) {
    content = std::string(row.Text(json));
    return false;
  });
  if (content) {
    EnsureDir(file.parent_path(), 0755);
    AtomicWriteFile(file, *content);
  } else {
    RemoveFileIfExists(file);
  }
}

void Mirror::RemoveStrays(engine::ReadTxn& txn) {
  // Top-level folders and files of each mirror kind that no row accounts for.
  for (const DocumentKind* kind : kinds_) {
    std::set<std::string> names;
    for (const std::string& id : txn.Groups(*kind->table))
      names.insert(EncodeFileName(id) + std::string(kind->file_suffix));
    const fs::path dir = loc_.dir / kind->folder;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (!names.count(entry.path().filename().string())) RemoveTree(entry.path());
    }
  }
}

void Mirror::RegenerateAll() {
  if (!config_.mirrors) {
    throw Error::InvalidArgument(
        fmt::format("mirror files are switched off for {} (mirrors = false in the "
                    "configuration); switch them on to regenerate them",
                    loc_.dir.string()));
  }
  std::lock_guard lock(mu_);
  EnsureDir(loc_.dir, 0700);  // a PostgreSQL store has no local folder until its mirrors are asked for
  FileLockGuard guard(Lock());
  RemoveFileIfExists(loc_.dir / ".mirror-mark");
  // Without a mark every change counts as unmirrored; a gap forces a full pass.
  engine_.Write([&](engine::WriteTxn& txn) { txn.LogChange("gap", ""); });
  SyncLocked(/*full=*/true);
}

void Mirror::CollapseChangeLog() {
  std::lock_guard lock(mu_);
  engine_.Write([&](engine::WriteTxn& txn) { txn.CollapseChanges(); });
}

std::vector<MirrorProblem> Mirror::Check() {
  std::vector<MirrorProblem> problems;
  if (!config_.mirrors) return problems;
  std::lock_guard lock(mu_);
  FileLockGuard guard(Lock());
  engine_.Snapshot([&](engine::ReadTxn& txn) {
    std::set<std::string> expected;  // every mirror file the database accounts for
    auto check_file = [&](const fs::path& file, std::string_view content) {
      expected.insert(file.string());
      if (FileSize(file) < 0)
        problems.push_back({file.string(), "missing"});
      else if (!SameContent(file, content))
        problems.push_back({file.string(), "differs from the database"});
    };

    // Event logs: compared as a stream, never loaded whole.
    for (const auto& job : txn.Groups(*kEventKind.table)) {
      const fs::path file = EventsFile(job);
      expected.insert(file.string());
      std::ifstream in(file, std::ios::binary);
      if (!in) {
        problems.push_back({file.string(), "missing"});
        continue;
      }
      bool same = true;
      std::string line;
      txn.EventLog(job, 0, [&](int64_t, std::string_view json) {
        if (!std::getline(in, line) || in.eof() || line != json) same = false;
        return same;
      });
      if (same && in.peek() != std::char_traits<char>::eof()) same = false;
      if (!same) problems.push_back({file.string(), "differs from the database"});
    }

    {
      std::set<std::string> dlq_jobs;
      txn.Scan(*kDlqItemKind.table, {}, false, [&](const engine::RowView& row) {
        const DlqItem d = engine::tables::kDlqCodec.Read(row);
        check_file(DlqItemFile(d.job_id, d.item_id), d.json);
        dlq_jobs.insert(d.job_id);
        return true;
      });
      for (const auto& job : dlq_jobs) check_file(DlqIndexFile(job), ExpectedDlqIndex(txn, job));
    }
    for (const auto& job : txn.Groups(*kJobStateKind.table)) {
      std::vector<JobState> versions;
      const engine::Value prefix[] = {std::string_view(job)};
      txn.Scan(*kJobStateKind.table, prefix, true, CollectInto(&versions));
      if (!versions.empty())
        check_file(StateDir(job) / "metadata.json", ExpectedStateMetadata(versions.front()));
      for (const JobState& s : versions) {
        check_file(StateDir(job) / fmt::format("checkpoint-v{}.json", s.version), s.json);
      }
    }
    for (const DocumentKind* kind : kinds_) {
      if (kind->file_suffix.empty()) continue;
      const size_t json = kind->table->IndexOf("json");
      txn.Scan(*kind->table, {}, false, [&](const engine::RowView& row) {
        check_file(DocumentFile(*kind, std::string(row.Text(0))), row.Text(json));
        return true;
      });
    }
    // Files nobody wrote (dot files are the mirror's own bookkeeping).
    for (const DocumentKind* kind : kinds_) {
      const fs::path dir = loc_.dir / kind->folder;
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
  });
  return problems;
}

}  // namespace prodigy::internal
