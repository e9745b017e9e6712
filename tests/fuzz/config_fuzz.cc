// The configuration file: any bytes in ~/.prodigy/config.toml give a
// configuration or a prodigy::Error of kind config naming the file, never a
// crash or another exception.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>

#include "fuzz_util.h"
#include "prodigy/config.h"
#include "prodigy/error.h"

using namespace prodigy;
namespace fs = std::filesystem;

namespace {

const fs::path& Home() {
  static const fs::path home = [] {
    char tmpl[] = "/tmp/prodigy-fuzz-home-XXXXXX";
    FUZZ_CHECK(::mkdtemp(tmpl) != nullptr);
    fs::create_directories(fs::path(tmpl) / ".prodigy");
    return fs::path(tmpl);
  }();
  return home;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fs::path file = Home() / ".prodigy" / "config.toml";
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  ResolveOptions options;
  options.use_process_env = false;
  options.home = Home().string();
  try {
    const StorageConfig config = ResolveConfig(options);
    FUZZ_CHECK(!config.storage_dir.empty());
  } catch (const Error& e) {
    FUZZ_CHECK(e.code() == ErrorCode::kConfig);
    FUZZ_CHECK(e.message().find("config.toml") != std::string::npos);
  }
  return 0;
}
