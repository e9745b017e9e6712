// engine::Engine on SQLite. Generic row statements are built once per table
// from its TableSpec; the queries that are particular to one kind (event
// filters, DLQ statistics, ...) are spelled out here, next to each other.
#include "sqlite/sqlite_engine.h"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <variant>

#include <fmt/format.h>

#include "engine/tables.h"
#include "prodigy/storage.h"
#include "sqlite/connection.h"
#include "sqlite/coordination.h"

namespace prodigy::internal {
namespace {

namespace tables = engine::tables;
using engine::Column;
using engine::ColumnType;
using engine::TableSpec;
using engine::Value;

// A row of a stepped statement, read through the table's column indices.
class StatementRow : public engine::RowView {
 public:
  explicit StatementRow(SQLite::Statement& s) : s_(s) {}
  bool IsNull(size_t i) const override { return s_.getColumn(static_cast<int>(i)).isNull(); }
  int64_t Int(size_t i) const override { return s_.getColumn(static_cast<int>(i)).getInt64(); }
  std::string_view Text(size_t i) const override {
    // blob, then bytes: the order SQLite documents for a stable pointer.
    const SQLite::Column c = s_.getColumn(static_cast<int>(i));
    const void* p = c.getBlob();
    const int n = c.getBytes();
    return p ? std::string_view(static_cast<const char*>(p), static_cast<size_t>(n)) : std::string_view();
  }

 private:
  SQLite::Statement& s_;
};

// Binds a value to parameter `index` as column `c` stores it. A record's
// own strings are bound without a copy: the record outlives the statement's
// execution (the hot path of appends and imports).
void BindValue(SQLite::Statement& s, int index, const Value& v, const Column& c) {
  if (const auto* n = std::get_if<int64_t>(&v)) {
    s.bind(index, static_cast<int64_t>(*n));
    return;
  }
  const std::string_view text = engine::TextOf(v);
  if (engine::IsNull(v) || (text.empty() && !c.keep_empty && c.type != ColumnType::kBlob)) {
    s.bind(index);
  } else if (c.type == ColumnType::kBlob) {
    // A null pointer would bind NULL; an empty value is an empty blob.
    s.bindNoCopy(index, static_cast<const void*>(text.empty() ? "" : text.data()),
                 static_cast<int>(text.size()));
  } else if (const auto* field = std::get_if<const std::string*>(&v)) {
    s.bindNoCopy(index, **field);
  } else if (const auto* owned = std::get_if<std::string>(&v)) {
    s.bindNoCopy(index, *owned);
  } else {
    s.bind(index, std::string(text));  // SQLiteCpp binds text only from a std::string
  }
}

// The generic statements of one table.
struct TableSql {
  std::string get, scan_prefix[3][2], insert, upsert, update, remove, detach, groups, count;
};

std::string Join(const TableSpec& t, size_t from, size_t to, const char* sep, bool with_params,
                 size_t first_param) {
  std::string out;
  for (size_t i = from; i < to; ++i) {
    if (i > from) out += sep;
    out += t.columns[i].name;
    if (with_params) out += fmt::format(" = ?{}", first_param + i - from);
  }
  return out;
}

TableSql BuildSql(const TableSpec& t) {
  TableSql q;
  const std::string all = Join(t, 0, t.columns.size(), ", ", false, 0);
  const std::string keys = Join(t, 0, t.key_columns, " AND ", true, 1);
  q.get = fmt::format("SELECT {} FROM {} WHERE {}", all, t.name, keys);
  // Key prefixes of 0..2 columns, ascending and descending.
  for (size_t n = 0; n <= 2 && n <= t.key_columns; ++n) {
    for (int desc = 0; desc < 2; ++desc) {
      std::string order;
      for (size_t i = 0; i < t.key_columns; ++i) {
        if (i) order += ", ";
        order += std::string(t.columns[i].name) + (desc ? " DESC" : "");
      }
      q.scan_prefix[n][desc] =
          fmt::format("SELECT {} FROM {}{}{} ORDER BY {}", all, t.name, n ? " WHERE " : "",
                      n ? Join(t, 0, n, " AND ", true, 1) : "", order);
    }
  }
  std::string cols, params, sets;
  int p = 0;
  for (const Column& c : t.columns) {
    if (c.generated) continue;
    if (p) {
      cols += ", ";
      params += ", ";
      sets += ", ";
    }
    ++p;
    cols += c.name;
    params += fmt::format("?{}", p);
    sets += fmt::format("{} = ?{}", c.name, p);
  }
  q.insert = fmt::format("INSERT INTO {} ({}) VALUES ({})", t.name, cols, params);
  q.upsert = fmt::format("INSERT OR REPLACE INTO {} ({}) VALUES ({})", t.name, cols, params);
  q.update = fmt::format("UPDATE {} SET {} WHERE {} = ?{}", t.name, sets, t.columns[0].name, p + 1);
  q.remove = fmt::format("DELETE FROM {} WHERE {}", t.name, keys);
  if (!t.source_column.empty()) {
    q.detach = fmt::format("UPDATE {0} SET {1} = NULL WHERE {2} AND {1} = ?{3}", t.name, t.source_column,
                           keys, t.key_columns + 1);
  }
  if (!t.group_column.empty()) {
    q.groups = fmt::format("SELECT DISTINCT {0} FROM {1} ORDER BY {0}", t.group_column, t.name);
  }
  q.count = fmt::format("SELECT count(*) FROM {}", t.name);
  return q;
}

// The WHERE clause of an event query; also used by count, group and delete.
std::string EventWhere(const EventQuery& q, std::vector<std::variant<int64_t, std::string>>* binds) {
  std::string where = "seq > ?";
  binds->push_back(q.after_seq);
  if (q.before_seq) {
    where += " AND seq < ?";
    binds->push_back(*q.before_seq);
  }
  if (q.job_id) {
    where += " AND job_id = ?";
    binds->push_back(*q.job_id);
  }
  if (!q.types.empty()) {
    // Within one job, walk the job's index: without statistics SQLite may
    // pick events_by_name instead and visit that type's events of every job
    // (the unary + keeps event_name from being used as an index key).
    where += q.job_id ? " AND +event_name IN (" : " AND event_name IN (";
    for (size_t i = 0; i < q.types.size(); ++i) {
      where += i ? ", ?" : "?";
      binds->push_back(NormalizeEventType(q.types[i]));
    }
    where += ")";
  }
  if (q.agent_id) {
    where += " AND agent_id = ?";
    binds->push_back(*q.agent_id);
  }
  if (q.since_ns) {
    where += " AND ts_ns >= ?";
    binds->push_back(*q.since_ns);
  }
  if (q.until_ns) {
    where += " AND ts_ns < ?";
    binds->push_back(*q.until_ns);
  }
  return where;
}

void BindAll(SQLite::Statement& s, const std::vector<std::variant<int64_t, std::string>>& binds) {
  int i = 1;
  for (const auto& b : binds) {
    if (const auto* n = std::get_if<int64_t>(&b))
      s.bind(i++, static_cast<int64_t>(*n));
    else
      s.bind(i++, std::get<std::string>(b));
  }
}

// Text parameters (SQLiteCpp's bind of a pointer and a size would bind a blob).
void BindText(SQLite::Statement& s, int i, std::string_view v) { s.bind(i, std::string(v)); }

void BindOpt(SQLite::Statement& s, int i, std::optional<std::string_view> v) {
  if (v)
    BindText(s, i, *v);
  else
    s.bind(i);
}

std::string ColumnString(SQLite::Statement& s, int i) {
  const SQLite::Column c = s.getColumn(i);
  return c.isNull() ? std::string() : std::string(c.getText(), static_cast<size_t>(c.getBytes()));
}

// Steps q, calling fn with each row until it returns false; resets q.
void Each(SQLite::Statement& q, const engine::RowFn& fn) {
  StatementRow row(q);
  while (q.executeStep()) {
    if (!fn(row)) break;
  }
  q.reset();
}

class SqliteEngine;

// Reads and writes on the engine's connection. One object serves as the
// ReadTxn of Read/Snapshot and the WriteTxn of Write: which one the caller
// gets is what it may do.
class SqliteTxn : public engine::WriteTxn {
 public:
  explicit SqliteTxn(SqliteEngine& e);

