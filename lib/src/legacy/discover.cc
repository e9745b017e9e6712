#include "legacy/discover.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>

#include <fmt/format.h>

namespace prodigy::internal::legacy {
namespace {

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}
bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

// Prodigy's temporary names: checkpoint-v3.tmp, metadata.tmp,
// session_state.tmp.<nanos>, <name>.json.tmp, <wf>.checkpoint.tmp, events-x.tmp.
bool IsTmpName(std::string_view name) {
  return EndsWith(name, ".tmp") || name.find(".tmp.") != std::string_view::npos;
}

bool IsCheckpointVersionName(std::string_view name) {
  if (!StartsWith(name, "checkpoint-v") || !EndsWith(name, ".json")) return false;
  const std::string_view digits = name.substr(12, name.size() - 12 - 5);
  // checkpoint_version is a u32 in Prodigy: at most 10 digits.
  return !digits.empty() && digits.size() <= 10 &&
         std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool IsEventFileName(std::string_view name) {
  return EndsWith(name, ".jsonl") || EndsWith(name, ".jsonl.gz") || EndsWith(name, ".jsonl.bak");
}

bool IsSessionFileName(std::string_view name) {
  return name == "session_state.json" ||
         (EndsWith(name, ".json") && (StartsWith(name, "session-") || StartsWith(name, "cook-")));
}

bool IsGzipFile(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return false;  // the import reports why it cannot be read
  unsigned char magic[2] = {0, 0};
  const ssize_t n = ::read(fd, magic, 2);
  ::close(fd);
  return n == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
}

std::vector<std::string> Components(const fs::path& p) {
  std::vector<std::string> out;
  for (const auto& c : p) {
    const std::string s = c.string();
    if (!s.empty() && s != "/") out.push_back(s);
  }
  return out;
}

struct Classified {
  Kind kind = Kind::kUnknown;
  std::string job_id;
};

// What a regular file is, from the names of its path (relative to the root's
// anchor, or absolute for user-named paths). `relaxed`: event logs and session
// files are recognized by name anywhere (for `import`).
Classified Classify(const std::vector<std::string>& c, const fs::path& path, bool relaxed) {
  const size_t n = c.size();
  const std::string& name = c[n - 1];
  const std::string parent = n >= 2 ? c[n - 2] : std::string();
  if (IsTmpName(name)) return {Kind::kOrphanTmp, {}};
  if (n >= 3 && c[n - 3] == "jobs") {
    if (name == "metadata.json") return {Kind::kJobStateMeta, parent};
    if (IsCheckpointVersionName(name)) return {Kind::kJobState, parent};
  }
  if (parent == "checkpoints" && EndsWith(name, ".checkpoint.json")) return {Kind::kWorkflowCheckpoint, {}};
  // DLQ items: <...>/dlq/<job>/items/<id>.json (the id may contain '/'), and
  // the global layout's <root>/dlq/<repo>/<job>/items/... as well as the
  // double-nested <root>/dlq/<repo>/<job>/mapreduce/dlq/<job>/items/...
  for (size_t j = 0; j + 3 < n; ++j) {
    if (c[j] != "dlq") continue;
    size_t items = 0;
    if (c[j + 2] == "items")
      items = j + 2;
    else if (j + 4 < n && c[j + 3] == "items")
      items = j + 3;
    if (items == 0) continue;
    if (EndsWith(name, ".json")) return {Kind::kDlqItem, c[items - 1]};
    return {Kind::kUnknown, {}};
  }
  if (name == "index.json" && ((n >= 3 && c[n - 3] == "dlq") || (n >= 4 && c[n - 4] == "dlq"))) {
    return {Kind::kDlqIndex, parent};
  }
  if (IsEventFileName(name)) {
    const bool under_events = std::find(c.begin(), c.end() - 1, "events") != c.end() - 1;
    if (under_events || relaxed) {
      const bool gz = EndsWith(name, ".gz") && IsGzipFile(path);
      return {gz ? Kind::kEventsArchive : Kind::kEvents, parent.empty() ? std::string("events") : parent};
    }
  }
  if (IsSessionFileName(name) && (parent == ".prodigy" || parent == ".prodigy_migrated" || relaxed)) {
    return {Kind::kSession, {}};
  }
  if (parent == ".mmm" && name == "state.json") return {Kind::kSession, {}};
  return {Kind::kUnknown, {}};
}

// Sort key within a folder: a log's rotated parts (events-A.<ts>.jsonl.gz)
// and its .bak come before the live events-A.jsonl; checkpoint versions sort
// by number.
std::string SortKey(const std::string& name) {
  if (IsCheckpointVersionName(name)) {
    return fmt::format("checkpoint-v{:020}", std::stoull(name.substr(12, name.size() - 17)));
  }
  if (!IsEventFileName(name)) return name;
  std::string base = name;
  int rank = 2;
  if (EndsWith(base, ".gz")) {
    base.resize(base.size() - 3);
    rank = 0;
  } else if (EndsWith(base, ".bak")) {
    base.resize(base.size() - 4);
    rank = 1;
  }
  base.resize(base.size() - 6);  // ".jsonl"
  std::string suffix;
  if (rank == 0) {
    // events-A.<ts> -> base events-A, rotated part <ts>
    const size_t dot = base.rfind('.');
    if (dot != std::string::npos) {
      suffix = base.substr(dot + 1);
      base.resize(dot);
    }
  }
  return fmt::format("{}\x01{}\x01{}", base, rank, suffix);
}

class Walker {
 public:
  Walker(const Root& root, size_t root_index, bool relaxed, std::vector<Source>* out)
      : root_(root), root_index_(root_index), relaxed_(relaxed), out_(out) {}

  // Adds `path` (of any type) below the root.
  void Visit(const fs::path& path) {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) {
      Add(path, st, Kind::kSpecial, {}, fmt::format("cannot stat: {}", std::strerror(errno)), true);
      return;
    }
    if (S_ISLNK(st.st_mode)) {
      std::error_code ec;
      const fs::path target = fs::read_symlink(path, ec);
      Add(path, st, Kind::kSymlink, {},
          fmt::format("symlink to {}; symlinks are not followed (import its target explicitly if it "
                      "belongs to this repository)",
                      ec ? std::string("?") : target.string()),
          false);
      return;
    }
    if (S_ISDIR(st.st_mode)) {
      VisitDir(path);
      return;
    }
    if (!S_ISREG(st.st_mode)) {
      Add(path, st, Kind::kSpecial, {}, "not a regular file (FIFO, socket or device)", false);
      return;
    }
    const auto comps = relaxed_ ? Components(path) : Components(path.lexically_relative(root_.anchor));
    Classified c = Classify(comps, path, relaxed_);
    std::string reason;
    switch (c.kind) {
      case Kind::kOrphanTmp:
        reason = "temporary file of an unfinished Prodigy write; not imported as truth";
        break;
      case Kind::kUnknown:
        reason = "not a Prodigy storage file";
        break;
      default:
        break;
    }
    Add(path, st, c.kind, c.job_id, reason, false);
  }

  void VisitDir(const fs::path& dir) {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) {
      struct stat st {};
      ::lstat(dir.c_str(), &st);
      Add(dir, st, Kind::kSpecial, {}, fmt::format("cannot list folder: {}", std::strerror(errno)), true);
      return;
    }
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    ::closedir(d);
    for (const std::string& name : names) Visit(dir / name);
  }

