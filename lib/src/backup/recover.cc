// Recovery of a damaged database: what SQLite can still read from it, table
// by table, plus the mirror files, newest wins per document; every document
// is validated again on the way in (store/rows.h), and the new database is
// checked before it replaces the damaged one, which is kept.
#include <algorithm>
#include <climits>
#include <map>
#include <set>

#include <fmt/format.h>

#include "backup/mirror_read.h"
#include "backup/repository_swap.h"
#include "prodigy/backup.h"
#include "prodigy/error.h"
#include "sqlite/connection.h"
#include "sqlite/salvage.h"
#include "sqlite/snapshot.h"
#include "sqlite/sqlite_engine.h"
#include "store/kinds.h"
#include "store/rows.h"
#include "util/fs.h"
#include "util/log.h"

namespace prodigy {

namespace fs = std::filesystem;
using internal::SalvagedTable;
using internal::SqlValue;

namespace {

// One candidate document of a keyed kind (DLQ item, state version, session,
// workflow checkpoint).
struct Doc {
  std::string job_id;
  std::string json;
  int64_t written_ns = 0;  // database: the row's updated_at; mirror: the file's mtime
  bool from_db = false;
  std::optional<int64_t> source_id;
  std::optional<std::string> reprocess_requested_at;
  std::string updated_at;
};

struct KeyedKind {
  RecoveryKindReport report;
  std::map<std::string, Doc> docs;