  // ---- generic rows ----
  bool Get(const TableSpec& t, std::span<const Value> key, const engine::RowFn& fn) override {
    SQLite::Statement& q = Prepare(Sql(t).get);
    BindKey(q, t, key, 1);
    StatementRow row(q);
    const bool found = q.executeStep();
    if (found) fn(row);
    q.reset();
    return found;
  }
  void Scan(const TableSpec& t, std::span<const Value> prefix, bool descending,
            const engine::RowFn& fn) override {
    if (prefix.size() > 2 || prefix.size() > t.key_columns) {
      throw Error::Internal(fmt::format("scan of {} by {} key columns", t.name, prefix.size()));
    }
    SQLite::Statement& q = Prepare(Sql(t).scan_prefix[prefix.size()][descending ? 1 : 0]);
    BindKey(q, t, prefix, 1);
    Each(q, fn);
  }
  std::vector<std::string> Groups(const TableSpec& t) override {
    std::vector<std::string> out;
    SQLite::Statement& q = Prepare(Sql(t).groups);
    while (q.executeStep()) out.push_back(ColumnString(q, 0));
    q.reset();
    return out;
  }
  int64_t Count(const TableSpec& t) override { return Scalar(Sql(t).count); }

  void Put(const TableSpec& t, std::span<const Value> row) override { Exec(t, Sql(t).upsert, row); }
  bool Delete(const TableSpec& t, std::span<const Value> key) override {
    SQLite::Statement& q = Prepare(Sql(t).remove);
    BindKey(q, t, key, 1);
    return q.exec() > 0;
  }
  void Detach(const TableSpec& t, std::span<const Value> key, int64_t source_id) override {
    SQLite::Statement& q = Prepare(Sql(t).detach);
    BindKey(q, t, key, 1);
    q.bind(static_cast<int>(t.key_columns) + 1, source_id);
    q.exec();
  }

