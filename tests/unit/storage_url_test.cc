// Storage URLs: precedence, engine selection, password redaction, and the
// error of a build without the engine a URL selects.
#include <doctest/doctest.h>

#include "config/engines.h"
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

TEST_CASE("precedence: --storage-url > PRODIGY_STORAGE_URL > config.toml > the SQLite store") {
  TempDir tmp;
  ResolveOptions o = Opts(tmp.path());
  StorageConfig c = ResolveConfig(o);
  CHECK(c.storage_url.empty());
  CHECK(EngineOf(c) == Engine::kSqlite);
  CHECK(c.repository_key.empty());
  CHECK(c.notify);

  WriteAll(tmp / ".prodigy/config.toml",
           "storage_url = \"postgresql://from-config/db\"\nrepository_key = \"github.com/org/repo\"\n"
           "notify = false\n");
  c = ResolveConfig(o);
  CHECK(c.storage_url == "postgresql://from-config/db");
  CHECK(c.storage_url_source == StorageDirSource::kConfig);
  CHECK(EngineOf(c) == Engine::kPostgres);
  CHECK(c.repository_key == "github.com/org/repo");
  CHECK_FALSE(c.notify);

  o.storage_url_env = "postgres://from-env/db";
  c = ResolveConfig(o);
  CHECK(c.storage_url == "postgres://from-env/db");
  CHECK(c.storage_url_source == StorageDirSource::kEnv);

  // The flag wins even when it asks for the local store.
  o.storage_url_flag = "sqlite:";
  c = ResolveConfig(o);
  CHECK(c.storage_url_source == StorageDirSource::kFlag);
  CHECK(EngineOf(c) == Engine::kSqlite);
}

TEST_CASE("the engine a URL selects; a typo is an error naming the URL without its password") {
  CHECK(EngineForUrl("") == Engine::kSqlite);
  CHECK(EngineForUrl("sqlite:") == Engine::kSqlite);
  CHECK(EngineForUrl("postgresql://db.example/prodigy") == Engine::kPostgres);
  CHECK(EngineForUrl("POSTGRES://db.example/prodigy") == Engine::kPostgres);
  CHECK(EngineForUrl("host=db.example dbname=prodigy") == Engine::kPostgres);
  CHECK(EngineForUrl("postgresql:///prodigy?host=/run/pg") == Engine::kPostgres);
  CHECK_PRODIGY_ERROR(EngineForUrl("postgress://bob:hunter2@db/x"), ErrorCode::kConfig,
                      "storage URL 'postgress://bob:***@db/x' has the unknown scheme 'postgress'");
  CHECK_PRODIGY_ERROR(EngineForUrl("db.example"), ErrorCode::kConfig,
                      "is neither a URL nor libpq's key=value form");

  TempDir tmp;
  ResolveOptions o = Opts(tmp.path());
  o.storage_url_env = "mysql://root:secret@h/db";
  try {
    ResolveConfig(o);
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::kConfig);
    CHECK(std::string(e.what()).find("secret") == std::string::npos);
    CHECK(std::string(e.what()).find("(from env)") != std::string::npos);
  }
}

// Found by the config fuzz target: a URL without a scheme in a config file
// was reported without naming the file.
TEST_CASE("a storage URL in config.toml that is no URL names the file and the key") {
  TempDir tmp;
  const fs::path file = tmp / ".prodigy/config.toml";
  WriteAll(file, "storage_url = \"~/prodigy-data\"\nmirrors = false\n");
  CHECK_PRODIGY_ERROR(ResolveConfig(Opts(tmp.path())), ErrorCode::kConfig,
                      file.string() + ": key 'storage_url' storage URL '~/prodigy-data' is neither a URL");
}

TEST_CASE("RedactStorageUrl masks every password form and keeps the rest") {
  CHECK(RedactStorageUrl("postgresql://bob:hunter2@db.example:5433/prodigy") ==
        "postgresql://bob:***@db.example:5433/prodigy");
  CHECK(RedactStorageUrl("postgresql://bob@db.example/prodigy") == "postgresql://bob@db.example/prodigy");
  CHECK(RedactStorageUrl("postgresql://db.example/prodigy?user=bob&password=hunter2&sslmode=require") ==
        "postgresql://db.example/prodigy?user=bob&password=***&sslmode=require");
  CHECK(RedactStorageUrl("postgres://bob:p%40ss@h1,h2/db?PASSWORD=x") ==
        "postgres://bob:***@h1,h2/db?PASSWORD=***");
  // A password holding '@' (user info ends at the last '@').
  CHECK(RedactStorageUrl("postgresql://bob:a@b@db/x") == "postgresql://bob:***@db/x");
  CHECK(RedactStorageUrl("host=db password=hunter2 dbname=prodigy") == "host=db password=*** dbname=prodigy");
  CHECK(RedactStorageUrl("host=db password = 'hun ter\\'2' user=bob") == "host=db password = *** user=bob");
  CHECK(RedactStorageUrl("host=db") == "host=db");
  CHECK(RedactStorageUrl("") == "");
}

TEST_CASE("config errors for the new keys name the key") {
  TempDir tmp;
  const fs::path file = tmp / ".prodigy/config.toml";
  WriteAll(file, "repository_key = \"\"\n");
  CHECK_PRODIGY_ERROR(ResolveConfig(Opts(tmp.path())), ErrorCode::kConfig,
                      "key 'repository_key' must not be empty");
  WriteAll(file, "notify = 1\n");
  CHECK_PRODIGY_ERROR(ResolveConfig(Opts(tmp.path())), ErrorCode::kConfig,
                      "key 'notify' must be true or false");
  WriteAll(file, "storage_url = 5\n");
  CHECK_PRODIGY_ERROR(ResolveConfig(Opts(tmp.path())), ErrorCode::kConfig,
                      "key 'storage_url' must be a string");
}

TEST_CASE("the repository key defaults to the folder name") {
  Sandbox box;
  StorageConfig config = box.Config();
  const RepositoryLocation loc = LocateRepository(box.repo, config);
  CHECK(RepositoryKey(config, loc) == "my-repo");
  config.repository_key = "github.com/org/my-repo";
  CHECK(RepositoryKey(config, loc) == "github.com/org/my-repo");
}

TEST_CASE("a build without the PostgreSQL engine says how to build it, and creates nothing") {
  if (EngineBuilt(Engine::kPostgres)) return;  // tests/postgres/ cover that build
  Sandbox box;
  StorageConfig config = box.Config();
  config.storage_url = "postgresql://bob:hunter2@db.example/prodigy";
  config.storage_url_source = StorageDirSource::kEnv;
  CHECK_PRODIGY_ERROR(GlobalStorage::OpenWithConfig(box.repo, config), ErrorCode::kConfig,
                      "storage URL postgresql://bob:***@db.example/prodigy (from env) selects the PostgreSQL "
                      "engine, but this prodigy-store was built without it; rebuild with 'meson setup build "
                      "-Dpostgres=enabled'");
  CHECK_FALSE(fs::exists(box.root));
}
