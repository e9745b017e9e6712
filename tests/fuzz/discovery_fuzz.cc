// Legacy discovery and the dry run on generated folder trees: the input is a
// list of (path, content) entries laid out under a repository's .prodigy/
// and the global layout; PlanMigration must report every file and write
// nothing, and never crash or throw anything but prodigy::Error.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "prodigy/error.h"
#include "prodigy/migrate.h"

using namespace prodigy;
namespace fs = std::filesystem;

namespace {

// Names Prodigy's layouts use, so generated trees reach the interesting cases.
const char* const kParts[] = {
    ".prodigy",
    "events",
    "dlq",
    "state",
    "mapreduce",
    "jobs",
    "items",
    "checkpoints",
    "archive",
    "mapreduce-1758387792480",
    "global",
    "events.jsonl",
    "events-20250920_170312.jsonl",
    "events-20250920_170312.20250920_191500.jsonl.gz",
    "index.json",
    "item_1.json",
    "checkpoint-v1.json",
    "checkpoint-v2.json",
    "metadata.json",
    "session_state.json",
    "cook-1754076473.json",
    "workflow-1.checkpoint.json",
    "x.tmp",
    "config.yml",
    "my-repo",
    ".prodigy_migrated",
    ".mmm",
    "state.json",
};
constexpr size_t kPartCount = sizeof(kParts) / sizeof(kParts[0]);

const fs::path& Scratch() {
  static const fs::path dir = [] {
    char tmpl[] = "/tmp/prodigy-fuzz-tree-XXXXXX";
    FUZZ_CHECK(::mkdtemp(tmpl) != nullptr);
    return fs::path(tmpl);
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fs::path repo = Scratch() / "my-repo";
  const fs::path root = Scratch() / "root";
  std::error_code ec;
  fs::remove_all(repo, ec);
  fs::remove_all(root, ec);
  fs::create_directories(repo);
  fs::create_directories(root);
  // Each entry: a base byte (repo or root), up to 5 part bytes, a length byte, content.
  size_t i = 0;
  int files = 0;
  while (i + 2 < size && files < 16) {
    fs::path p = (data[i++] & 1) ? root : repo;
    const int depth = 1 + data[i++] % 5;
    for (int d = 0; d < depth && i < size; ++d) p /= kParts[data[i++] % kPartCount];
    const size_t len = i < size ? data[i++] : 0;
    const size_t take = std::min(len, size - std::min(i, size));
    fs::create_directories(p.parent_path(), ec);
    if (!ec && !fs::is_directory(p, ec)) {
      std::ofstream out(p, std::ios::binary | std::ios::trunc);
      out.write(reinterpret_cast<const char*>(data + i), static_cast<std::streamsize>(take));
      ++files;
    }
    i += take;
  }
  StorageConfig config;
  config.storage_dir = root;
  config.migration = MigrationPolicy::kOff;
  try {
    const MigrationReport plan = PlanMigration(repo, config);
    FUZZ_CHECK(!fs::exists(root / "my-repo" / "prodigy.db"));  // a dry run writes nothing
    for (const LegacySource& s : plan.sources) FUZZ_CHECK(!s.kind.empty());
  } catch (const Error& e) {
    FUZZ_CHECK(!e.message().empty());
  }
  return 0;
}
