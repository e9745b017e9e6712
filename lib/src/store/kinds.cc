#include "store/kinds.h"

#include <charconv>

#include <fmt/format.h>

#include "prodigy/error.h"
#include "prodigy/storage.h"

namespace prodigy::engine::tables {
std::optional<int64_t> CheckpointTimeNs(const WorkflowCheckpoint& c) { return ParseTimestamp(c.timestamp); }
}  // namespace prodigy::engine::tables

namespace prodigy::internal {
namespace {

namespace tables = engine::tables;

RowKey OneText(const std::string& key1, const std::string&) { return {key1}; }
RowKey TwoTexts(const std::string& key1, const std::string& key2) { return {key1, key2}; }
// The ledger keeps a job state's version as text; it is the integer it wrote.
RowKey TextAndVersion(const std::string& key1, const std::string& key2) {
  int64_t version = 0;
  const auto [end, ec] = std::from_chars(key2.data(), key2.data() + key2.size(), version);
  if (ec != std::errc() || end != key2.data() + key2.size()) {
    throw Error::Corruption(
        fmt::format("the import ledger names job state {} version \"{}\", which is not a "
                    "version number; run 'prodigy-store check'",
                    key1, key2));
  }
  return {key1, version};
}

}  // namespace

// Events are mirrored as one log per job, appended to (mirror/mirror.h).
const DocumentKind kEventKind{.name = "events",
                              .table = &tables::kEvents,
                              .change = "events",
                              .folder = "events",
                              .file_suffix = "",
                              .time_column = "",
                              .live_file_first = false,
                              .key_from_text = nullptr};
const DocumentKind kDlqItemKind{.name = "dlq_item",
                                .table = &tables::kDlqItems,
                                .change = "dlq",
                                .folder = "dlq",
                                .file_suffix = "",
                                .time_column = "last_attempt_ns",
                                .live_file_first = false,
                                .key_from_text = TwoTexts};
const DocumentKind kJobStateKind{.name = "job_state",
                                 .table = &tables::kJobStates,
                                 .change = "state",
                                 .folder = "state",
                                 .file_suffix = "",
                                 .time_column = "updated_at",
                                 .live_file_first = false,
                                 .key_from_text = TextAndVersion};
const DocumentKind kSessionKind{.name = "session",
                                .table = &tables::kSessions,
                                .change = "session",
                                .folder = "sessions",
                                .file_suffix = ".json",
                                .time_column = "",
                                .live_file_first = true,
                                .key_from_text = OneText};
const DocumentKind kCheckpointKind{.name = "workflow_checkpoint",
                                   .table = &tables::kWorkflowCheckpoints,
                                   .change = "checkpoint",
                                   .folder = "checkpoints",
                                   .file_suffix = ".checkpoint.json",
                                   .time_column = "ts_ns",
                                   .live_file_first = false,
                                   .key_from_text = OneText};

std::pair<std::string, std::string> LedgerKeyText(const RowKey& key) {
  auto text = [&](size_t i) -> std::string {
    if (i >= key.size()) return {};
    if (const auto* n = std::get_if<int64_t>(&key[i])) return std::to_string(*n);
    return std::string(engine::TextOf(key[i]));
  };
  return {text(0), text(1)};
}

std::span<const DocumentKind* const> AllKinds() {
  static const DocumentKind* const kAll[] = {&kEventKind, &kDlqItemKind, &kJobStateKind, &kSessionKind,
                                             &kCheckpointKind};
  return kAll;
}

const DocumentKind* KindOfTable(std::string_view table) {
  for (const DocumentKind* k : AllKinds()) {
    if (k->table->name == table) return k;
  }
  return nullptr;
}

}  // namespace prodigy::internal
