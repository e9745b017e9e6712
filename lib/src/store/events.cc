// GlobalStorage: event logs.
#include <variant>

#include <fmt/format.h>

#include "prodigy/storage.h"
#include "store/rows.h"
#include "store/storage_impl.h"
#include "util/log.h"

namespace prodigy {
namespace {

using internal::Log;
using internal::WriteTxn;
using Binding = std::variant<int64_t, std::string>;

constexpr int64_t kPageSize = 512;

// The WHERE clause of an event query; also used by count, group and delete.
std::string EventWhere(const EventQuery& q, std::vector<Binding>* binds) {
  std::string where = "seq > ?";
  binds->push_back(q.after_seq);
  if (q.before_seq) {
    where += " AND seq < ?";
    binds->push_back(*q.before_seq);
  }
  if (q.job_id) {
    internal::ValidateId("job id", *q.job_id);
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

void Bind(SQLite::Statement& s, const std::vector<Binding>& binds) {
  int i = 1;
  for (const Binding& b : binds) {
    if (std::holds_alternative<int64_t>(b)) s.bind(i++, static_cast<int64_t>(std::get<int64_t>(b)));
    else s.bind(i++, std::get<std::string>(b));
  }
}

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
    std::vector<Binding> binds;
    const int64_t want = s.remaining ? std::min(*s.remaining, kPageSize) : kPageSize;
    const std::string sql = fmt::format("SELECT {} FROM events WHERE {} ORDER BY seq LIMIT {}",
                                        internal::kEventColumns, EventWhere(q, &binds), want);
    std::lock_guard lock(s.impl->mu);
    s.impl->Read([&] {
      SQLite::Statement& st = s.impl->conn->Prepare(sql.c_str());
      Bind(st, binds);
      while (st.executeStep()) s.page.push_back(internal::ReadEventRow(st));
    });
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
  std::lock_guard lock(impl_->mu);
  int64_t seq = 0;
  impl_->Write([&](WriteTxn& txn) {
    seq = internal::InsertEvent(txn, e);
    internal::LogChange(txn, internal::kChangeEvents, job_id);
  });
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
  std::lock_guard lock(impl_->mu);
  int64_t seq = 0;
  impl_->Write([&](WriteTxn& txn) {
    for (const Event& e : events) seq = internal::InsertEvent(txn, e);
    internal::LogChange(txn, internal::kChangeEvents, job_id);
  });
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
    throw Error(ErrorCode::kInvalidArgument, fmt::format("event query limit {} is negative", *query.limit));
  }
  auto state = std::make_unique<EventCursor::State>();
  state->impl = impl_.get();
  state->query = query;
  state->last_seq = query.after_seq;
  state->remaining = query.limit;
  return EventCursor(std::move(state));
}

void GlobalStorage::ForEachEvent(const EventQuery& query, const std::function<bool(const Event&)>& fn) {
  EventCursor cursor = QueryEvents(query);
  Event e;
  while (cursor.Next(&e)) {
    if (!fn(e)) break;
  }
}

int64_t GlobalStorage::CountEvents(const EventQuery& query) {
  std::vector<Binding> binds;
  const std::string sql = fmt::format("SELECT count(*) FROM events WHERE {}", EventWhere(query, &binds));
  std::lock_guard lock(impl_->mu);
  return impl_->Read([&] {
    SQLite::Statement& s = impl_->conn->Prepare(sql.c_str());
    Bind(s, binds);
    s.executeStep();
    return static_cast<int64_t>(s.getColumn(0).getInt64());
  });
}

std::vector<GroupCount> GlobalStorage::GroupEvents(const EventQuery& query, EventGroupBy by) {
  const char* column = by == EventGroupBy::kType ? "event_name" : by == EventGroupBy::kAgent ? "agent_id" : "job_id";
  std::vector<Binding> binds;
  const std::string sql = fmt::format(
      "SELECT coalesce({0}, ''), count(*) FROM events WHERE {1} GROUP BY {0} ORDER BY 2 DESC, 1",
      column, EventWhere(query, &binds));
  std::lock_guard lock(impl_->mu);
  return impl_->Read([&] {
    std::vector<GroupCount> out;
    SQLite::Statement& s = impl_->conn->Prepare(sql.c_str());
    Bind(s, binds);
    while (s.executeStep()) out.push_back({s.getColumn(0).getString(), s.getColumn(1).getInt64()});
    return out;
  });
}

std::vector<EventJobSummary> GlobalStorage::ListEventJobs() {
  std::lock_guard lock(impl_->mu);
  return impl_->Read([&] {
    std::vector<EventJobSummary> out;
    SQLite::Statement& s = impl_->conn->Prepare(
        "SELECT job_id, count(*), min(ts_ns), max(ts_ns), "
        "sum(event_name = 'job_started'), sum(event_name = 'job_completed'), "
        "sum(event_name = 'job_failed') FROM events GROUP BY job_id ORDER BY max(seq) DESC");
    while (s.executeStep()) {
      EventJobSummary j;
      j.job_id = s.getColumn(0).getString();
      j.events = s.getColumn(1).getInt64();
      if (!s.getColumn(2).isNull()) j.first_timestamp = FormatTimestamp(s.getColumn(2).getInt64());
      if (!s.getColumn(3).isNull()) j.last_timestamp = FormatTimestamp(s.getColumn(3).getInt64());
      if (s.getColumn(6).getInt64() > 0) j.status = "failed";
      else if (s.getColumn(5).getInt64() > 0) j.status = "completed";
      else if (s.getColumn(4).getInt64() > 0) j.status = "in_progress";
      else j.status = "unknown";
      out.push_back(std::move(j));
    }
    return out;
  });
}

int64_t GlobalStorage::DeleteEvents(const EventQuery& query) {
  std::vector<Binding> binds;
  const std::string where = EventWhere(query, &binds);
  const std::string jobs_sql = fmt::format("SELECT DISTINCT job_id FROM events WHERE {}", where);
  const std::string delete_sql = fmt::format("DELETE FROM events WHERE {}", where);
  std::lock_guard lock(impl_->mu);
  int64_t deleted = 0;
  impl_->Write([&](WriteTxn& txn) {
    std::vector<std::string> jobs;
    SQLite::Statement& j = txn.Prepare(jobs_sql.c_str());
    Bind(j, binds);
    while (j.executeStep()) jobs.push_back(j.getColumn(0).getString());
    j.reset();
    SQLite::Statement& d = txn.Prepare(delete_sql.c_str());
    Bind(d, binds);
    deleted = d.exec();
    for (const auto& job : jobs) internal::LogChange(txn, internal::kChangeEventsRewrite, job);
  });
  Log().debug("delete_events deleted={}", deleted);
  return deleted;
}

}  // namespace prodigy
