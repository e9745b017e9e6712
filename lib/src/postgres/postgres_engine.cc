// engine::Engine on PostgreSQL. One database holds many repositories: every
// statement names the repository (repo_id = $1) and every key starts with it.
// Generic row statements are built once per table from its TableSpec, as in
// the SQLite engine; the queries particular to one kind are spelled out here.
//
// Seq order is commit order: each write transaction first locks its
// repository's row (SELECT ... FOR UPDATE), takes event seqs from its
// last_seq counter and stores the new value before COMMIT. Writers of one
// repository therefore commit one after the other, and a reader that paged up
// to seq N can never later find a committed event with a seq <= N (the
// BIGSERIAL trap of dagster#33741). Readers take no lock.
#include "postgres/postgres_engine.h"

#include <chrono>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <variant>

#include <fmt/format.h>

#include "engine/tables.h"
#include "postgres/connection.h"
#include "postgres/migrations.h"
#include "prodigy/storage.h"

namespace prodigy::internal {
namespace {

namespace tables = engine::tables;
using engine::Column;
using engine::ColumnType;
using engine::RowFn;
using engine::TableSpec;
using engine::Value;
using pg::Param;
using pg::Result;

// Parameters of one statement, numbered $1, $2, ... in the order added. The
// repository id is always $1.
class Binds {
 public:
  explicit Binds(int64_t repo_id) { Add(repo_id); }

  std::string Add(int64_t v) {
    owned_.push_back(std::to_string(v));
    params_.emplace_back(owned_.back());
    return Next();
  }
  std::string Add(std::string_view v) {
    owned_.emplace_back(v);
    params_.emplace_back(owned_.back());
    return Next();
  }
  std::string AddNull() {
    params_.emplace_back();
    return Next();
  }
  std::string Add(std::optional<std::string_view> v) { return v ? Add(*v) : AddNull(); }
  std::string Add(std::optional<int64_t> v) { return v ? Add(*v) : AddNull(); }
  // A column value, stored as the SQLite engine stores it: "" is NULL unless
  // the column keeps empty strings; blobs are sent as bytes.
  std::string Add(const Value& v, const Column& c) {
    if (const auto* n = std::get_if<int64_t>(&v)) return Add(*n);
    const std::string_view text = engine::TextOf(v);
    if (engine::IsNull(v) || (text.empty() && !c.keep_empty && c.type != ColumnType::kBlob)) return AddNull();
    if (c.type == ColumnType::kBlob) {
      owned_.emplace_back(text);
      params_.push_back(Param::Bytes(owned_.back()));
      return Next();
    }
    return Add(text);
  }
  const std::vector<Param>& params() const { return params_; }

 private:
  std::string Next() const { return fmt::format("${}", params_.size()); }
  std::deque<std::string> owned_;  // stable addresses for the string_views in params_
  std::vector<Param> params_;
};

// One row of a result (binary format), addressed by the table's column index.
class ResultRow : public engine::RowView {
 public:
  ResultRow(const Result& res, int row) : res_(res), row_(row) {}
  bool IsNull(size_t i) const override { return res_.IsNull(row_, static_cast<int>(i)); }
  int64_t Int(size_t i) const override { return IsNull(i) ? 0 : res_.Int(row_, static_cast<int>(i)); }
  std::string_view Text(size_t i) const override {
    return IsNull(i) ? std::string_view() : res_.Text(row_, static_cast<int>(i));
  }
  void set_row(int row) { row_ = row; }

