// Workload 1: bulk import of a legacy events JSONL file (Prodigy's local
// .prodigy/mapreduce/events/global/events.jsonl). Our import runs in a child
// process so its peak RSS can be read from wait4(); the baselines are
// `sqlite-utils insert --nl` and parsing every line with nlohmann/json (the
// parser's limit: no storage at all).
#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "data_gen.h"
#include "prodigy/storage.h"
#include "workloads.h"

namespace prodigy::bench {
namespace {

constexpr size_t kBatch = 10000;

// Calls fn for every line of the file (without its newline), reading in
// large blocks so that I/O is never the limit.
template <class F>
void ForEachLine(const fs::path& file, F&& fn) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot read " + file.string());
  std::string buf;
  std::vector<char> block(1 << 20);
  for (ssize_t n; (n = ::read(fd, block.data(), block.size())) > 0;) {
    buf.append(block.data(), static_cast<size_t>(n));
    size_t start = 0;
    for (size_t nl; (nl = buf.find('\n', start)) != std::string::npos; start = nl + 1) {
      fn(std::string_view(buf).substr(start, nl - start));
    }
    buf.erase(0, start);
  }
  ::close(fd);
  if (!buf.empty()) fn(std::string_view(buf));
}

size_t WriteLegacyFile(const fs::path& file, size_t lines) {
  fs::create_directories(file.parent_path());
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot write " + file.string());
  EventGenerator gen(1);
  std::string buf;
  size_t written = 0;
  const auto flush = [&] {
    if (::write(fd, buf.data(), buf.size()) != static_cast<ssize_t>(buf.size())) {
      throw std::runtime_error("short write to " + file.string());
    }
    buf.clear();
  };
  while (written < lines) {
    gen.Job([&](std::string&& line) {
      buf += line;
      buf += '\n';
      ++written;
      if (buf.size() > (4 << 20)) flush();
    });
  }
  flush();
  ::close(fd);
  return written;
}

double ParseOnly(const fs::path& file) {
  Stopwatch w;
  size_t objects = 0;
  ForEachLine(file, [&](std::string_view line) {
    objects += nlohmann::json::parse(line.begin(), line.end()).is_object();
  });
  if (objects == 0) throw std::runtime_error("parse-only: no objects");
  return w.Seconds();
}

}  // namespace

// args: <work dir> <legacy file>. Prints "<events> <seconds>".
int ImportChild(const std::vector<std::string>& args) {
  if (args.size() != 2) return 2;
  const fs::path dir = args[0];
  const fs::path file = args[1];
  try {
    GlobalStorage s = GlobalStorage::OpenWithConfig(MakeRepo(dir), BenchConfig(dir, false));
    Stopwatch w;
    // Stand-in for the importer (not merged yet): AppendEvents in batches.
    std::vector<std::string> batch;
    batch.reserve(kBatch);
    int64_t events = 0;
    ForEachLine(file, [&](std::string_view line) {
      batch.emplace_back(line);
      if (batch.size() == kBatch) {
        s.AppendEvents("global", batch);
        events += static_cast<int64_t>(batch.size());
        batch.clear();
      }
    });
    if (!batch.empty()) s.AppendEvents("global", batch);
    events += static_cast<int64_t>(batch.size());
    fmt::print("{} {}\n", events, w.Seconds());
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "import child: {}\n", e.what());
    return 1;
  }
}

void RunImport(const Sizes& sz, Table& t) {
  TempDir dir("import");
  const fs::path file = dir.path() / "legacy" / ".prodigy" / "mapreduce" / "events" / "global" / "events.jsonl";
  Progress(fmt::format("import: writing a legacy events file of {} lines", sz.import_lines));
  const size_t lines = WriteLegacyFile(file, sz.import_lines);
  const double bytes = static_cast<double>(BytesOf(file));
  const bool have_su = HaveProgram("sqlite-utils");

  std::vector<double> ours, parse, su;
  int64_t rss_kb = 0, su_rss_kb = 0;
  for (int r = 0; r < sz.rounds; ++r) {
    Progress(fmt::format("import: round {} of {}", r + 1, sz.rounds));
    {
      TempDir work("import-ours");
      Settle();
      const ChildResult res =
          RunProcess({SelfExe().string(), "--child-import", work.path().string(), file.string()}, std::nullopt,
                     dir.path() / "child.err");
      if (res.exit_code != 0) throw std::runtime_error("import child failed; see its stderr");
      // The child's own clock: the process start and open are not import work.
      ours.push_back(std::stod(res.out.substr(res.out.find(' ') + 1)));
      rss_kb = std::max(rss_kb, res.max_rss_kb);
    }
    parse.push_back(ParseOnly(file));
    // sqlite-utils is slow: one run is enough for a ratio this large.
    if (have_su && r == 0) {
      TempDir work("import-su");
      Settle();
      const ChildResult res = RunProcess(
          {"sqlite-utils", "insert", (work.path() / "su.db").string(), "events", file.string(), "--nl"});
      if (res.exit_code != 0) throw std::runtime_error("sqlite-utils insert failed");
      su.push_back(res.seconds);
      su_rss_kb = res.max_rss_kb;
    }
  }
  const double o = Median(ours), p = Median(parse);
  const std::string ours_name = "AppendEvents x10000 (importer stand-in)";
  const std::string size = fmt::format("{} lines, {:.0f} MB", lines, bytes / 1e6);
  if (have_su) {
    const double s = Median(su);
    t.Add({"1 import " + size, ours_name, MBps(bytes, o), "sqlite-utils insert --nl", MBps(bytes, s), s / o,
           ">= 5x", s / o >= 5});
  } else {
    t.Note("sqlite-utils is not installed: that baseline was skipped (apt-get install sqlite-utils)");
  }
  t.Add({"1 import " + size, ours_name, MBps(bytes, o), "nlohmann parse only", MBps(bytes, p), p / o, ">= 0.5x",
         p / o >= 0.5});
  t.Add({"1 import " + size, ours_name + ", peak RSS", fmt::format("{:.1f} MB", rss_kb / 1024.0),
         "sqlite-utils peak RSS", have_su ? fmt::format("{:.1f} MB", su_rss_kb / 1024.0) : "n/a",
         su_rss_kb > 0 ? std::optional<double>(static_cast<double>(su_rss_kb) / static_cast<double>(rss_kb)) : std::nullopt,
         "<= 64 MB", rss_kb <= 64 * 1024});
}

}  // namespace prodigy::bench
