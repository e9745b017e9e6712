// Configuration: precedence of flag, environment, config file and default; file errors.
#include <doctest/doctest.h>

#include "test_util.h"

using namespace prodigy;
using namespace prodigy::test;

namespace {

ResolveOptions Opts(const fs::path& home) {
  ResolveOptions o;
  o.use_process_env = false;
  o.home = home.string();
  return o;
}

}  // namespace

TEST_CASE("precedence: --storage-dir > PRODIGY_STORAGE_DIR > config.toml > $HOME/.prodigy") {
  TempDir tmp;
  const fs::path home = tmp / "home";
  fs::create_directories(home);

  ResolveOptions o = Opts(home);
  StorageConfig c = ResolveConfig(o);
  CHECK(c.storage_dir == home / ".prodigy");
  CHECK(c.storage_dir_source == StorageDirSource::kDefault);
  CHECK(std::string(StorageDirSourceName(c.storage_dir_source)) == "default");

  WriteAll(home / ".prodigy/config.toml", "storage_dir = \"" + (tmp / "from-config").string() + "\"\n");
  c = ResolveConfig(o);
  CHECK(c.storage_dir == tmp / "from-config");
  CHECK(c.storage_dir_source == StorageDirSource::kConfig);
  CHECK(c.config_files.size() == 1);

  o.storage_dir_env = (tmp / "from-env").string();
  c = ResolveConfig(o);
  CHECK(c.storage_dir == tmp / "from-env");
  CHECK(c.storage_dir_source == StorageDirSource::kEnv);

  o.storage_dir_flag = tmp / "from-flag/";
  c = ResolveConfig(o);
  CHECK(c.storage_dir == tmp / "from-flag");
  CHECK(c.storage_dir_source == StorageDirSource::kFlag);
}

TEST_CASE("~ in storage_dir expands to HOME; relative roots become absolute") {
  TempDir tmp;
  WriteAll(tmp / ".prodigy/config.toml", "storage_dir = \"~/elsewhere\"\n");
  CHECK(ResolveConfig(Opts(tmp.path())).storage_dir == tmp / "elsewhere");
  ResolveOptions o = Opts(tmp.path());
  o.storage_dir_flag = "relative/root";
  CHECK(ResolveConfig(o).storage_dir.is_absolute());
}

TEST_CASE("a relative storage_dir in config.toml is relative to the file's folder, not the cwd") {
  TempDir tmp;
  WriteAll(tmp / ".prodigy/config.toml", "storage_dir = \"../stores/prodigy\"\n");
  const fs::path cwd = fs::current_path();
  fs::create_directories(tmp / "somewhere/else");
  fs::current_path(tmp / "somewhere/else");
  const StorageConfig from_elsewhere = ResolveConfig(Opts(tmp.path()));
  fs::current_path(tmp.path());
  const StorageConfig from_home = ResolveConfig(Opts(tmp.path()));
  fs::current_path(cwd);
  CHECK(from_elsewhere.storage_dir == tmp / "stores/prodigy");
  CHECK(from_home.storage_dir == tmp / "stores/prodigy");
  CHECK(from_elsewhere.storage_dir_source == StorageDirSource::kConfig);

  WriteAll(tmp / ".prodigy/config.toml", "storage_dir = \"data\"\n");
  CHECK(ResolveConfig(Opts(tmp.path())).storage_dir == tmp / ".prodigy/data");
}

TEST_CASE("a relative PRODIGY_STORAGE_DIR or --storage-dir stays relative to the cwd") {
  TempDir tmp;
  const fs::path cwd = fs::current_path();
  fs::create_directories(tmp / "work");
  fs::current_path(tmp / "work");
  ResolveOptions o = Opts(tmp.path());
  o.storage_dir_env = "env-root";
  const fs::path from_env = ResolveConfig(o).storage_dir;
  o.storage_dir_flag = "flag-root";
  const fs::path from_flag = ResolveConfig(o).storage_dir;
  fs::current_path(cwd);
  CHECK(from_env == tmp / "work/env-root");
  CHECK(from_flag == tmp / "work/flag-root");
}

TEST_CASE("every setting of the config file is read") {
  TempDir tmp;
  WriteAll(tmp / ".prodigy/config.toml",
           "mirrors = false\nsynchronous = \"full\"\nbusy_timeout_ms = 1234\nstate_versions_kept = 7\n"
           "migration = \"off\"\nallow_network_filesystem = true\n");
  StorageConfig c = ResolveConfig(Opts(tmp.path()));
  CHECK_FALSE(c.mirrors);
  CHECK(c.synchronous == Synchronous::kFull);
  CHECK(c.busy_timeout_ms == 1234);
  CHECK(c.state_versions_kept == 7);
  CHECK(c.migration == MigrationPolicy::kOff);
  CHECK(c.allow_network_filesystem);
}