 private:
  const Result& res_;
  int row_;
};

void Each(const Result& res, const RowFn& fn) {
  ResultRow row(res, 0);
  for (int i = 0; i < res.rows(); ++i) {
    row.set_row(i);
    if (!fn(row)) break;
  }
}

std::string ColumnList(const TableSpec& t) {
  std::string out;
  for (const Column& c : t.columns) out += (out.empty() ? "" : ", ") + std::string(c.name);
  return out;
}

// "a = $2 AND b = $3" for the first n columns, parameters starting at `first`.
std::string KeyMatch(const TableSpec& t, size_t n, int first) {
  std::string out = "repo_id = $1";
  for (size_t i = 0; i < n; ++i) out += fmt::format(" AND {} = ${}", t.columns[i].name, first + i);
  return out;
}

// The generic statements of one table.
struct TableSql {
  std::string get, scan[3][2], upsert, insert, remove, detach, groups, count;
};

TableSql BuildSql(const TableSpec& t) {
  TableSql q;
  const std::string all = ColumnList(t);
  q.get = fmt::format("SELECT {} FROM {} WHERE {}", all, t.name, KeyMatch(t, t.key_columns, 2));
  for (size_t n = 0; n <= 2 && n <= t.key_columns; ++n) {
    for (int desc = 0; desc < 2; ++desc) {
      std::string order;
      for (size_t i = 0; i < t.key_columns; ++i) {
        order += fmt::format("{}{}{}", i ? ", " : "", t.columns[i].name, desc ? " DESC" : "");
      }
      q.scan[n][desc] =
          fmt::format("SELECT {} FROM {} WHERE {} ORDER BY {}", all, t.name, KeyMatch(t, n, 2), order);
    }
  }
  std::string cols = "repo_id", params = "$1", keys = "repo_id", sets;
  int p = 1;
  for (size_t i = 0; i < t.columns.size(); ++i) {
    const Column& c = t.columns[i];
    if (c.generated) continue;
    cols += fmt::format(", {}", c.name);
    params += fmt::format(", ${}", ++p);
    if (i < t.key_columns) {
      keys += fmt::format(", {}", c.name);
    } else {
      sets += fmt::format("{}{} = EXCLUDED.{}", sets.empty() ? "" : ", ", c.name, c.name);
    }
  }
  q.insert = fmt::format("INSERT INTO {} ({}) VALUES ({})", t.name, cols, params);
  q.upsert = fmt::format("{} ON CONFLICT ({}) DO {}", q.insert, keys,
                         sets.empty() ? "NOTHING" : "UPDATE SET " + sets);
  q.remove = fmt::format("DELETE FROM {} WHERE {}", t.name, KeyMatch(t, t.key_columns, 2));
  if (!t.source_column.empty()) {
    q.detach = fmt::format("UPDATE {0} SET {1} = NULL WHERE {2} AND {1} = ${3}", t.name, t.source_column,
                           KeyMatch(t, t.key_columns, 2), t.key_columns + 2);
  }
  if (!t.group_column.empty()) {
    q.groups =
        fmt::format("SELECT DISTINCT {0} FROM {1} WHERE repo_id = $1 ORDER BY {0}", t.group_column, t.name);
  }
  q.count = fmt::format("SELECT count(*) FROM {} WHERE repo_id = $1", t.name);
  return q;
}

// The WHERE clause of an event query; also used by count, group and delete.
std::string EventWhere(const EventQuery& q, Binds* b) {
  std::string where = "repo_id = $1 AND seq > " + b->Add(q.after_seq);
  if (q.before_seq) where += " AND seq < " + b->Add(*q.before_seq);
  if (q.job_id) where += " AND job_id = " + b->Add(std::string_view(*q.job_id));
  if (!q.types.empty()) {
    where += " AND event_name IN (";
    for (size_t i = 0; i < q.types.size(); ++i) {
      where += (i ? ", " : "") + b->Add(std::string_view(NormalizeEventType(q.types[i])));
    }
    where += ")";
  }
  if (q.agent_id) where += " AND agent_id = " + b->Add(std::string_view(*q.agent_id));
  if (q.since_ns) where += " AND ts_ns >= " + b->Add(*q.since_ns);
  if (q.until_ns) where += " AND ts_ns < " + b->Add(*q.until_ns);
  return where;
}

// Rows of a DELETE ... RETURNING <group> as a Removed (count and distinct groups).
engine::Removed RemovedFrom(const Result& res) {
  engine::Removed out;
  for (int i = 0; i < res.rows(); ++i) {
    out.count += res.Int(i, 1);
    out.jobs.emplace_back(res.Text(i, 0));
  }
  return out;
}

class PostgresEngine;

// Reads and writes of one engine; like the SQLite engine's, one object is the
// ReadTxn of Read/Snapshot and the WriteTxn of Write.
class PostgresTxn : public engine::WriteTxn {
 public:
  explicit PostgresTxn(PostgresEngine& e);

  // ---- generic rows ----
  bool Get(const TableSpec& t, std::span<const Value> key, const RowFn& fn) override {
    Binds b(repo_id_);
    AddKey(&b, t, key);
    Result res = Rows(Sql(t).get, b);
    if (res.rows() == 0) return false;
    ResultRow row(res, 0);
    fn(row);
    return true;
  }
  void Scan(const TableSpec& t, std::span<const Value> prefix, bool descending, const RowFn& fn) override {
    if (prefix.size() > 2 || prefix.size() > t.key_columns) {
      throw Error::Internal(fmt::format("scan of {} by {} key columns", t.name, prefix.size()));
    }
    Binds b(repo_id_);
    AddKey(&b, t, prefix);
    Each(Rows(Sql(t).scan[prefix.size()][descending ? 1 : 0], b), fn);
  }
  std::vector<std::string> Groups(const TableSpec& t) override {
    Result res = Rows(Sql(t).groups, Binds(repo_id_));
    std::vector<std::string> out;
    for (int i = 0; i < res.rows(); ++i) out.emplace_back(res.Text(i, 0));
    return out;
  }
  int64_t Count(const TableSpec& t) override { return Scalar(Sql(t).count, Binds(repo_id_)); }

  void Put(const TableSpec& t, std::span<const Value> row) override {
    if (t.columns[0].generated) {
      throw Error::Internal(fmt::format("Put on {}, whose key the engine assigns", t.name));
    }
    Binds b(repo_id_);
    AddRow(&b, t, row);
    Rows(Sql(t).upsert, b);
  }
  bool Delete(const TableSpec& t, std::span<const Value> key) override {
    Binds b(repo_id_);
    AddKey(&b, t, key);
    return Rows(Sql(t).remove, b).Affected() > 0;
  }
  void Detach(const TableSpec& t, std::span<const Value> key, int64_t source_id) override {
    Binds b(repo_id_);
    AddKey(&b, t, key);
    b.Add(source_id);
    Rows(Sql(t).detach, b);
  }