  void AddFromDatabase(const std::string& key, Doc doc) {
    ++report.from_database;
    docs[key] = std::move(doc);
  }
  // Newest wins: a mirror file is written after its row's commit, so a
  // mirror copy that differs and is younger than the row is a later write
  // the damaged file lost (a lost -wal, a page of an older copy).
  void AddFromMirror(const std::string& key, Doc doc) {
    auto it = docs.find(key);
    if (it == docs.end()) {
      ++report.from_mirrors;
      docs.emplace(key, std::move(doc));
    } else if (it->second.json != doc.json && doc.written_ns > it->second.written_ns) {
      ++report.mirror_newer;
      it->second = std::move(doc);
    }
  }
};

// One event of the rebuilt log, in the order it will be inserted.
struct PlannedEvent {
  int64_t order_seq = 0;  // the old seq, or that of the job's previous known event
  int64_t order_sub = 0;  // position after that event (0: the known event itself)
  std::string job_id;
  std::string json;
  std::optional<int64_t> old_seq;
  std::optional<int64_t> source_id;
  std::optional<int64_t> line_no;
};

struct DbEvent {
  int64_t seq;
  std::string json;
  std::optional<int64_t> source_id;
  std::optional<int64_t> line_no;
};

int64_t TimeNs(const std::string& rfc3339) { return ParseTimestamp(rfc3339).value_or(0); }

// A value by column name in a salvaged row.
const SqlValue& Col(const SalvagedTable& t, const std::vector<SqlValue>& row, const char* name) {
  static const SqlValue kNull;
  for (size_t i = 0; i < t.columns.size(); ++i) {
    if (t.columns[i] == name && i < row.size()) return row[i];
  }
  return kNull;
}

std::optional<std::string> OptText(const SqlValue& v) {
  if (v.type == SqlValue::kNull) return std::nullopt;
  return v.Text();
}

// What recovery needs of each keyed document kind, once per kind: the
// columns salvaged from its table, the document's identity (validated on the
// way in, so a damaged or foreign document is rejected, never stored), and
// how a recovered document is written back.
struct RecoverableKind {
  const internal::DocumentKind* kind;
  std::vector<std::string> columns;  // salvaged from the damaged table
  const char* order;                 // the table's key, for salvaging in key order
  const char* written;               // the column with the row's write time
  std::string (*identity)(const std::string& job_id, const std::string& json);
  void (*insert)(engine::WriteTxn& txn, const Doc& doc, std::optional<int64_t> source);
};

std::string JobAnd(const std::string& job_id, const std::string& rest) { return job_id + '\x1f' + rest; }

const RecoverableKind kRecoverable[] = {
    {&internal::kDlqItemKind,
     {"job_id", "item_id", "json", "reprocess_requested_at", "updated_at", "source_id"},
     "job_id, item_id",
     "updated_at",
     [](const std::string& job, const std::string& json) {
       return JobAnd(job, internal::ExtractDlqItem(job, json).item_id);
     },
     [](engine::WriteTxn& txn, const Doc& doc, std::optional<int64_t> source) {
       DlqItem d = internal::ExtractDlqItem(doc.job_id, doc.json);
       d.reprocess_requested_at = doc.reprocess_requested_at;
       d.updated_at = doc.updated_at;
       internal::UpsertDlqItem(txn, d, source);
     }},
    {&internal::kJobStateKind,
     {"job_id", "version", "json", "written_at", "source_id"},
     "job_id, version",
     "written_at",
     [](const std::string& job, const std::string& json) {
       return JobAnd(job, std::to_string(internal::ExtractJobState(job, json).version));
     },
     [](engine::WriteTxn& txn, const Doc& doc, std::optional<int64_t> source) {
       internal::InsertJobState(txn, internal::ExtractJobState(doc.job_id, doc.json), INT_MAX, true, source);
     }},
    {&internal::kSessionKind,
     {"session_id", "json", "updated_at", "source_id"},
     "session_id",
     "updated_at",
     [](const std::string&, const std::string& json) { return internal::ExtractSession(json).session_id; },
     [](engine::WriteTxn& txn, const Doc& doc, std::optional<int64_t> source) {
       Session session = internal::ExtractSession(doc.json);
       session.updated_at = doc.updated_at;
       internal::UpsertSession(txn, session, source);
     }},
    {&internal::kCheckpointKind,
     {"workflow_id", "json", "updated_at", "source_id"},
     "workflow_id",
     "updated_at",
     [](const std::string&, const std::string& json) {
       return internal::ExtractCheckpoint(json).workflow_id;
     },
     [](engine::WriteTxn& txn, const Doc& doc, std::optional<int64_t> source) {
       WorkflowCheckpoint checkpoint = internal::ExtractCheckpoint(doc.json);
       checkpoint.updated_at = doc.updated_at;
       internal::UpsertCheckpoint(txn, checkpoint, source);
     }},
};

// The keyed kind whose mirror files a mirror file is (MirrorFile::kind is the
// kind's mirror change name); nullptr for event logs.
const RecoverableKind* RecoverableOfMirror(std::string_view mirror_kind) {
  for (const RecoverableKind& r : kRecoverable) {
    if (r.kind->change == mirror_kind) return &r;
  }
  return nullptr;
}

class Recovery {
 public:
  Recovery(const RepositoryLocation& loc, const StorageConfig& config) : loc_(loc), config_(config) {
    for (const RecoverableKind& r : kRecoverable) kinds_[&r].report.kind = r.kind->table->name;
    events_report_.kind = internal::kEventKind.table->name;
  }

  void ReadDamaged(const fs::path& copy);
  void ReadMirrors();
  std::vector<PlannedEvent> PlanEvents();
  void Build(const fs::path& new_db, const fs::path& damaged_copy);
  RecoveryReport& report() { return report_; }
  const std::vector<std::string>& rejected_files() const { return rejected_files_; }

 private:
  void Reject(RecoveryKindReport& r, const std::string& where, const std::string& why) {
    ++r.rejected;
    report_.problems.push_back(fmt::format("{}: {}", where, why));
  }
  void NoteSalvage(const SalvagedTable& t) {
    for (const std::string& p : t.problems) report_.problems.push_back("damaged database, " + p);
  }
  void ReadDamagedEvents(const fs::path& copy);
  void ReadDamagedDocuments(const fs::path& copy);
  void AddMirrorDocument(const RecoverableKind& r, const internal::MirrorFile& f);
  int64_t InsertDocuments(engine::WriteTxn& txn);

