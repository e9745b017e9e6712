// Configuration resolution: flag > PRODIGY_STORAGE_DIR > config.toml > $HOME/.prodigy.
#include "prodigy/config.h"

#include <cstdlib>
#include <set>
#include <string>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "prodigy/error.h"

namespace prodigy {
namespace {

namespace fs = std::filesystem;

std::optional<std::string> Env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

fs::path ExpandHome(const std::string& value, const std::optional<std::string>& home) {
  if (value == "~" || value.starts_with("~/")) {
    if (!home) {
      throw Error::Config(fmt::format("cannot expand '{}': HOME is not set; use an absolute path", value));
    }
    return fs::path(*home) / value.substr(value.size() > 1 ? 2 : 1);
  }
  return fs::path(value);
}

[[noreturn]] void BadKey(const fs::path& file, const std::string& key, const std::string& why) {
  throw Error::Config(fmt::format("{}: key '{}' {}", file.string(), key, why));
}

// Reads one config file into `config`. `allow_storage_dir` is false for
// <root>/config.toml, which cannot move the root it lives in.
void ApplyFile(const fs::path& file, bool allow_storage_dir, const std::optional<std::string>& home,
               std::optional<std::string>* storage_dir, StorageConfig* config) {
  toml::table table;
  try {
    table = toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    throw Error::Config(
        fmt::format("{}:{}:{}: invalid TOML: {}", file.string(), where.line, where.column, e.description()));
  }
  config->config_files.push_back(file);
  bool mirrors_sync = false;  // applied after the loop: it wins over mirror_delay_ms in the same file
  for (const auto& entry : table) {
    // Not a structured binding: clang before 16 cannot capture one in the lambdas below.
    const auto& value = entry.second;
    const std::string key(entry.first.str());
    auto want_bool = [&]() {
      if (!value.is_boolean()) BadKey(file, key, "must be true or false");
      return value.as_boolean()->get();
    };
    auto want_string = [&]() {
      if (!value.is_string()) BadKey(file, key, "must be a string");
      return value.as_string()->get();
    };
    auto want_int = [&](int64_t lo, int64_t hi) {
      if (!value.is_integer() || value.as_integer()->get() < lo || value.as_integer()->get() > hi) {
        BadKey(file, key, fmt::format("must be an integer from {} to {}", lo, hi));
      }
      return static_cast<int>(value.as_integer()->get());
    };
    // One of two words, each standing for a setting.
    auto want_either = [&](const char* a, auto a_value, const char* b, decltype(a_value) b_value) {
      const std::string v = want_string();
      if (v == a) return a_value;
      if (v == b) return b_value;
      BadKey(file, key, fmt::format("must be \"{}\" or \"{}\", not \"{}\"", a, b, v));
    };
    if (key == "storage_dir") {
      if (!allow_storage_dir) {
        BadKey(file, key, "is only read from ~/.prodigy/config.toml (a root cannot move itself)");
      }
      const std::string dir = want_string();
      if (dir.empty()) BadKey(file, key, "must not be empty");
      // A relative root means "next to this file", as paths in git's and most
      // tools' config files do: the same config must not put the store in a
      // different place for every directory a user runs from.
      fs::path root = ExpandHome(dir, home);
      if (root.is_relative()) root = file.parent_path() / root;
      *storage_dir = root.string();
    } else if (key == "mirrors") {
      // true (written within mirror_delay_ms), false, or "sync" (before each call returns).
      if (value.is_string()) {
        if (value.as_string()->get() != "sync") BadKey(file, key, "must be true, false or \"sync\"");
        config->mirrors = true;
        mirrors_sync = true;
      } else {
        if (!value.is_boolean()) BadKey(file, key, "must be true, false or \"sync\"");
        config->mirrors = value.as_boolean()->get();
      }
    } else if (key == "mirror_delay_ms") {
      config->mirror_delay_ms = want_int(0, 60'000);
    } else if (key == "synchronous") {
      config->synchronous = want_either("normal", Synchronous::kNormal, "full", Synchronous::kFull);
    } else if (key == "busy_timeout_ms") {
      config->busy_timeout_ms = want_int(0, 3'600'000);
    } else if (key == "state_versions_kept") {
      config->state_versions_kept = want_int(1, 1000);
    } else if (key == "migration") {
      config->migration = want_either("auto", MigrationPolicy::kAuto, "off", MigrationPolicy::kOff);
    } else if (key == "allow_network_filesystem") {
      config->allow_network_filesystem = want_bool();
    } else if (key == "storage_url") {
      // Read in order ~/.prodigy/config.toml, then the root's: the root's wins.
      config->storage_url = want_string();
      config->storage_url_source = StorageDirSource::kConfig;
      // Checked here, where the file and key can be named; a URL from the
      // flag or the environment is checked after all sources are read.
      try {
        EngineForUrl(config->storage_url);
      } catch (const Error& e) {
        BadKey(file, key, e.message());
      }
    } else if (key == "repository_key") {
      const std::string v = want_string();
      if (v.empty()) BadKey(file, key, "must not be empty (leave it out to use the folder name)");
      config->repository_key = v;
    } else if (key == "notify") {
      config->notify = want_bool();
    } else if (key == "redis_url") {
      config->redis_url = want_string();
    } else {
      BadKey(file, key,
             "is not a known setting (known: storage_dir, mirrors, mirror_delay_ms, synchronous, "
             "busy_timeout_ms, state_versions_kept, migration, allow_network_filesystem, storage_url, "
             "repository_key, notify, redis_url); see docs/configuration.md");
    }
  }
  if (mirrors_sync) config->mirror_delay_ms = 0;
}

}  // namespace

const char* StorageDirSourceName(StorageDirSource source) {
  switch (source) {
    case StorageDirSource::kFlag:
      return "flag";
    case StorageDirSource::kEnv:
      return "env";
    case StorageDirSource::kConfig:
      return "config";
    case StorageDirSource::kDefault:
      return "default";
  }
  return "default";
}

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "invalid_argument";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kConfig:
      return "config";
    case ErrorCode::kIo:
      return "io";
    case ErrorCode::kCorruption:
      return "corruption";
    case ErrorCode::kTooNew:
      return "too_new";
    case ErrorCode::kBusy:
      return "busy";
    case ErrorCode::kVerificationFailed:
      return "verification_failed";
    case ErrorCode::kInternal:
      return "internal";
    case ErrorCode::kFenced:
      return "fenced";
  }
  return "internal";
}