TEST_CASE("mirrors: written within mirror_delay_ms by default, or \"sync\" before each call returns") {
  TempDir tmp;
  StorageConfig c = ResolveConfig(Opts(tmp.path()));
  CHECK(c.mirrors);
  CHECK(c.mirror_delay_ms == 50);
  WriteAll(tmp / ".prodigy/config.toml", "mirror_delay_ms = 200\n");
  CHECK(ResolveConfig(Opts(tmp.path())).mirror_delay_ms == 200);
  // "sync" wins over a delay in the same file, whatever the order.
  WriteAll(tmp / ".prodigy/config.toml", "mirrors = \"sync\"\nmirror_delay_ms = 200\n");
  c = ResolveConfig(Opts(tmp.path()));
  CHECK(c.mirrors);
  CHECK(c.mirror_delay_ms == 0);
  WriteAll(tmp / ".prodigy/config.toml", "mirror_delay_ms = 200\nmirrors = \"sync\"\n");
  CHECK(ResolveConfig(Opts(tmp.path())).mirror_delay_ms == 0);
}

TEST_CASE("a root's own config.toml applies on top, but cannot move the root") {
  TempDir tmp;
  ResolveOptions o = Opts(tmp / "home");
  o.storage_dir_flag = tmp / "root";
  WriteAll(tmp / "root/config.toml", "mirrors = false\n");
  CHECK_FALSE(ResolveConfig(o).mirrors);
  WriteAll(tmp / "root/config.toml", "storage_dir = \"/x\"\n");
  CHECK_PRODIGY_ERROR(ResolveConfig(o), ErrorCode::kConfig,
                      "key 'storage_dir' is only read from ~/.prodigy/config.toml");
}

TEST_CASE("config file errors name the file and the key") {
  TempDir tmp;
  const fs::path file = tmp / ".prodigy/config.toml";
  WriteAll(file, "storage_dri = \"/x\"\n");
  CHECK_PRODIGY_ERROR(ResolveConfig(Opts(tmp.path())), ErrorCode::kConfig,
                      file.string() + ": key 'storage_dri' is not a known setting");
  WriteAll(file, "mirrors = \"yes\"\n");
  CHECK_PRODIGY_ERROR(ResolveConfig(Opts(tmp.path())), ErrorCode::kConfig,
                      file.string() + ": key 'mirrors' must be true, false or \"sync\"");
  WriteAll(file, "mirrors = 1\n");
  CHECK_PRODIGY_ERROR(ResolveConfig(Opts(tmp.path())), ErrorCode::kConfig,
                      "key 'mirrors' must be true, false or \"sync\"");
  WriteAll(file, "mirror_delay_ms = 60001\n");
  CHECK_PRODIGY_ERROR(ResolveConfig(Opts(tmp.path())), ErrorCode::kConfig,
                      "key 'mirror_delay_ms' must be an integer from 0 to 60000");
  WriteAll(file, "synchronous = \"sometimes\"\n");
  CHECK_PRODIGY_ERROR(ResolveConfig(Opts(tmp.path())), ErrorCode::kConfig,
                      "must be \"normal\" or \"full\", not \"sometimes\"");
  WriteAll(file, "storage_dir = \n");
  CHECK_PRODIGY_ERROR(ResolveConfig(Opts(tmp.path())), ErrorCode::kConfig, file.string() + ":1:");
  WriteAll(file, "busy_timeout_ms = -1\n");
  CHECK_PRODIGY_ERROR(ResolveConfig(Opts(tmp.path())), ErrorCode::kConfig, "busy_timeout_ms");
}

TEST_CASE("no HOME and no explicit root is an error, never the current directory") {
  ResolveOptions o;
  o.use_process_env = false;
  CHECK_PRODIGY_ERROR(ResolveConfig(o), ErrorCode::kConfig, "HOME is not set");
  o.storage_dir_env = "/tmp/somewhere";
  CHECK(ResolveConfig(o).storage_dir == "/tmp/somewhere");
}

TEST_CASE("PRODIGY_USE_LOCAL_STORAGE has no effect but one notice") {
  TempDir tmp;
  ResolveOptions o = Opts(tmp.path());
  o.use_local_storage_env = "true";
  StorageConfig c = ResolveConfig(o);
  CHECK(c.storage_dir == tmp / ".prodigy");
  REQUIRE(c.notices.size() == 1);
  CHECK(c.notices[0].find("PRODIGY_USE_LOCAL_STORAGE is set but has no effect") != std::string::npos);
}

TEST_CASE("the process environment is read when asked to") {
  TempDir tmp;
  ::setenv("HOME", tmp.path().c_str(), 1);
  ::setenv("PRODIGY_STORAGE_DIR", (tmp / "env-root").c_str(), 1);
  StorageConfig c = ResolveConfig();
  CHECK(c.storage_dir == tmp / "env-root");
  CHECK(c.storage_dir_source == StorageDirSource::kEnv);
  ::unsetenv("PRODIGY_STORAGE_DIR");
}
