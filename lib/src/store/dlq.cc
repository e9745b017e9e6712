// GlobalStorage: the dead-letter queue.
#include <fmt/format.h>

#include "prodigy/storage.h"
#include "store/rows.h"
#include "store/storage_impl.h"
#include "util/log.h"

namespace prodigy {
namespace {

using internal::Log;
using internal::WriteTxn;

[[noreturn]] void ItemNotFound(std::string_view job_id, std::string_view item_id) {
  throw Error(ErrorCode::kNotFound,
              fmt::format("DLQ item {} of job {} does not exist; list the job's items with "
                          "'prodigy-store dlq ls --job {}'",
                          item_id, job_id, job_id));
}

}  // namespace

void GlobalStorage::AddDlqItem(std::string_view job_id, std::string_view item_json) {
  internal::ValidateId("job id", job_id);
  DlqItem item = internal::ExtractDlqItem(job_id, item_json);
  std::lock_guard lock(impl_->mu);
  impl_->Write([&](WriteTxn& txn) { internal::UpsertDlqItem(txn, item); });
  Log().debug("dlq_add job={} item={}", job_id, item.item_id);
}

std::optional<DlqItem> GlobalStorage::GetDlqItem(std::string_view job_id, std::string_view item_id) {
  internal::ValidateId("job id", job_id);
  internal::ValidateId("item id", item_id);
  static const std::string sql = fmt::format(
      "SELECT {} FROM dlq_items WHERE job_id = ?1 AND item_id = ?2", internal::kDlqColumns);
  std::lock_guard lock(impl_->mu);
  return impl_->Read([&]() -> std::optional<DlqItem> {
    SQLite::Statement& q = impl_->conn->Prepare(sql.c_str());
    q.bind(1, std::string(job_id));
    q.bind(2, std::string(item_id));
    if (!q.executeStep()) return std::nullopt;
    return internal::ReadDlqRow(q);
  });
}

std::vector<DlqItem> GlobalStorage::ListDlqItems(const DlqFilter& f) {
  if (f.job_id) internal::ValidateId("job id", *f.job_id);
  // One statement with optional filters: a NULL parameter disables its filter.
  static const std::string sql = fmt::format(
      "SELECT {} FROM dlq_items WHERE (?1 IS NULL OR job_id = ?1) "
      "AND (?2 IS NULL OR instr(error_signature, ?2) > 0) AND (?3 IS NULL OR error_type = ?3) "
      "AND (?4 IS NULL OR reprocess_eligible = ?4) "
      "AND (?5 IS NULL OR (reprocess_requested_at IS NOT NULL) = ?5) "
      "AND (?6 IS NULL OR last_attempt_ns >= ?6) AND (?7 IS NULL OR last_attempt_ns < ?7) "
      "ORDER BY last_attempt_ns DESC, job_id, item_id LIMIT ?8",
      internal::kDlqColumns);
  std::lock_guard lock(impl_->mu);
  return impl_->Read([&] {
    std::vector<DlqItem> out;
    SQLite::Statement& q = impl_->conn->Prepare(sql.c_str());
    auto bind_str = [&](int i, const std::optional<std::string>& v) {
      if (v) q.bind(i, *v); else q.bind(i);
    };
    auto bind_int = [&](int i, std::optional<int64_t> v) {
      if (v) q.bind(i, static_cast<int64_t>(*v)); else q.bind(i);
    };
    bind_str(1, f.job_id);
    bind_str(2, f.error_signature);
    bind_str(3, f.error_type);
    bind_int(4, f.reprocess_eligible ? std::optional<int64_t>(*f.reprocess_eligible ? 1 : 0) : std::nullopt);
    bind_int(5, f.reprocess_requested ? std::optional<int64_t>(*f.reprocess_requested ? 1 : 0) : std::nullopt);
    bind_int(6, f.since_ns);
    bind_int(7, f.until_ns);
    q.bind(8, static_cast<int64_t>(f.limit.value_or(-1)));
    while (q.executeStep()) out.push_back(internal::ReadDlqRow(q));
    return out;
  });
}

bool GlobalStorage::RemoveDlqItem(std::string_view job_id, std::string_view item_id) {
  internal::ValidateId("job id", job_id);
  internal::ValidateId("item id", item_id);
  std::lock_guard lock(impl_->mu);
  bool removed = false;
  impl_->Write([&](WriteTxn& txn) {
    SQLite::Statement& d = txn.Prepare("DELETE FROM dlq_items WHERE job_id = ?1 AND item_id = ?2");
    d.bind(1, std::string(job_id));
    d.bind(2, std::string(item_id));
    removed = d.exec() > 0;
    if (removed) internal::LogChange(txn, internal::kChangeDlq, job_id, item_id);
  });
  Log().debug("dlq_remove job={} item={} removed={}", job_id, item_id, removed);
  return removed;
}

DlqStats GlobalStorage::GetDlqStats(std::string_view job_id) {
  if (!job_id.empty()) internal::ValidateId("job id", job_id);
  std::lock_guard lock(impl_->mu);
  return impl_->Read([&] {
    DlqStats stats;
    // Separate statements for one job and for all: "?1 IS NULL OR job_id = ?1"
    // would keep SQLite from using the primary key, scanning every job's items.
    const bool one = !job_id.empty();
    SQLite::Statement& q = impl_->conn->Prepare(
        one ? "SELECT count(*), coalesce(sum(reprocess_eligible), 0), coalesce(sum(manual_review_required), 0), "
              "coalesce(sum(reprocess_requested_at IS NOT NULL), 0), min(first_attempt), max(last_attempt) "
              "FROM dlq_items WHERE job_id = ?1"
            : "SELECT count(*), coalesce(sum(reprocess_eligible), 0), coalesce(sum(manual_review_required), 0), "
              "coalesce(sum(reprocess_requested_at IS NOT NULL), 0), min(first_attempt), max(last_attempt) "
              "FROM dlq_items");
    if (one) q.bind(1, std::string(job_id));
    q.executeStep();
    stats.total_items = q.getColumn(0).getInt64();
    stats.eligible_for_reprocess = q.getColumn(1).getInt64();
    stats.requiring_manual_review = q.getColumn(2).getInt64();
    stats.marked_for_reprocess = q.getColumn(3).getInt64();
    if (!q.getColumn(4).isNull()) stats.oldest_item = q.getColumn(4).getString();
    if (!q.getColumn(5).isNull()) stats.newest_item = q.getColumn(5).getString();
    SQLite::Statement& g = impl_->conn->Prepare(
        one ? "SELECT coalesce(error_signature, ''), count(*) FROM dlq_items WHERE job_id = ?1 "
              "GROUP BY 1 ORDER BY 2 DESC, 1"
            : "SELECT coalesce(error_signature, ''), count(*) FROM dlq_items GROUP BY 1 ORDER BY 2 DESC, 1");
    if (one) g.bind(1, std::string(job_id));
    while (g.executeStep()) stats.error_categories.push_back({g.getColumn(0).getString(), g.getColumn(1).getInt64()});
    return stats;
  });
}

int64_t GlobalStorage::PurgeDlqItems(int64_t cutoff_ns, std::string_view job_id) {
  if (!job_id.empty()) internal::ValidateId("job id", job_id);
  std::lock_guard lock(impl_->mu);
  int64_t purged = 0;
  impl_->Write([&](WriteTxn& txn) {
    std::vector<std::string> jobs;
    SQLite::Statement& j = txn.Prepare(
        "SELECT DISTINCT job_id FROM dlq_items WHERE last_attempt_ns < ?1 AND (?2 IS NULL OR job_id = ?2)");
    j.bind(1, static_cast<int64_t>(cutoff_ns));
    if (job_id.empty()) j.bind(2); else j.bind(2, std::string(job_id));
    while (j.executeStep()) jobs.push_back(j.getColumn(0).getString());
    j.reset();
    SQLite::Statement& d = txn.Prepare(
        "DELETE FROM dlq_items WHERE last_attempt_ns < ?1 AND (?2 IS NULL OR job_id = ?2)");
    d.bind(1, static_cast<int64_t>(cutoff_ns));
    if (job_id.empty()) d.bind(2); else d.bind(2, std::string(job_id));
    purged = d.exec();
    for (const auto& job : jobs) internal::LogChange(txn, internal::kChangeDlq, job);
  });
  Log().debug("dlq_purge cutoff={} job={} purged={}", FormatTimestamp(cutoff_ns), job_id, purged);
  return purged;
}

int64_t GlobalStorage::MarkDlqForReprocessing(std::string_view job_id, std::span<const std::string> item_ids) {
  internal::ValidateId("job id", job_id);
  for (const auto& id : item_ids) internal::ValidateId("item id", id);
  std::lock_guard lock(impl_->mu);
  int64_t marked = 0;
  const std::string now = FormatTimestamp(NowNs());
  impl_->Write([&](WriteTxn& txn) {
    if (item_ids.empty()) {
      SQLite::Statement& u = txn.Prepare(
          "UPDATE dlq_items SET reprocess_requested_at = ?2 WHERE job_id = ?1 AND reprocess_eligible = 1");
      u.bind(1, std::string(job_id));
      u.bind(2, now);
      marked = u.exec();
      return;
    }
    for (const auto& id : item_ids) {
      SQLite::Statement& u = txn.Prepare(
          "UPDATE dlq_items SET reprocess_requested_at = ?3 WHERE job_id = ?1 AND item_id = ?2");
      u.bind(1, std::string(job_id));
      u.bind(2, id);
      u.bind(3, now);
      if (u.exec() == 0) ItemNotFound(job_id, id);  // rolls back the marks made so far
      ++marked;
    }
  });
  Log().debug("dlq_mark_reprocess job={} marked={}", job_id, marked);
  return marked;
}

std::vector<std::string> GlobalStorage::ListDlqJobs() {
  std::lock_guard lock(impl_->mu);
  return impl_->Read([&] {
    std::vector<std::string> out;
    SQLite::Statement& q = impl_->conn->Prepare("SELECT DISTINCT job_id FROM dlq_items ORDER BY job_id");
    while (q.executeStep()) out.push_back(q.getColumn(0).getString());
    return out;
  });
}

}  // namespace prodigy