  // ---- events ----
  void QueryEvents(const EventQuery& query, int64_t limit, const RowFn& fn) override {
    SelectEvents(query, "", limit, fn);
  }
  void NewestEvents(const EventQuery& query, int64_t limit, const RowFn& fn) override {
    SelectEvents(query, " DESC", limit, fn);
  }
  void SelectEvents(const EventQuery& query, const char* direction, int64_t limit, const RowFn& fn) {
    Binds b(repo_id_);
    const std::string where = EventWhere(query, &b);
    Each(Rows(fmt::format("SELECT {} FROM events WHERE {} ORDER BY seq{} LIMIT {}",
                          ColumnList(tables::kEvents), where, direction, limit),
              b),
         fn);
  }
  int64_t LastEventSeq() override {
    return Scalar("SELECT coalesce(max(seq), 0) FROM events WHERE repo_id = $1", Binds(repo_id_));
  }
  int64_t CountEvents(const EventQuery& query) override {
    Binds b(repo_id_);
    const std::string where = EventWhere(query, &b);
    return Scalar(fmt::format("SELECT count(*) FROM events WHERE {}", where), b);
  }
  std::vector<GroupCount> GroupEvents(const EventQuery& query, EventGroupBy by) override {
    const char* column = by == EventGroupBy::kType    ? "event_name"
                         : by == EventGroupBy::kAgent ? "agent_id"
                                                      : "job_id";
    Binds b(repo_id_);
    const std::string where = EventWhere(query, &b);
    Result res = Rows(fmt::format("SELECT coalesce({0}, ''), count(*) FROM events WHERE {1} GROUP BY 1 "
                                  "ORDER BY 2 DESC, 1",
                                  column, where),
                      b);
    std::vector<GroupCount> out;
    for (int i = 0; i < res.rows(); ++i) out.push_back({std::string(res.Text(i, 0)), res.Int(i, 1)});
    return out;
  }
  std::vector<engine::EventJobStats> EventJobs() override {
    Result res = Rows(
        "SELECT job_id, count(*), min(ts_ns), max(ts_ns), count(*) FILTER (WHERE event_name = "
        "'job_started'), "
        "count(*) FILTER (WHERE event_name = 'job_completed'), count(*) FILTER (WHERE event_name = "
        "'job_failed') "
        "FROM events WHERE repo_id = $1 GROUP BY job_id ORDER BY max(seq) DESC",
        Binds(repo_id_));
    std::vector<engine::EventJobStats> out;
    ResultRow row(res, 0);
    for (int i = 0; i < res.rows(); ++i) {
      row.set_row(i);
      out.push_back({std::string(row.Text(0)), row.Int(1), row.OptInt(2), row.OptInt(3), row.Int(4),
                     row.Int(5), row.Int(6)});
    }
    return out;
  }
  void EventLog(std::string_view job_id, int64_t after_seq,
                const std::function<bool(int64_t, std::string_view)>& fn) override {
    Binds b(repo_id_);
    b.Add(job_id);
    b.Add(after_seq);
    Each(Rows("SELECT seq, json FROM events WHERE repo_id = $1 AND job_id = $2 AND seq > $3 ORDER BY seq", b),
         [&](const engine::RowView& r) { return fn(r.Int(0), r.Text(1)); });
  }
  // The hint is SQLite's (docs/performance.md): PostgreSQL keeps its indexes row by row.
  void DeferEventIndexes() override {}
  int64_t AppendEvent(std::span<const Value> row) override {
    RequireWrite();
    const int64_t seq = ++next_seq_;
    Binds b(repo_id_);
    b.Add(seq);
    AddRow(&b, tables::kEvents, row);
    Rows(EventInsertSql(), b);
    return seq;
  }
  engine::Removed DeleteEvents(const EventQuery& query) override {
    Binds b(repo_id_);
    const std::string where = EventWhere(query, &b);
    return RemovedFrom(Rows(fmt::format("WITH d AS (DELETE FROM events WHERE {} RETURNING job_id) "
                                        "SELECT job_id, count(*) FROM d GROUP BY job_id ORDER BY job_id",
                                        where),
                            b));
  }
  engine::Removed DeleteImportedEvents(int64_t source_id, int64_t first_seq, int64_t last_seq) override {
    Binds b(repo_id_);
    b.Add(first_seq);
    b.Add(last_seq);
    b.Add(source_id);
    return RemovedFrom(
        Rows("WITH d AS (DELETE FROM events WHERE repo_id = $1 AND seq BETWEEN $2 AND $3 "
             "AND source_id = $4 RETURNING job_id) SELECT job_id, count(*) FROM d GROUP BY job_id",
             b));
  }