  RepositoryLocation loc_;
  StorageConfig config_;
  RecoveryReport report_;
  RecoveryKindReport events_report_;
  std::map<const RecoverableKind*, KeyedKind> kinds_;      // in kRecoverable's order (reports list them so)
  std::map<std::string, std::vector<DbEvent>> db_events_;  // job -> seq order
  std::map<std::string, std::vector<std::string>> mirror_events_;  // job -> line order
  std::map<std::string, std::string> job_of_folder_;
  std::vector<std::string> rejected_files_;  // relative mirror paths kept aside
  std::vector<std::pair<std::string, SalvagedTable>> ledger_;
};

void Recovery::ReadDamagedEvents(const fs::path& copy) {
  const SalvagedTable t =
      internal::SalvageTable(copy, std::string(internal::kEventKind.table->name),
                             {"seq", "job_id", "json", "source_id", "line_no"}, "seq", true);
  NoteSalvage(t);
  for (const auto& row : t.rows) {
    const std::string job = Col(t, row, "job_id").Text();
    const std::string json = Col(t, row, "json").Text();
    const int64_t seq = Col(t, row, "seq").Int().value_or(0);
    try {
      internal::ExtractEvent(job, json);
    } catch (const Error& e) {
      Reject(events_report_, fmt::format("damaged database, event seq {}", seq), e.message());
      continue;
    }
    ++events_report_.from_database;
    job_of_folder_[EncodeFileName(job)] = job;
    db_events_[job].push_back(
        DbEvent{seq, json, Col(t, row, "source_id").Int(), Col(t, row, "line_no").Int()});
  }
}

void Recovery::ReadDamagedDocuments(const fs::path& copy) {
  for (const RecoverableKind& r : kRecoverable) {
    const std::string table(r.kind->table->name);
    const SalvagedTable t = internal::SalvageTable(copy, table, r.columns, r.order, false);
    NoteSalvage(t);
    KeyedKind& kind = kinds_[&r];
    for (const auto& row : t.rows) {
      Doc doc;
      doc.from_db = true;
      doc.job_id = Col(t, row, "job_id").Text();
      doc.json = Col(t, row, "json").Text();
      doc.updated_at = Col(t, row, r.written).Text();
      doc.written_ns = TimeNs(doc.updated_at);
      doc.source_id = Col(t, row, "source_id").Int();
      doc.reprocess_requested_at = OptText(Col(t, row, "reprocess_requested_at"));
      std::string key;
      try {
        key = r.identity(doc.job_id, doc.json);
      } catch (const Error& e) {
        Reject(kind.report, fmt::format("damaged database, a row of {}", table), e.message());
        continue;
      }
      if (!doc.job_id.empty()) job_of_folder_[EncodeFileName(doc.job_id)] = doc.job_id;
      kind.AddFromDatabase(key, std::move(doc));
    }
  }
}

void Recovery::ReadDamaged(const fs::path& copy) {
  ReadDamagedEvents(copy);
  ReadDamagedDocuments(copy);
}

void Recovery::AddMirrorDocument(const RecoverableKind& r, const internal::MirrorFile& f) {
  Doc doc;
  doc.job_id = f.job_id;
  doc.json = f.text;
  doc.written_ns = f.mtime_ns;
  KeyedKind& kind = kinds_[&r];
  std::string key;
  try {
    key = r.identity(f.job_id, f.text);
  } catch (const Error& e) {
    Reject(kind.report, "mirror file " + f.path.string(), e.message());
    rejected_files_.push_back(f.rel_path);
    return;
  }
  kind.AddFromMirror(key, std::move(doc));
}

void Recovery::ReadMirrors() {
  for (const internal::MirrorFile& f :
       internal::ReadMirrorFiles(loc_.dir, job_of_folder_, &report_.problems)) {
    if (const RecoverableKind* r = RecoverableOfMirror(f.kind)) {
      AddMirrorDocument(*r, f);
      continue;
    }
    std::vector<std::string>& lines = mirror_events_[f.job_id];
    bool rejected = false;
    for (std::string& line : internal::JsonlLines(f.text)) {
      try {
        internal::ExtractEvent(f.job_id, line);
        lines.push_back(std::move(line));
      } catch (const Error& e) {
        Reject(events_report_, "mirror file " + f.path.string(), e.message());
        rejected = true;
      }
    }
    if (rejected) rejected_files_.push_back(f.rel_path);
  }
}

// Merges each job's events read from the database (seq order) with its
// mirror lines (the same order: the file is appended after each commit).
// Known events keep their place; lines only the mirror had are put right
// after the job's previous known event.
std::vector<PlannedEvent> Recovery::PlanEvents() {
  std::vector<PlannedEvent> plan;
  std::set<std::string> jobs;
  for (const auto& [job, _] : db_events_) jobs.insert(job);
  for (const auto& [job, _] : mirror_events_) jobs.insert(job);
  for (const std::string& job : jobs) {
    const std::vector<DbEvent>& db = db_events_[job];
    const std::vector<std::string>& mirror = mirror_events_[job];
    std::map<std::string, int64_t> db_left;  // texts of db events not yet matched
    for (const DbEvent& e : db) ++db_left[e.json];
    size_t i = 0, j = 0;
    int64_t last_known = 0, sub = 0;
    auto known = [&](const DbEvent& e) {
      --db_left[e.json];
      last_known = e.seq;
      sub = 0;
      plan.push_back(PlannedEvent{e.seq, 0, job, e.json, e.seq, e.source_id, e.line_no});
    };
    while (i < mirror.size() && j < db.size()) {
      if (mirror[i] == db[j].json) {
        known(db[j++]);
        ++i;
      } else if (db_left[mirror[i]] > 0) {
        known(db[j++]);  // the mirror lacks this one; its line comes later
      } else {
        ++events_report_.from_mirrors;
        plan.push_back(
            PlannedEvent{last_known, ++sub, job, mirror[i++], std::nullopt, std::nullopt, std::nullopt});
      }
    }
    while (j < db.size()) known(db[j++]);
    while (i < mirror.size()) {
      ++events_report_.from_mirrors;
      plan.push_back(
          PlannedEvent{last_known, ++sub, job, mirror[i++], std::nullopt, std::nullopt, std::nullopt});
    }
  }
  std::stable_sort(plan.begin(), plan.end(), [](const PlannedEvent& a, const PlannedEvent& b) {
    return std::tie(a.order_seq, a.order_sub) < std::tie(b.order_seq, b.order_sub);
  });
  return plan;
}

int64_t Recovery::InsertDocuments(engine::WriteTxn& txn) {
  int64_t n = 0;
  for (auto& [r, kind] : kinds_) {
    for (auto& [key, doc] : kind.docs) {
      r->insert(txn, doc, doc.from_db ? doc.source_id : std::nullopt);
      ++n;
    }
  }
  return n;
}

void Recovery::Build(const fs::path& new_db, const fs::path& damaged_copy) {
  const std::vector<PlannedEvent> plan = PlanEvents();
  // Seqs: kept when no event had to be placed between known ones; otherwise
  // renumbered above every seq the damaged file held, so a reader's "after"
  // cursor re-reads rather than skips.
  const bool renumber =
      std::any_of(plan.begin(), plan.end(), [](const PlannedEvent& e) { return !e.old_seq; });
  int64_t offset = 0;
  for (const PlannedEvent& e : plan) offset = std::max(offset, e.old_seq.value_or(0));
  offset += static_cast<int64_t>(plan.size());
  int64_t documents = 0;
  {
    // The import ledger is not a set of documents: its rows are copied as they were.
    struct LedgerTable {
      const char* table;
      const char* key;
      bool integer_key;
    };
    {
      internal::Connection conn(new_db, config_, true);
      for (const LedgerTable& l : {LedgerTable{"import_sources", "id", true},
                                   LedgerTable{"unparsed_lines", "source_id, line_no", false},
                                   LedgerTable{"source_blobs", "source_id, chunk", false}}) {
        ledger_.emplace_back(
            l.table, internal::SalvageTable(damaged_copy, l.table, internal::TableColumns(conn, l.table),
                                            l.key, l.integer_key));
        NoteSalvage(ledger_.back().second);
      }
    }
    const std::unique_ptr<engine::Engine> store = internal::OpenSqliteEngine(new_db, config_);
    store->Write([&](engine::WriteTxn& txn) {
      internal::Connection& conn = internal::ConnectionOf(txn);
      for (const auto& [table, salvaged] : ledger_) {
        report_.ledger_rows += internal::InsertRawRows(conn, table, salvaged.columns, salvaged.rows);
      }
      int64_t rank = 0;
      for (const PlannedEvent& e : plan) {
        const int64_t seq =
            internal::InsertEvent(txn, internal::ExtractEvent(e.job_id, e.json), e.source_id, e.line_no);
        internal::MoveEventSeq(conn, seq, renumber ? offset + ++rank : *e.old_seq);
      }
      documents = InsertDocuments(txn);
    });
  }
  // Every row verified: the new file is sound and holds exactly the plan.
  const internal::DatabaseFacts facts = internal::ReadDatabaseFacts(new_db);
  const int64_t stored = facts.counts.dlq_items + facts.counts.job_states + facts.counts.sessions +
                         facts.counts.workflow_checkpoints;
  if (!facts.integrity.empty() || facts.counts.events != static_cast<int64_t>(plan.size()) ||
      stored != documents) {
    throw Error::Internal(
        fmt::format("the rebuilt database {} does not hold what was recovered ({} events and {} documents "
                    "planned, {} and {} stored); nothing was changed, please report this",
                    new_db.string(), plan.size(), documents, facts.counts.events, stored));
  }
  if (renumber) {
    report_.problems.push_back(fmt::format(
        "events: {} events only the mirror files still had were put back in their logs' order; every event's "
        "seq was renumbered above {} so cursors re-read rather than skip",
        events_report_.from_mirrors, offset - static_cast<int64_t>(plan.size())));
  }
  report_.kinds.push_back(events_report_);
  for (const auto& [r, kind] : kinds_) report_.kinds.push_back(kind.report);
}

// True when the database opens and passes PRAGMA integrity_check.
bool IsSound(const RepositoryLocation& loc) {
  try {
    const internal::DatabaseFacts facts = internal::ReadDatabaseFacts(loc.db_path);
    return facts.integrity.empty();
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kCorruption) return false;
    throw;
  }
}

void CopyIfExists(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  if (!fs::exists(from, ec)) return;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (ec) internal::ThrowIo("cannot copy the damaged database to", to, ec.value());
}

}  // namespace

