// GlobalStorage: the dead-letter queue.
#include <fmt/format.h>

#include "prodigy/error.h"
#include "prodigy/storage.h"
#include "store/kinds.h"
#include "store/rows.h"
#include "store/storage_impl.h"
#include "util/log.h"

namespace prodigy {
namespace {

using internal::Log;

[[noreturn]] void ItemNotFound(std::string_view job_id, std::string_view item_id) {
  throw Error::NotFound(
      fmt::format("DLQ item {} of job {} does not exist; list the job's items with "
                  "'prodigy-store dlq ls --job {}'",
                  item_id, job_id, job_id));
}

}  // namespace

void GlobalStorage::AddDlqItem(std::string_view job_id, std::string_view item_json) {
  internal::ValidateId("job id", job_id);
  DlqItem item = internal::ExtractDlqItem(job_id, item_json);
  impl_->Write([&](engine::WriteTxn& txn) { internal::UpsertDlqItem(txn, item); });
  Log().debug("dlq_add job={} item={}", job_id, item.item_id);
}

std::optional<DlqItem> GlobalStorage::GetDlqItem(std::string_view job_id, std::string_view item_id) {
  internal::ValidateId("job id", job_id);
  internal::ValidateId("item id", item_id);
  std::optional<DlqItem> out;
  const engine::Value key[] = {job_id, item_id};
  impl_->engine->Read([&](engine::ReadTxn& txn) { out = internal::GetRow<DlqItem>(txn, key); });
  return out;
}

std::vector<DlqItem> GlobalStorage::ListDlqItems(const DlqFilter& f) {
  if (f.job_id) internal::ValidateId("job id", *f.job_id);
  std::vector<DlqItem> out;
  impl_->engine->Read([&](engine::ReadTxn& txn) { txn.ListDlq(f, internal::CollectInto(&out)); });
  return out;
}

bool GlobalStorage::RemoveDlqItem(std::string_view job_id, std::string_view item_id) {
  internal::ValidateId("job id", job_id);
  internal::ValidateId("item id", item_id);
  bool removed = false;
  const engine::Value key[] = {job_id, item_id};
  impl_->Write([&](engine::WriteTxn& txn) {
    removed = txn.Delete(engine::tables::kDlqItems, key);
    if (removed) txn.LogChange(internal::kChangeDlq, job_id, item_id);
  });
  Log().debug("dlq_remove job={} item={} removed={}", job_id, item_id, removed);
  return removed;
}

DlqStats GlobalStorage::GetDlqStats(std::string_view job_id) {
  if (!job_id.empty()) internal::ValidateId("job id", job_id);
  DlqStats stats;
  impl_->engine->Read([&](engine::ReadTxn& txn) { stats = txn.DlqStatistics(job_id); });
  return stats;
}

int64_t GlobalStorage::PurgeDlqItems(int64_t cutoff_ns, std::string_view job_id) {
  if (!job_id.empty()) internal::ValidateId("job id", job_id);
  int64_t purged = 0;
  impl_->Write([&](engine::WriteTxn& txn) {
    const engine::Removed removed = txn.PurgeDlq(cutoff_ns, job_id);
    purged = removed.count;
    for (const auto& job : removed.jobs) txn.LogChange(internal::kChangeDlq, job);
  });
  Log().debug("dlq_purge cutoff={} job={} purged={}", FormatTimestamp(cutoff_ns), job_id, purged);
  return purged;
}

int64_t GlobalStorage::MarkDlqForReprocessing(std::string_view job_id,
                                              std::span<const std::string> item_ids) {
  internal::ValidateId("job id", job_id);
  for (const auto& id : item_ids) internal::ValidateId("item id", id);
  int64_t marked = 0;
  const std::string now = FormatTimestamp(NowNs());
  impl_->Write([&](engine::WriteTxn& txn) {
    if (item_ids.empty()) {
      marked = txn.MarkDlqJob(job_id, now);
      return;
    }
    for (const auto& id : item_ids) {
      if (!txn.MarkDlqItem(job_id, id, now)) ItemNotFound(job_id, id);  // rolls back the marks made so far
      ++marked;
    }
  });
  Log().debug("dlq_mark_reprocess job={} marked={}", job_id, marked);
  return marked;
}

std::vector<std::string> GlobalStorage::ListDlqJobs() {
  std::vector<std::string> out;
  impl_->engine->Read([&](engine::ReadTxn& txn) { out = txn.Groups(engine::tables::kDlqItems); });
  return out;
}

}  // namespace prodigy