  // ---- DLQ ----
  void ListDlq(const DlqFilter& f, const RowFn& fn) override {
    // A NULL parameter disables its filter.
    static const std::string sql = fmt::format(
        "SELECT {} FROM dlq_items WHERE repo_id = $1 AND ($2::text IS NULL OR job_id = $2) "
        "AND ($3::text IS NULL OR strpos(error_signature, $3) > 0) AND ($4::text IS NULL OR error_type = $4) "
        "AND ($5::bigint IS NULL OR reprocess_eligible = $5) "
        "AND ($6::bigint IS NULL OR (reprocess_requested_at IS NOT NULL) = ($6 = 1)) "
        "AND ($7::bigint IS NULL OR last_attempt_ns >= $7) AND ($8::bigint IS NULL OR last_attempt_ns < $8) "
        "ORDER BY last_attempt_ns DESC NULLS LAST, job_id, item_id LIMIT $9",
        ColumnList(tables::kDlqItems));
    auto flag = [](const std::optional<bool>& v) {
      return v ? std::optional<int64_t>(*v ? 1 : 0) : std::nullopt;
    };
    Binds b(repo_id_);
    b.Add(OptView(f.job_id));
    b.Add(OptView(f.error_signature));
    b.Add(OptView(f.error_type));
    b.Add(flag(f.reprocess_eligible));
    b.Add(flag(f.reprocess_requested));
    b.Add(f.since_ns);
    b.Add(f.until_ns);
    b.Add(f.limit ? std::optional<int64_t>(*f.limit) : std::nullopt);
    Each(Rows(sql, b), fn);
  }
  DlqStats DlqStatistics(std::string_view job_id) override {
    DlqStats stats;
    Binds b(repo_id_);
    b.Add(job_id.empty() ? std::nullopt : std::optional(job_id));
    Result res = Rows(
        "SELECT count(*), coalesce(sum(reprocess_eligible), 0)::bigint, "
        "coalesce(sum(manual_review_required), 0)::bigint, "
        "count(reprocess_requested_at), min(first_attempt), max(last_attempt) FROM dlq_items "
        "WHERE repo_id = $1 AND ($2::text IS NULL OR job_id = $2)",
        b);
    stats.total_items = res.Int(0, 0);
    stats.eligible_for_reprocess = res.Int(0, 1);
    stats.requiring_manual_review = res.Int(0, 2);
    stats.marked_for_reprocess = res.Int(0, 3);
    if (!res.IsNull(0, 4)) stats.oldest_item = std::string(res.Text(0, 4));
    if (!res.IsNull(0, 5)) stats.newest_item = std::string(res.Text(0, 5));
    Result groups = Rows(
        "SELECT coalesce(error_signature, ''), count(*) FROM dlq_items WHERE repo_id = $1 "
        "AND ($2::text IS NULL OR job_id = $2) GROUP BY 1 ORDER BY 2 DESC, 1",
        b);
    for (int i = 0; i < groups.rows(); ++i) {
      stats.error_categories.push_back({std::string(groups.Text(i, 0)), groups.Int(i, 1)});
    }
    return stats;
  }
  engine::Removed PurgeDlq(int64_t cutoff_ns, std::string_view job_id) override {
    Binds b(repo_id_);
    b.Add(cutoff_ns);
    b.Add(job_id.empty() ? std::nullopt : std::optional(job_id));
    return RemovedFrom(
        Rows("WITH d AS (DELETE FROM dlq_items WHERE repo_id = $1 AND last_attempt_ns < $2 "
             "AND ($3::text IS NULL OR job_id = $3) RETURNING job_id) "
             "SELECT job_id, count(*) FROM d GROUP BY job_id ORDER BY job_id",
             b));
  }
  int64_t MarkDlqJob(std::string_view job_id, std::string_view now) override {
    Binds b(repo_id_);
    b.Add(job_id);
    b.Add(now);
    return Rows(
               "UPDATE dlq_items SET reprocess_requested_at = $3 WHERE repo_id = $1 AND job_id = $2 "
               "AND reprocess_eligible = 1",
               b)
        .Affected();
  }
  bool MarkDlqItem(std::string_view job_id, std::string_view item_id, std::string_view now) override {
    Binds b(repo_id_);
    b.Add(job_id);
    b.Add(item_id);
    b.Add(now);
    return Rows(
               "UPDATE dlq_items SET reprocess_requested_at = $4 WHERE repo_id = $1 AND job_id = $2 "
               "AND item_id = $3",
               b)
               .Affected() > 0;
  }

  // ---- job state ----
  std::optional<int64_t> MaxStateVersion(std::string_view job_id) override {
    Binds b(repo_id_);
    b.Add(job_id);
    Result res = Rows("SELECT max(version) FROM job_states WHERE repo_id = $1 AND job_id = $2", b);
    return res.OptInt(0, 0);
  }
  void LatestStates(const RowFn& fn) override {
    static const std::string sql = fmt::format(
        "SELECT DISTINCT ON (job_id) {} FROM job_states WHERE repo_id = $1 ORDER BY job_id, version DESC",
        ColumnList(tables::kJobStates));
    // DISTINCT ON needs job_id first; the list order (newest write first) is applied outside.
    static const std::string ordered =
        fmt::format("SELECT * FROM ({}) AS latest ORDER BY written_at DESC, job_id", sql);
    Each(Rows(ordered, Binds(repo_id_)), fn);
  }
  void PruneStates(std::string_view job_id, int64_t keep) override {
    Binds b(repo_id_);
    b.Add(job_id);
    b.Add(keep);
    Rows(
        "DELETE FROM job_states WHERE repo_id = $1 AND job_id = $2 AND version NOT IN "
        "(SELECT version FROM job_states WHERE repo_id = $1 AND job_id = $2 ORDER BY version DESC LIMIT $3)",
        b);
  }

  // ---- sessions, checkpoints ----
  void ListSessions(std::optional<std::string_view> status, const RowFn& fn) override {
    static const std::string sql = fmt::format(
        "SELECT {} FROM sessions WHERE repo_id = $1 AND ($2::text IS NULL OR status = $2) "
        "ORDER BY updated_at DESC, session_id",
        ColumnList(tables::kSessions));
    Binds b(repo_id_);
    b.Add(status);
    Each(Rows(sql, b), fn);
  }
  void ListCheckpoints(std::optional<int64_t> limit, const RowFn& fn) override {
    static const std::string sql = fmt::format(
        "SELECT {} FROM workflow_checkpoints WHERE repo_id = $1 "
        "ORDER BY ts_ns DESC NULLS LAST, workflow_id DESC LIMIT $2",
        ColumnList(tables::kWorkflowCheckpoints));
    Binds b(repo_id_);
    b.Add(limit);
    Each(Rows(sql, b), fn);
  }