  // ---- events ----
  void QueryEvents(const EventQuery& query, int64_t limit, const engine::RowFn& fn) override {
    SelectEvents(query, "", limit, fn);
  }
  void NewestEvents(const EventQuery& query, int64_t limit, const engine::RowFn& fn) override {
    SelectEvents(query, " DESC", limit, fn);
  }
  void SelectEvents(const EventQuery& query, const char* direction, int64_t limit, const engine::RowFn& fn) {
    std::vector<std::variant<int64_t, std::string>> binds;
    static const std::string columns =
        Join(tables::kEvents, 0, tables::kEvents.columns.size(), ", ", false, 0);
    const std::string sql = fmt::format("SELECT {} FROM events WHERE {} ORDER BY seq{} LIMIT {}", columns,
                                        EventWhere(query, &binds), direction, limit);
    SQLite::Statement& q = Prepare(sql);
    BindAll(q, binds);
    Each(q, fn);
  }
  int64_t LastEventSeq() override { return Scalar("SELECT coalesce(max(seq), 0) FROM events"); }
  int64_t CountEvents(const EventQuery& query) override {
    std::vector<std::variant<int64_t, std::string>> binds;
    SQLite::Statement& q =
        Prepare(fmt::format("SELECT count(*) FROM events WHERE {}", EventWhere(query, &binds)));
    BindAll(q, binds);
    q.executeStep();
    const int64_t n = q.getColumn(0).getInt64();
    q.reset();
    return n;
  }
  std::vector<GroupCount> GroupEvents(const EventQuery& query, EventGroupBy by) override {
    const char* column = by == EventGroupBy::kType    ? "event_name"
                         : by == EventGroupBy::kAgent ? "agent_id"
                                                      : "job_id";
    std::vector<std::variant<int64_t, std::string>> binds;
    SQLite::Statement& q = Prepare(fmt::format(
        "SELECT coalesce({0}, ''), count(*) FROM events WHERE {1} GROUP BY {0} ORDER BY 2 DESC, 1", column,
        EventWhere(query, &binds)));
    BindAll(q, binds);
    std::vector<GroupCount> out;
    while (q.executeStep()) out.push_back({q.getColumn(0).getString(), q.getColumn(1).getInt64()});
    q.reset();
    return out;
  }
  std::vector<engine::EventJobStats> EventJobs() override {
    SQLite::Statement& q = Prepare(
        "SELECT job_id, count(*), min(ts_ns), max(ts_ns), "
        "sum(event_name = 'job_started'), sum(event_name = 'job_completed'), "
        "sum(event_name = 'job_failed') FROM events GROUP BY job_id ORDER BY max(seq) DESC");
    std::vector<engine::EventJobStats> out;
    StatementRow row(q);
    while (q.executeStep()) {
      out.push_back({std::string(row.Text(0)), row.Int(1), row.OptInt(2), row.OptInt(3), row.Int(4),
                     row.Int(5), row.Int(6)});
    }
    q.reset();
    return out;
  }
  void EventLog(std::string_view job_id, int64_t after_seq,
                const std::function<bool(int64_t, std::string_view)>& fn) override {
    SQLite::Statement& q =
        Prepare("SELECT seq, json FROM events WHERE job_id = ?1 AND seq > ?2 ORDER BY seq");
    BindText(q, 1, job_id);
    q.bind(2, after_seq);
    Each(q, [&](const engine::RowView& r) { return fn(r.Int(0), r.Text(1)); });
  }
  int64_t AppendEvent(std::span<const Value> row) override {
    Exec(tables::kEvents, Sql(tables::kEvents).insert, row);
    return conn_.db().getLastInsertRowid();
  }
  void DeferEventIndexes() override {
    // Sorting the rows once at the end beats keeping four B-trees sorted row
    // by row; into a table that has rows already it would re-sort those too.
    if (!deferred_indexes_.empty() || Scalar("SELECT EXISTS (SELECT 1 FROM events)") != 0) return;
    std::vector<std::pair<std::string, std::string>> indexes;  // name, CREATE INDEX
    {
      SQLite::Statement q(conn_.db(),
                          "SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'events' "
                          "AND sql IS NOT NULL ORDER BY name");
      while (q.executeStep()) indexes.emplace_back(q.getColumn(0).getString(), q.getColumn(1).getString());
    }
    conn_.ResetAll();  // DROP INDEX fails while a statement is mid-read
    for (auto& [name, create] : indexes) {
      conn_.db().exec(fmt::format("DROP INDEX \"{}\"", name));
      deferred_indexes_.push_back(std::move(create));
    }
  }
  // Before COMMIT: creates the indexes DeferEventIndexes dropped.
  void BuildDeferredIndexes() {
    if (deferred_indexes_.empty()) return;  // every other transaction
    conn_.ResetAll();
    for (const std::string& create : deferred_indexes_) conn_.db().exec(create);
    deferred_indexes_.clear();
  }
  // After a rollback: the indexes are back as they were.
  void ForgetDeferredIndexes() noexcept { deferred_indexes_.clear(); }
  engine::Removed DeleteEvents(const EventQuery& query) override {
    std::vector<std::variant<int64_t, std::string>> binds;
    const std::string where = EventWhere(query, &binds);
    engine::Removed out;
    SQLite::Statement& j = Prepare(fmt::format("SELECT DISTINCT job_id FROM events WHERE {}", where));
    BindAll(j, binds);
    while (j.executeStep()) out.jobs.push_back(j.getColumn(0).getString());
    j.reset();
    SQLite::Statement& d = Prepare(fmt::format("DELETE FROM events WHERE {}", where));
    BindAll(d, binds);
    out.count = d.exec();
    return out;
  }
  engine::Removed DeleteImportedEvents(int64_t source_id, int64_t first_seq, int64_t last_seq) override {
    SQLite::Statement& e =
        Prepare("DELETE FROM events WHERE seq BETWEEN ?1 AND ?2 AND source_id = ?3 RETURNING job_id");
    e.bind(1, first_seq);
    e.bind(2, last_seq);
    e.bind(3, source_id);
    engine::Removed out;
    std::string job;
    while (e.executeStep()) {
      job = e.getColumn(0).getString();
      ++out.count;
    }
    e.reset();
    if (!job.empty()) out.jobs.push_back(job);
    return out;
  }

