// Workload 2: appending events, one per transaction and in batches. The
// library (mirrors off and on) against the raw SQLite C API with the same
// schema and settings (the limit) and Prodigy's JSONL append.
#include <fcntl.h>
#include <unistd.h>

#include <span>

#include <fmt/format.h>

#include "data_gen.h"
#include "prodigy/storage.h"
#include "raw_sqlite.h"
#include "store/rows.h"
#include "workloads.h"

namespace prodigy::bench {
namespace {

constexpr const char* kJob = "mapreduce-20250920_170312";

// Prodigy's event writer: open the log, append the lines, optionally
// fdatasync, close.
void JsonlAppend(const fs::path& file, std::span<const std::string> lines, bool sync) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot open " + file.string());
  std::string buf;
  for (const auto& l : lines) {
    buf += l;
    buf += '\n';
  }
  if (::write(fd, buf.data(), buf.size()) != static_cast<ssize_t>(buf.size())) {
    throw std::runtime_error("short write to " + file.string());
  }
  if (sync) ::fdatasync(fd);
  ::close(fd);
}

// Contenders that write `total` events, `batch` per transaction (or per JSONL write).
std::vector<Contender> Contenders(const std::vector<std::string>& lines, const std::vector<Event>& rows,
                                  size_t total, size_t batch) {
  // mirror_delay_ms: the default (50), or 0 (`mirrors = "sync"`: each call writes its files).
  const auto lib = [&lines, total, batch](bool mirrors, Synchronous sync = Synchronous::kNormal,
                                          int mirror_delay_ms = StorageConfig{}.mirror_delay_ms) {
    return [&lines, total, batch, mirrors, sync, mirror_delay_ms](const fs::path& dir) {
      StorageConfig config = BenchConfig(dir, mirrors);
      config.synchronous = sync;
      config.mirror_delay_ms = mirror_delay_ms;
      GlobalStorage s = GlobalStorage::OpenWithConfig(MakeRepo(dir), config);
      Stopwatch w;
      for (size_t i = 0; i < total; i += batch) {
        if (batch == 1)
          s.AppendEvent(kJob, lines[i]);
        else
          s.AppendEvents(kJob, std::span(lines).subspan(i, std::min(batch, total - i)));
      }
      // Timed until every appended event is in the mirror file too.
      s.FlushMirrors();
      return w.Seconds();
    };
  };
  const auto jsonl = [&lines, total, batch](bool sync) {
    return [&lines, total, batch, sync](const fs::path& dir) {
      const fs::path file = dir / "events.jsonl";
      Stopwatch w;
      for (size_t i = 0; i < total; i += batch) {
        JsonlAppend(file, std::span(lines).subspan(i, std::min(batch, total - i)), sync);
      }
      return w.Seconds();
    };
  };
  std::vector<Contender> out = {
      {"raw",
       [&rows, total, batch](const fs::path& dir) {
         RawStore raw(dir / "raw.db");
         Stopwatch w;
         for (size_t i = 0; i < total; i += batch)
           raw.Insert(std::span(rows).subspan(i, std::min(batch, total - i)));
         return w.Seconds();
       }},
      {"lib_off", lib(false)},
      {"lib_on", lib(true)},
      {"jsonl", jsonl(false)},
      {"jsonl_sync", jsonl(true)},
      {"lib_sync_mirrors", lib(true, Synchronous::kNormal, 0)},
  };
  // As durable as JSONL + fdatasync: one fsync per commit (synchronous=FULL),
  // and SQLite's own limit at that setting.
  if (batch == 1) {
    out.push_back({"lib_full", lib(true, Synchronous::kFull)});
    out.push_back({"raw_full", [&rows, total](const fs::path& dir) {
                     RawStore raw(dir / "raw.db", /*full_sync=*/true);
                     Stopwatch w;
                     for (size_t i = 0; i < total; ++i) raw.Insert(std::span(rows).subspan(i, 1));
                     return w.Seconds();
                   }});
  }
  return out;
}

void AddRows(Table& t, const std::string& workload, const std::vector<double>& secs, size_t total,
             size_t batch) {
  const auto rate = [&](size_t i) { return static_cast<double>(total) / secs[i]; };
  const std::string call = batch == 1 ? "AppendEvent" : fmt::format("AppendEvents x{}", batch);
  const std::string raw = batch == 1 ? "raw C API, 1 row/txn" : fmt::format("raw C API, {} rows/txn", batch);
  const std::string per =
      batch == 1 ? "open/append/close per record" : fmt::format("open/append {} lines/close", batch);
  const bool targeted = batch > 1;
  const double r_off = rate(1) / rate(0);
  t.Add({workload, call + ", mirrors off", Rate(rate(1)), raw, Rate(rate(0)), r_off,
         targeted ? ">= 0.8x" : "", targeted ? std::optional<bool>(r_off >= 0.8) : std::nullopt});
  // Issue targets of round 2 (docs/performance.md): the default configuration against the raw C API.
  const double on_target = batch == 1 ? 0.8 : batch == 100 ? 0.85 : 0;
  const double r_on = rate(2) / rate(0);
  t.Add({workload, call + ", mirrors on", Rate(rate(2)), raw, Rate(rate(0)), r_on,
         on_target > 0 ? fmt::format(">= {}x", on_target) : "",
         on_target > 0 ? std::optional<bool>(r_on >= on_target) : std::nullopt});
  t.Add({workload, call + ", mirrors on", Rate(rate(2)), "JSONL " + per, Rate(rate(3)), rate(2) / rate(3), "",
         std::nullopt});
  t.Add({workload, call + ", mirrors on", Rate(rate(2)), "JSONL " + per + " + fdatasync", Rate(rate(4)),
         rate(2) / rate(4), "", std::nullopt});
  t.Add({workload, call + ", mirrors = \"sync\"", Rate(rate(5)), raw, Rate(rate(0)), rate(5) / rate(0), "",
         std::nullopt});
  if (secs.size() > 6) {
    t.Add({workload, call + ", mirrors on, synchronous=FULL", Rate(rate(6)), "JSONL " + per + " + fdatasync",
           Rate(rate(4)), rate(6) / rate(4), ">= 0.9x", rate(6) / rate(4) >= 0.9});
    t.Add({workload, "raw C API, 1 row/txn, synchronous=FULL", Rate(rate(7)), "JSONL " + per + " + fdatasync",
           Rate(rate(4)), rate(7) / rate(4), "", std::nullopt});
    t.Add({workload, call + ", mirrors on, synchronous=FULL", Rate(rate(6)),
           "raw C API, 1 row/txn, synchronous=FULL", Rate(rate(7)), rate(6) / rate(7), "", std::nullopt});
  }
}

}  // namespace

void RunAppend(const Sizes& sz, Table& t) {
  EventGenerator gen(2);
  const std::vector<std::string> lines = gen.Lines(std::max(sz.single_appends, sz.batch_events));
  std::vector<Event> rows;
  rows.reserve(lines.size());
  for (const auto& l : lines) rows.push_back(internal::ExtractEvent(kJob, l));

  Progress(fmt::format("append: {} events one per transaction, {} rounds", sz.single_appends, sz.rounds));
  AddRows(t, "2 append 1/txn",
          MedianSeconds(sz.rounds, Contenders(lines, rows, sz.single_appends, 1), "append"),
          sz.single_appends, 1);
  for (size_t batch : {100, 1000}) {
    Progress(fmt::format("append: {} events in batches of {}, {} rounds", sz.batch_events, batch, sz.rounds));
    AddRows(t, fmt::format("2 append batch {}", batch),
            MedianSeconds(sz.rounds, Contenders(lines, rows, sz.batch_events, batch), "append"),
            sz.batch_events, batch);
  }
}

}  // namespace prodigy::bench