  // ---- repository, meta, counts ----
  std::optional<std::string> RecordedRepository() override {
    Result res = Rows("SELECT canonical_path FROM repositories WHERE id = $1", Binds(repo_id_));
    return res.rows() ? res.OptText(0, 0) : std::nullopt;
  }
  std::string ClaimRepository(std::string_view canonical_path, std::string_view, std::string_view) override {
    // The row was created when the engine opened, by whichever machine came
    // first; the key, not the path, identifies a shared repository.
    return RecordedRepository().value_or(std::string(canonical_path));
  }
  std::optional<std::string> Meta(std::string_view key) override {
    Binds b(repo_id_);
    b.Add(key);
    Result res = Rows("SELECT value FROM meta WHERE repo_id = $1 AND key = $2", b);
    return res.rows() ? res.OptText(0, 0) : std::nullopt;
  }
  void SetMeta(std::string_view key, std::string_view value) override {
    Binds b(repo_id_);
    b.Add(key);
    b.Add(value);
    Rows(
        "INSERT INTO meta (repo_id, key, value) VALUES ($1, $2, $3) "
        "ON CONFLICT (repo_id, key) DO UPDATE SET value = EXCLUDED.value",
        b);
  }
  // ---- leases and fencing tokens (migrations/postgres/0002_leases.sql) ----
  // Writers of one repository serialize on its counter row (Engine::Write),
  // so a read-then-write inside a write transaction is atomic.
  int64_t Fence(std::string_view key) override {
    Binds b(repo_id_);
    b.Add(key);
    return Rows("SELECT token FROM lease_fences WHERE repo_id = $1 AND key = $2", b).OptInt(0, 0).value_or(0);
  }
  std::optional<Lease> CurrentLease(std::string_view key, int64_t now_ns) override {
    Binds b(repo_id_);
    b.Add(key);
    b.Add(now_ns);
    std::vector<Lease> found =
        LeasesOf(Rows("SELECT key, holder, token, expires_at_ns FROM leases "
                      "WHERE repo_id = $1 AND key = $2 AND expires_at_ns > $3",
                      b));
    if (found.empty()) return std::nullopt;
    return found[0];
  }
  std::vector<Lease> ListLeases(int64_t now_ns) override {
    Binds b(repo_id_);
    b.Add(now_ns);
    return LeasesOf(
        Rows("SELECT key, holder, token, expires_at_ns FROM leases "
             "WHERE repo_id = $1 AND expires_at_ns > $2 ORDER BY key",
             b));
  }
  int64_t RaiseFence(std::string_view key, int64_t token) override {
    const int64_t before = Fence(key);
    if (token > before) {
      Binds b(repo_id_);
      b.Add(key);
      b.Add(token);
      b.Add(std::string_view(FormatTimestamp(NowNs())));
      Rows(
          "INSERT INTO lease_fences (repo_id, key, token, updated_at) VALUES ($1, $2, $3, $4) "
          "ON CONFLICT (repo_id, key) DO UPDATE SET token = EXCLUDED.token, updated_at = EXCLUDED.updated_at",
          b);
    }
    return before;
  }
  engine::LeaseGrant AcquireLease(std::string_view key, std::string_view holder, int64_t now_ns,
                                  int64_t expires_at_ns) override {
    if (std::optional<Lease> current = CurrentLease(key, now_ns)) return {false, *current};
    const int64_t token = Fence(key) + 1;
    RaiseFence(key, token);
    Binds b(repo_id_);
    b.Add(key);
    b.Add(holder);
    b.Add(token);
    b.Add(now_ns);
    b.Add(expires_at_ns);
    Rows(
        "INSERT INTO leases (repo_id, key, holder, token, acquired_at_ns, expires_at_ns) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (repo_id, key) DO UPDATE SET holder = EXCLUDED.holder, "
        "token = EXCLUDED.token, acquired_at_ns = EXCLUDED.acquired_at_ns, expires_at_ns = "
        "EXCLUDED.expires_at_ns",
        b);
    return {true, Lease{std::string(key), std::string(holder), token, expires_at_ns}};
  }
  bool ExtendLease(std::string_view key, int64_t token, int64_t now_ns, int64_t expires_at_ns) override {
    Binds b(repo_id_);
    b.Add(key);
    b.Add(token);
    b.Add(now_ns);
    b.Add(expires_at_ns);
    return Rows(
               "UPDATE leases SET expires_at_ns = $5 "
               "WHERE repo_id = $1 AND key = $2 AND token = $3 AND expires_at_ns > $4",
               b)
               .Affected() == 1;
  }
  bool ReleaseLease(std::string_view key, int64_t token, int64_t now_ns) override {
    Binds b(repo_id_);
    b.Add(key);
    b.Add(token);
    b.Add(now_ns);
    return Rows("DELETE FROM leases WHERE repo_id = $1 AND key = $2 AND token = $3 AND expires_at_ns > $4", b)
               .Affected() == 1;
  }
  std::optional<Lease> ForceReleaseLease(std::string_view key, int64_t now_ns) override {
    std::optional<Lease> live = CurrentLease(key, now_ns);
    Binds b(repo_id_);
    b.Add(key);
    Rows("DELETE FROM leases WHERE repo_id = $1 AND key = $2", b);
    return live;  // an expired row is deleted too, but the key was free
  }

  TableCounts Counts() override {
    Result res = Rows(
        "SELECT (SELECT count(*) FROM events WHERE repo_id = $1), "
        "(SELECT count(*) FROM dlq_items WHERE repo_id = $1), "
        "(SELECT count(*) FROM job_states WHERE repo_id = $1), "
        "(SELECT count(*) FROM sessions WHERE repo_id = $1), "
        "(SELECT count(*) FROM workflow_checkpoints WHERE repo_id = $1), "
        "(SELECT count(*) FROM unparsed_lines WHERE repo_id = $1), "
        "(SELECT count(*) FROM import_sources WHERE repo_id = $1)",
        Binds(repo_id_));
    TableCounts c;
    c.events = res.Int(0, 0);
    c.dlq_items = res.Int(0, 1);
    c.job_states = res.Int(0, 2);
    c.sessions = res.Int(0, 3);
    c.workflow_checkpoints = res.Int(0, 4);
    c.unparsed_lines = res.Int(0, 5);
    c.import_sources = res.Int(0, 6);
    return c;
  }