  // ---- DLQ ----
  void ListDlq(const DlqFilter& f, const engine::RowFn& fn) override {
    // One statement with optional filters: a NULL parameter disables its filter.
    static const std::string sql = fmt::format(
        "SELECT {} FROM dlq_items WHERE (?1 IS NULL OR job_id = ?1) "
        "AND (?2 IS NULL OR instr(error_signature, ?2) > 0) AND (?3 IS NULL OR error_type = ?3) "
        "AND (?4 IS NULL OR reprocess_eligible = ?4) "
        "AND (?5 IS NULL OR (reprocess_requested_at IS NOT NULL) = ?5) "
        "AND (?6 IS NULL OR last_attempt_ns >= ?6) AND (?7 IS NULL OR last_attempt_ns < ?7) "
        "ORDER BY last_attempt_ns DESC, job_id, item_id LIMIT ?8",
        Join(tables::kDlqItems, 0, tables::kDlqItems.columns.size(), ", ", false, 0));
    SQLite::Statement& q = Prepare(sql);
    auto opt_int = [&](int i, std::optional<int64_t> v) {
      if (v)
        q.bind(i, static_cast<int64_t>(*v));
      else
        q.bind(i);
    };
    auto opt_bool = [](const std::optional<bool>& b) {
      return b ? std::optional<int64_t>(*b ? 1 : 0) : std::nullopt;
    };
    BindOpt(q, 1, f.job_id);
    BindOpt(q, 2, f.error_signature);
    BindOpt(q, 3, f.error_type);
    opt_int(4, opt_bool(f.reprocess_eligible));
    opt_int(5, opt_bool(f.reprocess_requested));
    opt_int(6, f.since_ns);
    opt_int(7, f.until_ns);
    q.bind(8, static_cast<int64_t>(f.limit.value_or(-1)));
    Each(q, fn);
  }
  DlqStats DlqStatistics(std::string_view job_id) override {
    // The counts come from dlq_stats, one row per job and error signature,
    // kept by migration 0005's triggers; the oldest and newest attempt from
    // one index lookup per job. Nothing reads the items themselves.
    // Separate statements for one job and for all: "?1 IS NULL OR job_id = ?1"
    // would keep SQLite from using the keys.
    const bool one = !job_id.empty();
    SQLite::Statement& g =
        Prepare(one ? "SELECT error_signature, items, eligible, manual_review, marked FROM dlq_stats "
                      "WHERE job_id = ?1"
                    : "SELECT error_signature, sum(items), sum(eligible), sum(manual_review), sum(marked) "
                      "FROM dlq_stats GROUP BY error_signature");
    if (one) BindText(g, 1, job_id);
    DlqStats stats;
    while (g.executeStep()) {
      const int64_t items = g.getColumn(1).getInt64();
      stats.total_items += items;
      stats.eligible_for_reprocess += g.getColumn(2).getInt64();
      stats.requiring_manual_review += g.getColumn(3).getInt64();
      stats.marked_for_reprocess += g.getColumn(4).getInt64();
      stats.error_categories.push_back({g.getColumn(0).getString(), items});
    }
    g.reset();
    // Most frequent first, then by signature (byte order, as SQLite sorts).
    std::sort(stats.error_categories.begin(), stats.error_categories.end(),
              [](const GroupCount& a, const GroupCount& b) {
                return a.count != b.count ? a.count > b.count : a.key < b.key;
              });
    SQLite::Statement& t =
        Prepare(one ? "SELECT (SELECT min(first_attempt) FROM dlq_items WHERE job_id = ?1), "
                      "(SELECT max(last_attempt) FROM dlq_items WHERE job_id = ?1)"
                    : "SELECT min((SELECT min(first_attempt) FROM dlq_items d WHERE d.job_id = s.job_id)), "
                      "max((SELECT max(last_attempt) FROM dlq_items d WHERE d.job_id = s.job_id)) "
                      "FROM (SELECT DISTINCT job_id FROM dlq_stats) AS s");
    if (one) BindText(t, 1, job_id);
    if (t.executeStep()) {
      if (!t.getColumn(0).isNull()) stats.oldest_item = t.getColumn(0).getString();
      if (!t.getColumn(1).isNull()) stats.newest_item = t.getColumn(1).getString();
    }
    t.reset();
    return stats;
  }
  engine::Removed PurgeDlq(int64_t cutoff_ns, std::string_view job_id) override {
    engine::Removed out;
    std::optional<std::string_view> job;
    if (!job_id.empty()) job = job_id;
    SQLite::Statement& j = Prepare(
        "SELECT DISTINCT job_id FROM dlq_items WHERE last_attempt_ns < ?1 AND (?2 IS NULL OR job_id = ?2)");
    j.bind(1, cutoff_ns);
    BindOpt(j, 2, job);
    while (j.executeStep()) out.jobs.push_back(j.getColumn(0).getString());
    j.reset();
    SQLite::Statement& d =
        Prepare("DELETE FROM dlq_items WHERE last_attempt_ns < ?1 AND (?2 IS NULL OR job_id = ?2)");
    d.bind(1, cutoff_ns);
    BindOpt(d, 2, job);
    out.count = d.exec();
    return out;
  }
  int64_t MarkDlqJob(std::string_view job_id, std::string_view now) override {
    SQLite::Statement& u = Prepare(
        "UPDATE dlq_items SET reprocess_requested_at = ?2 WHERE job_id = ?1 AND reprocess_eligible = 1");
    BindText(u, 1, job_id);
    BindText(u, 2, now);
    return u.exec();
  }
  bool MarkDlqItem(std::string_view job_id, std::string_view item_id, std::string_view now) override {
    SQLite::Statement& u =
        Prepare("UPDATE dlq_items SET reprocess_requested_at = ?3 WHERE job_id = ?1 AND item_id = ?2");
    BindText(u, 1, job_id);
    BindText(u, 2, item_id);
    BindText(u, 3, now);
    return u.exec() > 0;
  }