RecoveryReport RecoverDatabase(const fs::path& repo_path, const StorageConfig& config, bool force) {
  const RepositoryLocation loc = LocateRepository(repo_path, config);
  if (!loc.exists) {
    throw Error::NotFound(fmt::format("repository {} has no database to recover ({} does not exist)",
                                      loc.canonical_path.string(), loc.db_path.string()));
  }
  Recovery recovery(loc, config);
  RecoveryReport& report = recovery.report();
  report.db_path = loc.db_path;
  if (IsSound(loc)) return report;
  report.needed = true;
  internal::RefuseWhileOpen(loc, force, "check --repair");

  // Read from a private copy: opening the damaged file could replay or
  // checkpoint its -wal, and the damaged file is kept exactly as it was.
  internal::TempPaths tmp;
  const fs::path copy = tmp.Add(loc.dir, "recover-source.db", true);
  CopyIfExists(loc.db_path, copy);
  CopyIfExists(loc.db_path.string() + "-wal", copy.string() + "-wal");
  recovery.ReadDamaged(copy);
  recovery.ReadMirrors();
  const fs::path rebuilt = tmp.Add(loc.dir, "recover-new.db", true);
  recovery.Build(rebuilt, copy);

  fs::path aside_dir = loc.dir / ("damaged-" + internal::FileTimeStamp());
  std::error_code ec;
  for (int n = 2; fs::exists(aside_dir, ec); ++n) {
    aside_dir = loc.dir / fmt::format("damaged-{}-{}", internal::FileTimeStamp(), n);
  }
  internal::EnsureDir(aside_dir, 0700);
  for (const std::string& rel : recovery.rejected_files()) {
    const fs::path to = aside_dir / "rejected-mirrors" / rel;
    internal::EnsureDir(to.parent_path(), 0700);
    CopyIfExists(loc.dir / rel, to);
  }
  report.damaged_copy = *internal::SwapInDatabase(loc, rebuilt, "damaged", force, "check --repair", false,
                                                  aside_dir / "prodigy.db");
  internal::RewriteMirrors(repo_path, config);
  internal::Log().info("recovered {}; the damaged file is kept as {}", loc.db_path.string(),
                       report.damaged_copy.string());
  return report;
}

}  // namespace prodigy