  // ---- mirror change log: mirror files are written by the SQLite store only
  // (`export --mirrors` writes them on demand from any engine), so a
  // PostgreSQL store keeps no change log.
  std::optional<std::pair<int64_t, int64_t>> ChangeRange() override { return std::nullopt; }
  void Changes(int64_t, int64_t, const std::function<void(const engine::Change&)>&) override {}
  void LogChange(std::string_view, std::string_view, std::optional<std::string_view>) override {}
  void PruneChanges(int64_t) override {}
  void CollapseChanges() override {}

  // ---- import ledger (sync copies it; the importer writes to SQLite) ----
  std::vector<engine::LedgerRow> LedgerByPath(std::string_view path) override;
  int64_t RowsChanged(int64_t source_id) override {
    Binds b(repo_id_);
    b.Add(source_id);
    Result res = Rows("SELECT rows_changed FROM import_sources WHERE repo_id = $1 AND id = $2", b);
    return res.rows() ? res.Int(0, 0) : 0;
  }
  bool HasBlob(int64_t source_id) override {
    Binds b(repo_id_);
    b.Add(source_id);
    return Rows("SELECT 1 FROM source_blobs WHERE repo_id = $1 AND source_id = $2 LIMIT 1", b).rows() > 0;
  }
  void Blob(int64_t source_id, const std::function<bool(int64_t, std::string_view)>& fn) override {
    Binds b(repo_id_);
    b.Add(source_id);
    Each(Rows("SELECT chunk, data FROM source_blobs WHERE repo_id = $1 AND source_id = $2 ORDER BY chunk", b),
         [&](const engine::RowView& r) { return fn(r.Int(0), r.Text(1)); });
  }
  void ImportedEvents(int64_t source_id, int64_t first_seq, int64_t last_seq,
                      const std::function<bool(int64_t, std::string_view)>& fn) override {
    Binds b(repo_id_);
    b.Add(first_seq);
    b.Add(last_seq);
    b.Add(source_id);
    Each(Rows("SELECT line_no, json FROM events "
              "WHERE repo_id = $1 AND seq BETWEEN $2 AND $3 AND source_id = $4 ORDER BY seq",
              b),
         [&](const engine::RowView& r) { return fn(r.Int(0), r.Text(1)); });
  }
  int64_t CountImportedEvents(int64_t source_id, int64_t first_seq, int64_t last_seq) override {
    Binds b(repo_id_);
    b.Add(first_seq);
    b.Add(last_seq);
    b.Add(source_id);
    return Scalar(
        "SELECT count(*) FROM events WHERE repo_id = $1 AND seq BETWEEN $2 AND $3 AND source_id = $4", b);
  }
  void UnparsedLines(int64_t source_id, int64_t from_line,
                     const std::function<bool(int64_t, std::string_view)>& fn) override {
    Binds b(repo_id_);
    b.Add(source_id);
    b.Add(from_line);
    Each(
        Rows(
            "SELECT line_no, raw FROM unparsed_lines WHERE repo_id = $1 AND source_id = $2 AND line_no >= $3 "
            "ORDER BY line_no",
            b),
        [&](const engine::RowView& r) { return fn(r.Int(0), r.Text(1)); });
  }
  int64_t CountUnparsed(int64_t source_id) override {
    Binds b(repo_id_);
    b.Add(source_id);
    return Scalar("SELECT count(*) FROM unparsed_lines WHERE repo_id = $1 AND source_id = $2", b);
  }
  int64_t LedgerInsert(const engine::LedgerRow& row) override;
  void LedgerUpdate(const engine::LedgerRow& row) override;
  void LedgerSetStatus(int64_t id, std::string_view status, std::string_view now) override {
    Binds b(repo_id_);
    b.Add(id);
    b.Add(status);
    b.Add(now);
    Rows(
        "UPDATE import_sources SET status = $3, "
        "verified_at = CASE WHEN $3 = 'verified' THEN $4 ELSE verified_at END, "
        "removed_at = CASE WHEN $3 = 'removed' THEN $4 ELSE removed_at END WHERE repo_id = $1 AND id = $2",
        b);
  }
  void LedgerDelete(int64_t id) override {
    Binds b(repo_id_);
    b.Add(id);
    for (const char* sql : {"DELETE FROM unparsed_lines WHERE repo_id = $1 AND source_id = $2",
                            "DELETE FROM source_blobs WHERE repo_id = $1 AND source_id = $2",
                            "DELETE FROM import_sources WHERE repo_id = $1 AND id = $2"}) {
      Rows(sql, b);
    }
  }
  void AppendBlob(int64_t source_id, int64_t chunk, std::string_view bytes) override {
    static const Column kData{"data", ColumnType::kBlob};
    Binds b(repo_id_);
    b.Add(source_id);
    b.Add(chunk);
    b.Add(Value(bytes), kData);
    Rows("INSERT INTO source_blobs (repo_id, source_id, chunk, data) VALUES ($1, $2, $3, $4)", b);
  }
  void InsertUnparsed(int64_t source_id, int64_t line_no, std::string_view raw,
                      std::string_view reason) override {
    static const Column kRaw{"raw", ColumnType::kBlob};
    Binds b(repo_id_);
    b.Add(source_id);
    b.Add(line_no);
    b.Add(Value(raw), kRaw);
    b.Add(reason);
    Rows("INSERT INTO unparsed_lines (repo_id, source_id, line_no, raw, reason) VALUES ($1, $2, $3, $4, $5)",
         b);
  }

  // Called by the engine at the start of each write transaction with the
  // repository's counter, locked.
  void BeginWrite(int64_t last_seq) {
    next_seq_ = last_seq;
    first_seq_ = last_seq;
    writing_ = true;
  }
  void EndWrite() { writing_ = false; }
  // The counter after this transaction's appends (== the start when none).
  int64_t last_seq() const { return next_seq_; }
  bool appended() const { return next_seq_ != first_seq_; }