  // ---- job state ----
  std::optional<int64_t> MaxStateVersion(std::string_view job_id) override {
    SQLite::Statement& q = Prepare("SELECT max(version) FROM job_states WHERE job_id = ?1");
    BindText(q, 1, job_id);
    std::optional<int64_t> out;
    if (q.executeStep() && !q.getColumn(0).isNull()) out = q.getColumn(0).getInt64();
    q.reset();
    return out;
  }
  void LatestStates(const engine::RowFn& fn) override {
    static const std::string sql = fmt::format(
        "SELECT {} FROM job_states AS s WHERE version = (SELECT max(version) FROM job_states "
        "WHERE job_id = s.job_id) ORDER BY written_at DESC, job_id",
        Join(tables::kJobStates, 0, tables::kJobStates.columns.size(), ", ", false, 0));
    Each(Prepare(sql), fn);
  }
  void PruneStates(std::string_view job_id, int64_t keep) override {
    SQLite::Statement& prune = Prepare(
        "DELETE FROM job_states WHERE job_id = ?1 AND version NOT IN "
        "(SELECT version FROM job_states WHERE job_id = ?1 ORDER BY version DESC LIMIT ?2)");
    BindText(prune, 1, job_id);
    prune.bind(2, keep);
    prune.exec();
  }

  // ---- sessions, checkpoints ----
  void ListSessions(std::optional<std::string_view> status, const engine::RowFn& fn) override {
    static const std::string sql = fmt::format(
        "SELECT {} FROM sessions WHERE ?1 IS NULL OR status = ?1 ORDER BY updated_at DESC, session_id",
        Join(tables::kSessions, 0, tables::kSessions.columns.size(), ", ", false, 0));
    SQLite::Statement& q = Prepare(sql);
    BindOpt(q, 1, status);
    Each(q, fn);
  }
  void ListCheckpoints(std::optional<int64_t> limit, const engine::RowFn& fn) override {
    static const std::string sql = fmt::format(
        "SELECT {} FROM workflow_checkpoints ORDER BY ts_ns DESC NULLS LAST, workflow_id DESC LIMIT ?1",
        Join(tables::kWorkflowCheckpoints, 0, tables::kWorkflowCheckpoints.columns.size(), ", ", false, 0));
    SQLite::Statement& q = Prepare(sql);
    q.bind(1, static_cast<int64_t>(limit.value_or(-1)));
    Each(q, fn);
  }

  // ---- repository, meta, counts ----
  std::optional<std::string> RecordedRepository() override {
    SQLite::Statement& q = Prepare("SELECT canonical_path FROM repository WHERE id = 1");
    std::optional<std::string> out;
    if (q.executeStep()) out = q.getColumn(0).getString();
    q.reset();
    return out;
  }
  std::string ClaimRepository(std::string_view canonical_path, std::string_view name,
                              std::string_view created_at) override {
    if (auto recorded = RecordedRepository()) return *recorded;  // another process claimed it meanwhile
    SQLite::Statement& ins =
        Prepare("INSERT INTO repository (id, canonical_path, name, created_at) VALUES (1, ?1, ?2, ?3)");
    BindText(ins, 1, canonical_path);
    BindText(ins, 2, name);
    BindText(ins, 3, created_at);
    ins.exec();
    return std::string(canonical_path);
  }
  std::optional<std::string> Meta(std::string_view key) override {
    SQLite::Statement& q = Prepare("SELECT value FROM meta WHERE key = ?1");
    BindText(q, 1, key);
    std::optional<std::string> out;
    if (q.executeStep()) out = ColumnString(q, 0);
    q.reset();
    return out;
  }
  void SetMeta(std::string_view key, std::string_view value) override {
    SQLite::Statement& s = Prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)");
    BindText(s, 1, key);
    BindText(s, 2, value);
    s.exec();
  }
  TableCounts Counts() override {
    TableCounts c;
    c.events = Count(tables::kEvents);
    c.dlq_items = Count(tables::kDlqItems);
    c.job_states = Count(tables::kJobStates);
    c.sessions = Count(tables::kSessions);
    c.workflow_checkpoints = Count(tables::kWorkflowCheckpoints);
    c.unparsed_lines = Scalar("SELECT count(*) FROM unparsed_lines");
    c.import_sources = Count(tables::kImportSources);
    return c;
  }

  // ---- leases and fencing tokens (sqlite/coordination.cc) ----
  int64_t Fence(std::string_view key) override { return SqliteFence(conn_, key); }
  std::optional<Lease> CurrentLease(std::string_view key, int64_t now_ns) override {
    return SqliteCurrentLease(conn_, key, now_ns);
  }
  std::vector<Lease> ListLeases(int64_t now_ns) override { return SqliteListLeases(conn_, now_ns); }
  int64_t RaiseFence(std::string_view key, int64_t token) override {
    return SqliteRaiseFence(conn_, key, token);
  }
  engine::LeaseGrant AcquireLease(std::string_view key, std::string_view holder, int64_t now_ns,
                                  int64_t expires_at_ns) override {
    return SqliteAcquireLease(conn_, key, holder, now_ns, expires_at_ns);
  }
  bool ExtendLease(std::string_view key, int64_t token, int64_t now_ns, int64_t expires_at_ns) override {
    return SqliteExtendLease(conn_, key, token, now_ns, expires_at_ns);
  }
  bool ReleaseLease(std::string_view key, int64_t token, int64_t now_ns) override {
    return SqliteReleaseLease(conn_, key, token, now_ns);
  }
  std::optional<Lease> ForceReleaseLease(std::string_view key, int64_t now_ns) override {
    return SqliteForceReleaseLease(conn_, key, now_ns);
  }