 private:
  void Add(const fs::path& path, const struct stat& st, Kind kind, std::string job_id, std::string reason,
           bool error) {
    Source s;
    s.path = path;
    s.anchor = root_.anchor;
    s.rel_path = path.lexically_relative(root_.anchor).string();
    s.kind = kind;
    s.job_id = std::move(job_id);
    s.stat = ToFileStat(st);
    if (error)
      s.error = std::move(reason);
    else
      s.keep_reason = std::move(reason);
    s.group = GroupOf(s.rel_path);
    s.root_index = root_index_;
    out_->push_back(std::move(s));
  }

  // ".prodigy/mapreduce/events", ".prodigy/checkpoints", "events/<repo>", ...
  std::string GroupOf(const std::string& rel) const {
    const auto comps = Components(rel);
    size_t keep = 2;
    if (root_.type == RootType::kImport)
      keep = comps.size() > 1 ? comps.size() - 1 : 1;
    else if (comps.size() > 1 && comps[1] == "mapreduce")
      keep = 3;
    keep = std::min(keep, comps.size());
    fs::path g;
    for (size_t i = 0; i < keep; ++i) g /= comps[i];
    return g.string();
  }

  const Root& root_;
  size_t root_index_;
  bool relaxed_;
  std::vector<Source>* out_;
};