 private:
  static std::optional<std::string_view> OptView(const std::optional<std::string>& v) {
    return v ? std::optional<std::string_view>(*v) : std::nullopt;
  }
  void RequireWrite() const {
    if (!writing_) throw Error::Internal("an event append outside a write transaction");
  }
  const TableSql& Sql(const TableSpec& t);
  const std::string& EventInsertSql();
  Result Rows(const std::string& sql, const Binds& b);
  static std::vector<Lease> LeasesOf(const Result& res) {
    std::vector<Lease> out;
    for (int r = 0; r < res.rows(); ++r) {
      out.push_back(
          Lease{std::string(res.Text(r, 0)), std::string(res.Text(r, 1)), res.Int(r, 2), res.Int(r, 3)});
    }
    return out;
  }
  int64_t Scalar(const std::string& sql, const Binds& b) { return Rows(sql, b).Int(0, 0); }
  void AddKey(Binds* b, const TableSpec& t, std::span<const Value> key) {
    for (size_t i = 0; i < key.size(); ++i) b->Add(key[i], t.columns[i]);
  }
  // The non-generated columns, in order.
  void AddRow(Binds* b, const TableSpec& t, std::span<const Value> row) {
    for (size_t i = 0; i < t.columns.size(); ++i) {
      if (!t.columns[i].generated) b->Add(row[i], t.columns[i]);
    }
  }

  PostgresEngine& engine_;
  int64_t repo_id_;
  int64_t next_seq_ = 0;
  int64_t first_seq_ = 0;
  bool writing_ = false;
};

class PostgresEngine : public engine::Engine {
 public:
  PostgresEngine(std::unique_ptr<pg::Connection> conn, const StorageConfig& config, int64_t repo_id,
                 const std::string& repo_key)
      : conn_(std::move(conn)),
        config_(config),
        repo_id_(repo_id),
        where_(fmt::format("{} (repository '{}')", conn_->server(), repo_key)),
        channel_(fmt::format("prodigy_events_{}", repo_id)) {}

  std::string_view name() const override { return "postgres"; }
  const std::string& where() const override { return where_; }
  int SchemaVersion() override {
    std::lock_guard lock(mu_);
    return pg::SchemaVersion(*conn_);
  }

  void Write(const std::function<void(engine::WriteTxn&)>& fn) override {
    std::lock_guard lock(mu_);
    if (in_write_) {
      fn(*txn_);
      return;
    }
    in_write_ = true;
    struct Reset {
      PostgresEngine* e;
      ~Reset() {
        e->in_write_ = false;
        e->txn_->EndWrite();
      }
    } reset{this};
    conn_->Transaction([&]() {
      // The repository's counter row first: writers of one repository
      // serialize here, which makes seq order commit order.
      const std::string id = std::to_string(repo_id_);
      Result counter = conn_->Query("SELECT last_seq FROM repositories WHERE id = $1 FOR UPDATE", {id});
      if (counter.rows() != 1) {
        throw Error::NotFound(
            fmt::format("{}: the repository's row is gone (deleted on the server?); "
                        "reopen the store to create it again",
                        where_));
      }
      txn_->BeginWrite(counter.Int(0, 0));
      fn(*txn_);
      if (txn_->appended()) {
        const std::string last = std::to_string(txn_->last_seq());
        conn_->Query("UPDATE repositories SET last_seq = $2 WHERE id = $1", {id, last});
        // Delivered at COMMIT, and only then; a hint for WaitForEvents.
        if (config_.notify) conn_->Query("SELECT pg_notify($1, $2)", {channel_, last});
      }
    });
  }
  void Read(const std::function<void(engine::ReadTxn&)>& fn) override {
    std::lock_guard lock(mu_);
    if (!in_write_ && !in_snapshot_) conn_->EnsureConnected();
    fn(*txn_);
  }
  void Snapshot(const std::function<void(engine::ReadTxn&)>& fn) override {
    std::lock_guard lock(mu_);
    if (in_write_ || in_snapshot_) {
      fn(*txn_);  // already inside a transaction: it is the snapshot
      return;
    }
    conn_->EnsureConnected();
    conn_->Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    in_snapshot_ = true;
    try {
      fn(*txn_);
    } catch (...) {
      in_snapshot_ = false;
      if (!conn_->IsBroken()) PQclear(PQexec(conn_->raw(), "ROLLBACK"));
      throw;
    }
    in_snapshot_ = false;
    conn_->Exec("COMMIT");
  }

  int64_t WaitForEvents(int64_t after_seq, std::chrono::milliseconds timeout) override {
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + timeout;
    std::lock_guard wait_lock(wait_mu_);
    if (config_.notify && !listener_) {
      // Its own connection: LISTEN must not share a session with writes, and
      // waiting must not hold the engine's lock.
      listener_ = std::make_unique<pg::Connection>(config_.storage_url);
      listener_->Exec("LISTEN " + channel_);
    }
    for (int wait_ms = 5;; wait_ms = std::min(200, wait_ms * 2)) {
      int64_t newest = 0;
      Read([&](engine::ReadTxn&) {
        newest = conn_
                     ->Query("SELECT coalesce(max(seq), 0) FROM events WHERE repo_id = $1",
                             {std::to_string(repo_id_)})
                     .Int(0, 0);
      });
      if (newest > after_seq) return newest;
      const auto now = Clock::now();
      if (now >= deadline) return after_seq;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
      if (listener_) {
        // A notification is a hint; the query above is the truth. Waking at
        // least once a second also covers a missed notification.
        listener_->WaitForNotification(static_cast<int>(std::min<int64_t>(left.count() + 1, 1000)));
      } else {
        std::this_thread::sleep_for(
            std::min<Clock::duration>(std::chrono::milliseconds(wait_ms), deadline - now));
      }
    }
  }