  // ---- mirror change log ----
  std::optional<std::pair<int64_t, int64_t>> ChangeRange() override {
    SQLite::Statement& range = Prepare(
        // Two subqueries: SQLite answers a lone min() or max() from the index, both at once by a scan.
        "SELECT (SELECT min(seq) FROM mirror_changes), (SELECT max(seq) FROM mirror_changes)");
    std::optional<std::pair<int64_t, int64_t>> out;
    if (range.executeStep() && !range.getColumn(1).isNull()) {
      out.emplace(range.getColumn(0).getInt64(), range.getColumn(1).getInt64());
    }
    range.reset();
    return out;
  }
  void Changes(int64_t after, int64_t upto, const std::function<void(const engine::Change&)>& fn) override {
    SQLite::Statement& q =
        Prepare("SELECT DISTINCT kind, key1, key2 FROM mirror_changes WHERE seq > ?1 AND seq <= ?2");
    q.bind(1, after);
    q.bind(2, upto);
    engine::Change c;
    while (q.executeStep()) {
      c.kind = ColumnString(q, 0);
      c.key1 = ColumnString(q, 1);
      if (q.getColumn(2).isNull())
        c.key2.reset();
      else
        c.key2 = ColumnString(q, 2);
      fn(c);
    }
    q.reset();
  }
  void LogChange(std::string_view kind, std::string_view key1,
                 std::optional<std::string_view> key2) override {
    SQLite::Statement& s = Prepare("INSERT INTO mirror_changes (kind, key1, key2) VALUES (?1, ?2, ?3)");
    BindText(s, 1, kind);
    BindText(s, 2, key1);
    BindOpt(s, 3, key2);
    s.exec();
  }
  void PruneChanges(int64_t before) override {
    SQLite::Statement& d = Prepare("DELETE FROM mirror_changes WHERE seq < ?1");
    d.bind(1, before);
    d.exec();
  }
  void CollapseChanges() override {
    LogChange("gap", "", std::nullopt);
    Prepare("DELETE FROM mirror_changes WHERE seq < last_insert_rowid()").exec();
  }

  // ---- import ledger ----
  std::vector<engine::LedgerRow> LedgerByPath(std::string_view path) override {
    static const std::string sql = fmt::format("SELECT {} FROM import_sources WHERE path = ?1 ORDER BY id",
                                               Join(tables::kImportSources, 0, 24, ", ", false, 0));
    SQLite::Statement& q = Prepare(sql);
    BindText(q, 1, path);
    return LedgerRows(q);
  }
  int64_t RowsChanged(int64_t source_id) override {
    SQLite::Statement& q = Prepare("SELECT rows_changed FROM import_sources WHERE id = ?1");
    q.bind(1, source_id);
    const int64_t n = q.executeStep() ? q.getColumn(0).getInt64() : 0;
    q.reset();
    return n;
  }
  bool HasBlob(int64_t source_id) override {
    SQLite::Statement& q = Prepare("SELECT 1 FROM source_blobs WHERE source_id = ?1 LIMIT 1");
    q.bind(1, source_id);
    const bool found = q.executeStep();
    q.reset();
    return found;
  }
  void Blob(int64_t source_id, const std::function<bool(int64_t, std::string_view)>& fn) override {
    SQLite::Statement& q =
        Prepare("SELECT chunk, data FROM source_blobs WHERE source_id = ?1 ORDER BY chunk");
    q.bind(1, source_id);
    Each(q, [&](const engine::RowView& r) { return fn(r.Int(0), r.Text(1)); });
  }
  void ImportedEvents(int64_t source_id, int64_t first_seq, int64_t last_seq,
                      const std::function<bool(int64_t, std::string_view)>& fn) override {
    SQLite::Statement& q = Prepare(
        "SELECT line_no, json FROM events WHERE seq BETWEEN ?1 AND ?2 AND source_id = ?3 ORDER BY seq");
    q.bind(1, first_seq);
    q.bind(2, last_seq);
    q.bind(3, source_id);
    Each(q, [&](const engine::RowView& r) { return fn(r.Int(0), r.Text(1)); });
  }
  int64_t CountImportedEvents(int64_t source_id, int64_t first_seq, int64_t last_seq) override {
    SQLite::Statement& q =
        Prepare("SELECT count(*) FROM events WHERE seq BETWEEN ?1 AND ?2 AND source_id = ?3");
    q.bind(1, first_seq);
    q.bind(2, last_seq);
    q.bind(3, source_id);
    q.executeStep();
    const int64_t n = q.getColumn(0).getInt64();
    q.reset();
    return n;
  }
  void UnparsedLines(int64_t source_id, int64_t from_line,
                     const std::function<bool(int64_t, std::string_view)>& fn) override {
    SQLite::Statement& q = Prepare(
        "SELECT line_no, raw FROM unparsed_lines WHERE source_id = ?1 AND line_no >= ?2 ORDER BY line_no");
    q.bind(1, source_id);
    q.bind(2, from_line);
    Each(q, [&](const engine::RowView& r) { return fn(r.Int(0), r.Text(1)); });
  }
  int64_t CountUnparsed(int64_t source_id) override {
    SQLite::Statement& q = Prepare("SELECT count(*) FROM unparsed_lines WHERE source_id = ?1");
    q.bind(1, source_id);
    q.executeStep();
    const int64_t n = q.getColumn(0).getInt64();
    q.reset();
    return n;
  }
  int64_t LedgerInsert(const engine::LedgerRow& row) override {
    std::array<Value, 24> values;
    tables::kLedgerCodec.Values(row, {}, &values);
    Exec(tables::kImportSources, Sql(tables::kImportSources).insert, values);
    return conn_.db().getLastInsertRowid();
  }
  void LedgerUpdate(const engine::LedgerRow& row) override {
    std::array<Value, 24> values;
    tables::kLedgerCodec.Values(row, {}, &values);
    SQLite::Statement& s = Prepare(Sql(tables::kImportSources).update);
    const int n = BindRow(s, tables::kImportSources, values);
    s.bind(n + 1, row.id);
    s.exec();
  }
  void LedgerSetStatus(int64_t id, std::string_view status, std::string_view now) override {
    SQLite::Statement& s = Prepare(
        "UPDATE import_sources SET status = ?2, "
        "verified_at = CASE WHEN ?2 = 'verified' THEN ?3 ELSE verified_at END, "
        "removed_at = CASE WHEN ?2 = 'removed' THEN ?3 ELSE removed_at END WHERE id = ?1");
    s.bind(1, id);
    BindText(s, 2, status);
    BindText(s, 3, now);
    s.exec();
  }
  void LedgerDelete(int64_t id) override {
    for (const char* sql :
         {"DELETE FROM unparsed_lines WHERE source_id = ?1", "DELETE FROM source_blobs WHERE source_id = ?1",
          "DELETE FROM import_sources WHERE id = ?1"}) {
      SQLite::Statement& d = Prepare(sql);
      d.bind(1, id);
      d.exec();
    }
  }
  void AppendBlob(int64_t source_id, int64_t chunk, std::string_view bytes) override {
    SQLite::Statement& s = Prepare("INSERT INTO source_blobs (source_id, chunk, data) VALUES (?1, ?2, ?3)");
    s.bind(1, source_id);
    s.bind(2, chunk);
    s.bindNoCopy(3, static_cast<const void*>(bytes.empty() ? "" : bytes.data()),
                 static_cast<int>(bytes.size()));
    s.exec();
  }
  void InsertUnparsed(int64_t source_id, int64_t line_no, std::string_view raw,
                      std::string_view reason) override {
    SQLite::Statement& s =
        Prepare("INSERT INTO unparsed_lines (source_id, line_no, raw, reason) VALUES (?1, ?2, ?3, ?4)");
    s.bind(1, source_id);
    s.bind(2, line_no);
    // A null pointer would bind NULL; an empty line is an empty blob.
    s.bindNoCopy(3, static_cast<const void*>(raw.empty() ? "" : raw.data()), static_cast<int>(raw.size()));
    BindText(s, 4, reason);
    s.exec();
  }