bool Exists(const fs::path& p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0;
}

bool IsDirOrLink(const fs::path& p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0 && (S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode));
}

// The storage areas of a local .prodigy folder (everything else there is
// configuration or analysis output and is never touched).
constexpr const char* kLocalAreas[] = {"mapreduce", "events", "dlq", "checkpoints"};

bool LocalRootHoldsData(const fs::path& dir) {
  for (const char* area : kLocalAreas) {
    if (Exists(dir / area)) return true;
  }
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return false;
  bool found = false;
  while (dirent* e = ::readdir(d)) {
    const std::string_view name = e->d_name;
    if (IsSessionFileName(name) || StartsWith(name, "session_state.tmp.")) {
      found = true;
      break;
    }
  }
  ::closedir(d);
  return found;
}

void SortSources(std::vector<Source>* sources) {
  std::stable_sort(sources->begin(), sources->end(), [](const Source& a, const Source& b) {
    if (a.root_index != b.root_index) return a.root_index < b.root_index;
    const std::string pa = a.path.parent_path().string(), pb = b.path.parent_path().string();
    if (pa != pb) return pa < pb;
    return SortKey(a.path.filename().string()) < SortKey(b.path.filename().string());
  });
}

}  // namespace

const char* KindName(Kind kind) {
  switch (kind) {
    case Kind::kEvents:
      return "events";
    case Kind::kEventsArchive:
      return "events_archive";
    case Kind::kDlqItem:
      return "dlq_item";
    case Kind::kDlqIndex:
      return "dlq_index";
    case Kind::kJobState:
      return "job_state";
    case Kind::kJobStateMeta:
      return "job_state_meta";
    case Kind::kSession:
      return "session";
    case Kind::kWorkflowCheckpoint:
      return "workflow_checkpoint";
    case Kind::kOrphanTmp:
      return "orphan_tmp";
    case Kind::kSymlink:
      return "symlink";
    case Kind::kSpecial:
      return "special";
    case Kind::kUnknown:
      return "unknown";
  }
  return "unknown";
}

const DocumentKind* StoredKind(Kind kind) {
  switch (kind) {
    case Kind::kEvents:
    case Kind::kEventsArchive:
      return &kEventKind;
    case Kind::kDlqItem:
    case Kind::kDlqIndex:
      return &kDlqItemKind;
    case Kind::kJobState:
    case Kind::kJobStateMeta:
      return &kJobStateKind;
    case Kind::kSession:
      return &kSessionKind;
    case Kind::kWorkflowCheckpoint:
      return &kCheckpointKind;
    case Kind::kOrphanTmp:
    case Kind::kSymlink:
    case Kind::kSpecial:
    case Kind::kUnknown:
      return nullptr;
  }
  return nullptr;
}

bool IsImportable(Kind kind) {
  switch (kind) {
    case Kind::kOrphanTmp:
    case Kind::kSymlink:
    case Kind::kSpecial:
    case Kind::kUnknown:
      return false;
    default:
      return true;
  }
}

bool IsLineKind(Kind kind) { return kind == Kind::kEvents || kind == Kind::kEventsArchive; }

