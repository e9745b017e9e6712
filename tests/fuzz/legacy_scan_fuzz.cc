// The legacy scanner on hostile files: ScanLines (plain and gzip) splits any
// bytes into lines that join back to the content, ParseEventLine and
// ParseDocument decide every line or document without crashing. The first
// byte picks gzip or not and the document kind.
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "fuzz_util.h"
#include "legacy/scan.h"
#include "prodigy/error.h"

using namespace prodigy;
using namespace prodigy::internal::legacy;

namespace {

class Joiner : public LineVisitor {
 public:
  void Line(int64_t, std::string_view line, bool has_newline) override {
    text.append(line);
    if (has_newline) text.push_back('\n');
    ParsedLine parsed = ParseEventLine("job", line, has_newline);
    FUZZ_CHECK(parsed.event.has_value() != !parsed.reason.empty());
  }
  std::string text;
};

const fs::path& ScratchFile() {
  static const fs::path path = [] {
    char tmpl[] = "/tmp/prodigy-fuzz-scan-XXXXXX";
    const int fd = ::mkstemp(tmpl);
    FUZZ_CHECK(fd >= 0);
    ::close(fd);
    return fs::path(tmpl);
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool gzip = data[0] & 1;
  const std::string content(reinterpret_cast<const char*>(data + 1), size - 1);
  const fs::path& path = ScratchFile();
  {
    const int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
    FUZZ_CHECK(fd >= 0);
    FUZZ_CHECK(::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()));
    ::close(fd);
  }
  try {
    RawFile file(path);
    Joiner joiner;
    const LineScan scan = ScanLines(file, gzip, joiner);
    if (!gzip) FUZZ_CHECK(joiner.text == content);
    (void)scan;
  } catch (const SourceError&) {
  } catch (const Error&) {
  }
  static const Kind kDocKinds[] = {Kind::kDlqItem,      Kind::kDlqIndex, Kind::kJobState,
                                   Kind::kJobStateMeta, Kind::kSession,  Kind::kWorkflowCheckpoint};
  Source source;
  source.kind = kDocKinds[(data[0] >> 1) % 6];
  source.path = "/nonexistent/.prodigy/mapreduce/jobs/job/checkpoint-v1.json";
  source.rel_path = ".prodigy/mapreduce/jobs/job/checkpoint-v1.json";
  source.job_id = "job";
  try {
    ParseDocument(source, content);
  } catch (const Error&) {
  }
  return 0;
}