  // For ConnectionOf (the SQLite-only parts of this folder).
  Connection& connection() { return conn_; }

 private:
  SQLite::Statement& Prepare(const std::string& sql) { return conn_.Prepare(sql.c_str()); }
  SQLite::Statement& Prepare(const char* sql) { return conn_.Prepare(sql); }
  const TableSql& Sql(const TableSpec& t);
  int64_t Scalar(const std::string& sql) {
    SQLite::Statement& q = Prepare(sql);
    q.executeStep();
    const int64_t n = q.getColumn(0).getInt64();
    q.reset();
    return n;
  }
  void BindKey(SQLite::Statement& q, const TableSpec& t, std::span<const Value> key, int first) {
    for (size_t i = 0; i < key.size(); ++i) BindValue(q, first + static_cast<int>(i), key[i], t.columns[i]);
  }
  // Binds the non-generated columns as ?1..?n; returns n.
  int BindRow(SQLite::Statement& s, const TableSpec& t, std::span<const Value> row) {
    int p = 0;
    for (size_t i = 0; i < t.columns.size(); ++i) {
      if (t.columns[i].generated) continue;
      BindValue(s, ++p, row[i], t.columns[i]);
    }
    return p;
  }
  void Exec(const TableSpec& t, const std::string& sql, std::span<const Value> row) {
    SQLite::Statement& s = Prepare(sql);
    BindRow(s, t, row);
    s.exec();
  }
  std::vector<engine::LedgerRow> LedgerRows(SQLite::Statement& q) {
    std::vector<engine::LedgerRow> out;
    Each(q, [&](const engine::RowView& r) {
      out.push_back(tables::kLedgerCodec.Read(r));
      return true;
    });
    return out;
  }

  SqliteEngine& engine_;
  Connection& conn_;
  std::vector<std::string> deferred_indexes_;  // CREATE INDEX statements to run before COMMIT
};

class SqliteEngine : public engine::Engine {
 public:
  SqliteEngine(std::unique_ptr<Connection> conn, const StorageConfig& config, bool read_only)
      : conn_(std::move(conn)), config_(config), read_only_(read_only), where_(conn_->path().string()) {}

  std::string_view name() const override { return "sqlite"; }
  const std::string& where() const override { return where_; }
  int SchemaVersion() override {
    std::lock_guard lock(mu_);
    return conn_->schema_version();
  }