  std::vector<std::string> CheckIntegrity() override {
    std::vector<std::string> problems;
    Read([&](engine::ReadTxn&) {
      Result res = conn_->Query(
          "SELECT last_seq, (SELECT coalesce(max(seq), 0) FROM events WHERE repo_id = $1) FROM repositories "
          "WHERE id = $1",
          {std::to_string(repo_id_)});
      if (res.rows() != 1) {
        problems.push_back(fmt::format("{}: the repository's row is missing", where_));
      } else if (res.Int(0, 1) > res.Int(0, 0)) {
        problems.push_back(
            fmt::format("{}: events reach seq {} but the repository counter is at {}; new events "
                        "would collide",
                        where_, res.Int(0, 1), res.Int(0, 0)));
      }
    });
    return problems;
  }

  std::shared_ptr<void> BulkReads() override {
    return std::shared_ptr<void>(nullptr, [](void*) {});
  }
  // PostgreSQL writes each row once (its WAL) either way.
  std::shared_ptr<void> BulkWrites() override { return BulkReads(); }

 private:
  friend class PostgresTxn;
  std::recursive_mutex mu_;
  std::mutex wait_mu_;
  std::unique_ptr<pg::Connection> conn_;
  std::unique_ptr<pg::Connection> listener_;
  StorageConfig config_;
  int64_t repo_id_;
  std::string where_;
  std::string channel_;
  bool in_write_ = false;
  bool in_snapshot_ = false;
  std::unordered_map<const TableSpec*, TableSql> sql_;
  std::string event_insert_;
  std::unique_ptr<PostgresTxn> txn_ = std::make_unique<PostgresTxn>(*this);
};

PostgresTxn::PostgresTxn(PostgresEngine& e) : engine_(e), repo_id_(e.repo_id_) {}

const TableSql& PostgresTxn::Sql(const TableSpec& t) {
  auto it = engine_.sql_.find(&t);
  if (it == engine_.sql_.end()) it = engine_.sql_.emplace(&t, BuildSql(t)).first;
  return it->second;
}

// Events get their seq from the repository counter ($2), not from a sequence.
const std::string& PostgresTxn::EventInsertSql() {
  if (engine_.event_insert_.empty()) {
    std::string cols = "repo_id, seq", params = "$1, $2";
    int p = 2;
    for (const Column& c : tables::kEvents.columns) {
      if (c.generated) continue;
      cols += fmt::format(", {}", c.name);
      params += fmt::format(", ${}", ++p);
    }
    engine_.event_insert_ = fmt::format("INSERT INTO events ({}) VALUES ({})", cols, params);
  }
  return engine_.event_insert_;
}

// The import ledger: written by the legacy importer, which runs against the
// local SQLite store only (`migrate`, then `sync --to` copies the ledger
// with the rows); read here so that `check` and `export --legacy` work on a
// repository copied to the server.
std::vector<engine::LedgerRow> PostgresTxn::LedgerByPath(std::string_view path) {
  static const std::string sql =
      fmt::format("SELECT {} FROM import_sources WHERE repo_id = $1 AND path = $2 ORDER BY id",
                  ColumnList(tables::kImportSources));
  Binds b(repo_id_);
  b.Add(path);
  std::vector<engine::LedgerRow> out;
  Each(Rows(sql, b), [&](const engine::RowView& r) {
    out.push_back(tables::kLedgerCodec.Read(r));
    return true;
  });
  return out;
}
int64_t PostgresTxn::LedgerInsert(const engine::LedgerRow& row) {
  throw Error::InvalidArgument(
      fmt::format("{}: legacy data is imported into the local SQLite store ('prodigy-store migrate' "
                  "without a storage URL), then copied with 'prodigy-store sync --to URL' ({})",
                  engine_.where_, row.path));
}
void PostgresTxn::LedgerUpdate(const engine::LedgerRow& row) { LedgerInsert(row); }

Result PostgresTxn::Rows(const std::string& sql, const Binds& b) {
  return engine_.conn_->Query(sql.c_str(), b.params(), /*binary=*/true);
}

}  // namespace

std::unique_ptr<engine::Engine> OpenPostgresEngine(const StorageConfig& config,
                                                   const PostgresRepository& repo, bool create) {
  auto conn = std::make_unique<pg::Connection>(config.storage_url);
  pg::ApplyMigrations(*conn);
  auto find = [&]() -> std::optional<int64_t> {
    Result res = conn->Query("SELECT id FROM repositories WHERE key = $1", {repo.key});
    return res.rows() ? std::optional(res.Int(0, 0)) : std::nullopt;
  };
  std::optional<int64_t> id = find();
  if (!id && !create) {
    throw Error::NotFound(
        fmt::format("PostgreSQL server {} has no repository with the key '{}' "
                    "(nothing was created); check repository_key, or copy a local "
                    "store there with 'prodigy-store sync --to URL'",
                    conn->server(), repo.key));
  }
  if (!id) {
    // Two machines may create the same key at once: the unique key decides.
    conn->Query(
        "INSERT INTO repositories (key, name, canonical_path, created_at) "
        "VALUES ($1, $2, $3, to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')) "
        "ON CONFLICT (key) DO NOTHING",
        {repo.key, repo.name, repo.canonical_path});
    id = find();
  }
  return std::make_unique<PostgresEngine>(std::move(conn), config, *id, repo.key);
}

}  // namespace prodigy::internal
