// GlobalStorage: event logs.

#include <algorithm>

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
constexpr int64_t kPageSize = 512;

}  // namespace

struct EventCursor::State {
  GlobalStorage::Impl* impl = nullptr;
  EventQuery query;
  std::vector<Event> page;
  size_t pos = 0;
  int64_t last_seq = 0;
  std::optional<int64_t> remaining;
  bool exhausted = false;
};

EventCursor::EventCursor(std::unique_ptr<State> state) : state_(std::move(state)) {}
EventCursor::EventCursor(EventCursor&&) noexcept = default;
EventCursor& EventCursor::operator=(EventCursor&&) noexcept = default;
EventCursor::~EventCursor() = default;

int64_t EventCursor::last_seq() const { return state_->last_seq; }

bool EventCursor::Next(Event* event) {
  State& s = *state_;
  if (s.remaining && *s.remaining <= 0) return false;
  if (s.pos >= s.page.size()) {
    if (s.exhausted) return false;
    s.page.clear();
    s.pos = 0;
    EventQuery q = s.query;
    q.after_seq = s.last_seq;
    const int64_t want = s.remaining ? std::min(*s.remaining, kPageSize) : kPageSize;
    s.impl->engine->Read(
        [&](engine::ReadTxn& txn) { txn.QueryEvents(q, want, internal::CollectInto(&s.page)); });
    if (static_cast<int64_t>(s.page.size()) < want) s.exhausted = true;
    if (s.page.empty()) return false;
  }
  *event = std::move(s.page[s.pos++]);
  s.last_seq = event->seq;
  if (s.remaining) --*s.remaining;
  return true;
}

int64_t GlobalStorage::AppendEvent(std::string_view job_id, std::string_view event_json) {
  internal::ValidateId("job id", job_id);
  const Event e = internal::ExtractEvent(job_id, event_json);
  int64_t seq = 0;
  impl_->Write([&](engine::WriteTxn& txn) {
    seq = internal::InsertEvent(txn, e);
    txn.LogChange(internal::kChangeEvents, job_id);
  });
  impl_->EventsCommitted(seq);
  Log().debug("append_event job={} seq={} type={}", job_id, seq, e.event_type);
  return seq;
}

int64_t GlobalStorage::AppendEvents(std::string_view job_id, std::span<const std::string> events_json) {
  internal::ValidateId("job id", job_id);
  // Validate everything first: a bad record anywhere stores nothing.
  std::vector<Event> events;
  events.reserve(events_json.size());
  for (size_t i = 0; i < events_json.size(); ++i) {
    try {
      events.push_back(internal::ExtractEvent(job_id, events_json[i]));
    } catch (const Error& e) {
      throw Error(e.code(), fmt::format("record {} of {} in the batch: {}; nothing was appended", i + 1,
                                        events_json.size(), e.message()));
    }
  }
  if (events.empty()) return 0;
  int64_t seq = 0;
  impl_->Write([&](engine::WriteTxn& txn) {
    for (const Event& e : events) seq = internal::InsertEvent(txn, e);
    txn.LogChange(internal::kChangeEvents, job_id);
  });
  impl_->EventsCommitted(seq);
  Log().debug("append_events job={} count={} last_seq={}", job_id, events.size(), seq);
  return seq;
}

std::vector<Event> GlobalStorage::ReadEvents(std::string_view job_id) {
  EventQuery q;
  q.job_id = std::string(job_id);
  std::vector<Event> out;
  ForEachEvent(q, [&](const Event& e) {
    out.push_back(e);
    return true;
  });
  return out;
}

EventCursor GlobalStorage::QueryEvents(const EventQuery& query) {
  if (query.job_id) internal::ValidateId("job id", *query.job_id);
  if (query.limit && *query.limit < 0) {
    throw Error::InvalidArgument(fmt::format("event query limit {} is negative", *query.limit));
  }
  auto state = std::make_unique<EventCursor::State>();
  state->impl = impl_.get();
  state->query = query;
  state->last_seq = query.after_seq;
  state->remaining = query.limit;
  return EventCursor(std::move(state));
}

std::vector<Event> GlobalStorage::LastEvents(const EventQuery& query, int64_t n) {
  if (query.job_id) internal::ValidateId("job id", *query.job_id);
  if (n < 0)
    throw Error::InvalidArgument(fmt::format("cannot return the last {} events: the count is negative", n));
  std::vector<Event> out;
  if (n == 0) return out;
  impl_->engine->Read([&](engine::ReadTxn& txn) { txn.NewestEvents(query, n, internal::CollectInto(&out)); });
  std::reverse(out.begin(), out.end());
  return out;
}

void GlobalStorage::ForEachEvent(const EventQuery& query, const std::function<bool(const Event&)>& fn) {
  EventCursor cursor = QueryEvents(query);
  Event e;
  while (cursor.Next(&e)) {
    if (!fn(e)) break;
  }
}

int64_t GlobalStorage::CountEvents(const EventQuery& query) {
  if (query.job_id) internal::ValidateId("job id", *query.job_id);
  int64_t n = 0;
  impl_->engine->Read([&](engine::ReadTxn& txn) { n = txn.CountEvents(query); });
  return n;
}

std::vector<GroupCount> GlobalStorage::GroupEvents(const EventQuery& query, EventGroupBy by) {
  if (query.job_id) internal::ValidateId("job id", *query.job_id);
  std::vector<GroupCount> out;
  impl_->engine->Read([&](engine::ReadTxn& txn) { out = txn.GroupEvents(query, by); });
  return out;
}

std::vector<EventJobSummary> GlobalStorage::ListEventJobs() {
  std::vector<engine::EventJobStats> stats;
  impl_->engine->Read([&](engine::ReadTxn& txn) { stats = txn.EventJobs(); });
  std::vector<EventJobSummary> out;
  out.reserve(stats.size());
  for (engine::EventJobStats& s : stats) {
    EventJobSummary j;
    j.job_id = std::move(s.job_id);
    j.events = s.events;
    if (s.first_ts_ns) j.first_timestamp = FormatTimestamp(*s.first_ts_ns);
    if (s.last_ts_ns) j.last_timestamp = FormatTimestamp(*s.last_ts_ns);
    if (s.failed > 0)
      j.status = "failed";
    else if (s.completed > 0)
      j.status = "completed";
    else if (s.started > 0)
      j.status = "in_progress";
    else
      j.status = "unknown";
    out.push_back(std::move(j));
  }
  return out;
}

int64_t GlobalStorage::DeleteEvents(const EventQuery& query) {
  if (query.job_id) internal::ValidateId("job id", *query.job_id);
  int64_t deleted = 0;
  impl_->Write([&](engine::WriteTxn& txn) {
    const engine::Removed removed = txn.DeleteEvents(query);
    deleted = removed.count;
    for (const auto& job : removed.jobs) txn.LogChange(internal::kChangeEventsRewrite, job);
  });
  Log().debug("delete_events deleted={}", deleted);
  return deleted;
}

}  // namespace prodigy