  void Write(const std::function<void(engine::WriteTxn&)>& fn) override {
    std::lock_guard lock(mu_);
    if (read_only_) {
      throw Error::Internal(fmt::format("{} was opened read-only; nothing may be written", where_));
    }
    if (in_write_) {
      fn(*txn_);
      return;
    }
    conn_->Write([&](WriteTxn&) {
      in_write_ = true;
      struct Reset {
        SqliteEngine* e;
        ~Reset() {
          e->in_write_ = false;
          e->txn_->ForgetDeferredIndexes();
        }
      } reset{this};
      fn(*txn_);
      txn_->BuildDeferredIndexes();
    });
  }
  void Read(const std::function<void(engine::ReadTxn&)>& fn) override {
    std::lock_guard lock(mu_);
    conn_->Read([&] { fn(*txn_); });
  }
  void Snapshot(const std::function<void(engine::ReadTxn&)>& fn) override {
    std::lock_guard lock(mu_);
    if (in_write_ || in_snapshot_ || sqlite3_get_autocommit(conn_->db().getHandle()) == 0) {
      Read(fn);  // already inside a transaction: it is the snapshot
      return;
    }
    conn_->Read([&] {
      conn_->db().exec("BEGIN");
      in_snapshot_ = true;
      struct End {
        SqliteEngine* e;
        ~End() {
          e->in_snapshot_ = false;
          e->conn_->ResetAll();
          try {
            if (sqlite3_get_autocommit(e->conn_->db().getHandle()) == 0) e->conn_->db().exec("COMMIT");
          } catch (...) {
            // A read transaction has nothing to lose.
          }
        }
      } end{this};
      fn(*txn_);
    });
  }

  int64_t WaitForEvents(int64_t after_seq, std::chrono::milliseconds timeout) override {
    // SQLite has no notification between processes: poll the newest seq, a
    // lookup in the primary key, with a backoff up to 50 ms.
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + timeout;
    for (int wait_ms = 1;; wait_ms = std::min(50, wait_ms * 2)) {
      int64_t newest = 0;
      Read([&](engine::ReadTxn&) {
        newest = conn_->db().execAndGet("SELECT coalesce(max(seq), 0) FROM events").getInt64();
      });
      if (newest > after_seq) return newest;
      if (Clock::now() >= deadline) return after_seq;
      std::this_thread::sleep_for(
          std::min<Clock::duration>(std::chrono::milliseconds(wait_ms), deadline - Clock::now()));
    }
  }

  std::vector<std::string> CheckIntegrity() override {
    std::vector<std::string> problems;
    Read([&](engine::ReadTxn&) {
      SQLite::Statement q(conn_->db(), "PRAGMA integrity_check");
      while (q.executeStep()) {
        const std::string line = q.getColumn(0).getString();
        if (line != "ok") problems.push_back(line);
      }
    });
    return problems;
  }

  std::shared_ptr<void> BulkReads() override {
    // Memory-mapped pages touched once would be counted in the process's
    // resident memory (hundreds of MB for a large log): read them instead.
    int64_t saved = 0;
    Read([&](engine::ReadTxn&) {
      saved = conn_->db().execAndGet("PRAGMA mmap_size").getInt64();
      conn_->db().exec("PRAGMA mmap_size=0");
    });
    return std::shared_ptr<void>(nullptr, [this, saved](void*) {
      std::lock_guard lock(mu_);
      try {
        conn_->db().exec(fmt::format("PRAGMA mmap_size={}", saved));
      } catch (...) {
        // Only a performance setting; the connection keeps working without it.
      }
    });
  }

  std::shared_ptr<void> BulkWrites() override {
    std::lock_guard lock(mu_);
    if (read_only_ || in_write_ || in_snapshot_ || !conn_->EnterRollbackJournal()) return nullptr;
    return std::shared_ptr<void>(nullptr, [this](void*) {
      std::lock_guard lock(mu_);
      conn_->LeaveRollbackJournal();
    });
  }

 private:
  friend class SqliteTxn;
  std::recursive_mutex mu_;
  std::unique_ptr<Connection> conn_;
  StorageConfig config_;
  bool read_only_;
  std::string where_;
  bool in_write_ = false;
  bool in_snapshot_ = false;
  std::unordered_map<const TableSpec*, TableSql> sql_;
  std::unique_ptr<SqliteTxn> txn_ = std::make_unique<SqliteTxn>(*this);
};

SqliteTxn::SqliteTxn(SqliteEngine& e) : engine_(e), conn_(*e.conn_) {}

const TableSql& SqliteTxn::Sql(const TableSpec& t) {
  auto it = engine_.sql_.find(&t);
  if (it == engine_.sql_.end()) it = engine_.sql_.emplace(&t, BuildSql(t)).first;
  return it->second;
}

}  // namespace

Connection& ConnectionOf(engine::ReadTxn& txn) {
  auto* sqlite_txn = dynamic_cast<SqliteTxn*>(&txn);
  if (sqlite_txn == nullptr)
    throw Error::Internal("a SQLite-only operation was given another engine's transaction");
  return sqlite_txn->connection();
}

std::unique_ptr<engine::Engine> OpenSqliteEngine(const std::filesystem::path& db_path,
                                                 const StorageConfig& config, bool create) {
  return std::make_unique<SqliteEngine>(std::make_unique<Connection>(db_path, config, create), config, false);
}

std::unique_ptr<engine::Engine> OpenSqliteEngineReadOnly(const std::filesystem::path& db_path,
                                                         const StorageConfig& config) {
  std::error_code ec;
  if (!std::filesystem::exists(db_path, ec)) return nullptr;
  try {
    return std::make_unique<SqliteEngine>(
        std::make_unique<Connection>(db_path, config, Connection::kReadOnly), config, true);
  } catch (const Error&) {
    return nullptr;  // not readable: callers then assume an empty store
  }
}

}  // namespace prodigy::internal