FileStat ToFileStat(const struct stat& st) {
  FileStat f;
  f.size = static_cast<uint64_t>(st.st_size);
  f.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  f.inode = static_cast<uint64_t>(st.st_ino);
  f.device = static_cast<uint64_t>(st.st_dev);
  return f;
}

bool StatRegular(const fs::path& path, FileStat* out) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  *out = ToFileStat(st);
  return true;
}

std::vector<Root> FindRoots(const fs::path& canonical_repo, const StorageConfig& config) {
  std::vector<Root> roots;
  for (const char* name : {".prodigy", ".prodigy_migrated"}) {
    const fs::path dir = canonical_repo / name;
    struct stat st;
    if (::lstat(dir.c_str(), &st) != 0) continue;
    if (S_ISLNK(st.st_mode) || (S_ISDIR(st.st_mode) && LocalRootHoldsData(dir))) {
      roots.push_back({dir, canonical_repo, RootType::kLocal});
    }
  }
  const fs::path mmm = canonical_repo / ".mmm";
  if (IsDirOrLink(mmm / "mapreduce") || Exists(mmm / "state.json")) {
    roots.push_back({mmm, canonical_repo, RootType::kMmm});
  }
  const std::string repo_name = canonical_repo.filename().string();
  if (!repo_name.empty() && !config.storage_dir.empty()) {
    const std::pair<const char*, RootType> global[] = {{"events", RootType::kGlobalEvents},
                                                       {"dlq", RootType::kGlobalDlq},
                                                       {"state", RootType::kGlobalState}};
    for (const auto& [area, type] : global) {
      const fs::path dir = config.storage_dir / area / repo_name;
      if (IsDirOrLink(dir)) roots.push_back({dir, config.storage_dir, type});
    }
  }
  return roots;
}

std::vector<Source> Discover(const std::vector<Root>& roots) {
  std::vector<Source> out;
  for (size_t i = 0; i < roots.size(); ++i) {
    const Root& root = roots[i];
    Walker walker(root, i, false, &out);
    struct stat st;
    if (::lstat(root.path.c_str(), &st) != 0) continue;
    if (S_ISLNK(st.st_mode) || root.type == RootType::kGlobalEvents || root.type == RootType::kGlobalDlq ||
        root.type == RootType::kGlobalState) {
      walker.Visit(root.path);
      continue;
    }
    // .prodigy/, .prodigy_migrated/, .mmm/: only the storage areas and the
    // session files at the top; configuration and the rest stay untouched.
    DIR* d = ::opendir(root.path.c_str());
    if (d == nullptr) {
      walker.Visit(root.path);
      continue;
    }
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d)) names.emplace_back(e->d_name);
    ::closedir(d);
    for (const std::string& name : names) {
      const fs::path p = root.path / name;
      if (root.type == RootType::kMmm) {
        if (name == "mapreduce" || name == "state.json") walker.Visit(p);
        continue;
      }
      const bool area = std::any_of(std::begin(kLocalAreas), std::end(kLocalAreas),
                                    [&](const char* a) { return name == a; });
      if (area || IsSessionFileName(name) || StartsWith(name, "session_state.tmp.")) walker.Visit(p);
    }
  }
  SortSources(&out);
  return out;
}

std::vector<Source> DiscoverPaths(const std::vector<fs::path>& paths) {
  std::vector<Source> out;
  std::vector<Root> roots;
  roots.reserve(paths.size());
  for (const fs::path& given : paths) {
    std::error_code ec;
    fs::path abs = fs::absolute(given, ec).lexically_normal();
    if (!abs.has_filename()) abs = abs.parent_path();
    roots.push_back({abs, abs.parent_path(), RootType::kImport});
  }
  for (size_t i = 0; i < roots.size(); ++i) {
    Walker walker(roots[i], i, true, &out);
    walker.Visit(roots[i].path);
  }
  SortSources(&out);
  return out;
}

}  // namespace prodigy::internal::legacy