StorageConfig ResolveConfig(const ResolveOptions& options) {
  StorageConfig config;
  const auto home = options.use_process_env ? Env("HOME") : options.home;
  const auto env_dir = options.use_process_env ? Env("PRODIGY_STORAGE_DIR") : options.storage_dir_env;
  const auto local_env =
      options.use_process_env ? Env("PRODIGY_USE_LOCAL_STORAGE") : options.use_local_storage_env;

  if (local_env) {
    config.notices.push_back(
        "PRODIGY_USE_LOCAL_STORAGE is set but has no effect: prodigy-store keeps all data in the "
        "global store (see docs/configuration.md)");
  }

  // ~/.prodigy/config.toml is read whenever HOME is known, because it may
  // carry settings other than storage_dir.
  std::optional<std::string> file_dir;
  fs::path home_root;
  if (home && !home->empty()) {
    home_root = fs::path(*home) / ".prodigy";
    const fs::path file = home_root / "config.toml";
    std::error_code ec;
    if (fs::is_regular_file(file, ec)) ApplyFile(file, true, home, &file_dir, &config);
  }

  if (options.storage_dir_flag && !options.storage_dir_flag->empty()) {
    config.storage_dir = *options.storage_dir_flag;
    config.storage_dir_source = StorageDirSource::kFlag;
  } else if (env_dir && !env_dir->empty()) {
    config.storage_dir = ExpandHome(*env_dir, home);
    config.storage_dir_source = StorageDirSource::kEnv;
  } else if (file_dir) {
    config.storage_dir = *file_dir;
    config.storage_dir_source = StorageDirSource::kConfig;
  } else if (!home_root.empty()) {
    config.storage_dir = home_root;
    config.storage_dir_source = StorageDirSource::kDefault;
  } else {
    throw Error::Config(
        "cannot find the storage root: HOME is not set and neither --storage-dir nor "
        "PRODIGY_STORAGE_DIR is given; set one of them (the current directory is never used)");
  }
  config.storage_dir = fs::absolute(config.storage_dir).lexically_normal();
  if (config.storage_dir.has_filename() == false && config.storage_dir.has_parent_path()) {
    config.storage_dir = config.storage_dir.parent_path();  // drop a trailing '/'
  }

  // A root elsewhere may carry its own config.toml (everything but storage_dir).
  if (config.storage_dir != home_root) {
    const fs::path file = config.storage_dir / "config.toml";
    std::error_code ec;
    if (fs::is_regular_file(file, ec)) {
      std::optional<std::string> ignored;
      ApplyFile(file, false, home, &ignored, &config);
    }
  }

  // The storage URL: --storage-url > PRODIGY_STORAGE_URL > config files.
  const auto env_url = options.use_process_env ? Env("PRODIGY_STORAGE_URL") : options.storage_url_env;
  if (options.storage_url_flag) {
    config.storage_url = *options.storage_url_flag;
    config.storage_url_source = StorageDirSource::kFlag;
  } else if (env_url && !env_url->empty()) {
    config.storage_url = *env_url;
    config.storage_url_source = StorageDirSource::kEnv;
  }
  const auto redis_env = options.use_process_env ? Env("PRODIGY_REDIS_URL") : options.redis_url_env;
  if (redis_env && !redis_env->empty()) config.redis_url = *redis_env;
  try {
    EngineOf(config);
  } catch (const Error& e) {
    throw Error::Config(
        fmt::format("{} (from {})", e.message(), StorageDirSourceName(config.storage_url_source)));
  }
  return config;
}

}  // namespace prodigy
