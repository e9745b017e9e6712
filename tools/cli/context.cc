// Context: options, configuration, repository and store of one command run.
#include <unistd.h>

#include <array>
#include <cstdio>
#include <memory>

#include "cli.h"

namespace prodigy::cli {
namespace {

namespace fs = std::filesystem;

// `git rev-parse --show-toplevel` of the current directory, when inside a
// work tree and git is installed.
std::optional<fs::path> GitTopLevel() {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen("git rev-parse --show-toplevel 2>/dev/null", "r"),
                                             ::pclose);
  if (!pipe) return std::nullopt;
  std::string out;
  std::array<char, 512> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe.get())) > 0) out.append(buf.data(), n);
  const int status = ::pclose(pipe.release());
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  if (status != 0 || out.empty()) return std::nullopt;
  return fs::path(out);
}

}  // namespace

Context::Context(GlobalOptions global, const cxxopts::ParseResult& args, std::vector<std::string> positional)
    : global_(std::move(global)), args_(args), positional_(std::move(positional)) {
  stdout_tty_ = ::isatty(STDOUT_FILENO) == 1;
  stderr_tty_ = ::isatty(STDERR_FILENO) == 1;
}

bool Context::Flag(const std::string& name) const { return args_.count(name) > 0 && args_[name].as<bool>(); }

std::optional<std::string> Context::Str(const std::string& name) const {
  if (args_.count(name) == 0) return std::nullopt;
  return args_[name].as<std::string>();
}

std::vector<std::string> Context::Strs(const std::string& name) const {
  if (args_.count(name) == 0) return {};
  return args_[name].as<std::vector<std::string>>();
}

std::optional<int64_t> Context::Count(const std::string& name) const {
  auto text = Str(name);
  if (!text) return std::nullopt;
  int64_t value = 0;
  size_t used = 0;
  try {
    value = std::stoll(*text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text->size() || value < 0) {
    throw UsageError(fmt::format("--{} '{}' is not a non-negative whole number", name, *text));
  }
  return value;
}

const StorageConfig& Context::Config() {
  if (!config_) {
    ResolveOptions options;
    options.storage_dir_flag = global_.storage_dir;
    options.storage_url_flag = global_.storage_url;
    config_ = ResolveConfig(options);
  }
  return *config_;
}

const fs::path& Context::RepoPath() {
  if (!repo_path_) {
    if (global_.repo) {
      repo_path_ = *global_.repo;
    } else if (auto top = GitTopLevel()) {
      repo_path_ = *top;
    } else {
      repo_path_ = fs::current_path();
    }
  }
  return *repo_path_;
}

const RepositoryLocation& Context::Location() {
  if (!location_) location_ = LocateRepository(RepoPath(), Config());
  return *location_;
}

GlobalStorage& Context::Store() {
  if (!store_) {
    if (EngineOf(Config()) == Engine::kPostgres) {
      // The server says whether it has the repository; nothing is created.
      StorageConfig config = Config();
      config.create_repository = false;
      store_ = GlobalStorage::OpenWithConfig(RepoPath(), config);
      return *store_;
    }
    const RepositoryLocation& loc = Location();
    if (!loc.exists && LegacyRoots(*this).empty()) {
      throw Error::NotFound(
          fmt::format("repository {} has no store yet: {} does not exist (nothing was "
                      "created); check --repo and --storage-dir, or import legacy data with "
                      "'prodigy-store migrate'",
                      loc.canonical_path.string(), loc.db_path.string()));
    }
    store_ = GlobalStorage::OpenWithConfig(RepoPath(), Config());
  }
  return *store_;
}

GlobalStorage& Context::CreateStore() {
  if (!store_) store_ = GlobalStorage::OpenWithConfig(RepoPath(), Config());
  return *store_;
}

StorageConfig Context::LocalConfig() {
  StorageConfig config = Config();
  config.storage_url.clear();
  config.storage_url_source = StorageDirSource::kDefault;
  return config;
}

void Context::NoteSyncAfterImport() {
  if (EngineOf(Config()) != Engine::kPostgres) return;
  Note(
      "note: legacy data is imported into the local SQLite store {}; copy it to the server with "
      "'prodigy-store sync --to {}'",
      Location().db_path.string(), RedactStorageUrl(Config().storage_url));
}

int ExitCodeFor(const Error& error) {
  return error.code() == ErrorCode::kVerificationFailed ? kExitVerification : kExitError;
}

}  // namespace prodigy::cli
