// info, path: where the data lives and what is in it. Neither creates a
// database: a repository without one is described as such.
#include <algorithm>

#include "cli.h"
#include "output.h"

namespace prodigy::cli {
namespace {

namespace fs = std::filesystem;

struct RepoFolder {
  std::string name;
  fs::path db_path;
  int64_t db_bytes = 0;
};

// Folders under the root that hold a database.
std::vector<RepoFolder> RepositoriesUnder(const fs::path& root) {
  std::vector<RepoFolder> out;
  std::error_code ec;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path db = it->path() / "prodigy.db";
    std::error_code size_ec;
    if (!it->is_directory(size_ec) || !fs::is_regular_file(db, size_ec)) continue;
    RepoFolder folder{it->path().filename().string(), db, 0};
    for (const char* suffix : {"", "-wal"}) {
      const auto size = fs::file_size(db.string() + suffix, size_ec);
      if (!size_ec) folder.db_bytes += static_cast<int64_t>(size);
    }
    out.push_back(std::move(folder));
  }
  std::sort(out.begin(), out.end(), [](const RepoFolder& a, const RepoFolder& b) { return a.name < b.name; });
  return out;
}

Json CountsJson(const TableCounts& counts) {
  Json j = Json::object();
  counts.ForEach([&](const char* table, int64_t n) { j[table] = n; });
  return j;
}

int RunInfo(Context& ctx) {
  StorageConfig config = ctx.Config();
  // info only looks: an existing database is opened without importing anything.
  config.migration = MigrationPolicy::kOff;
  const RepositoryLocation& loc = ctx.Location();
  const std::vector<RepoFolder> repos = RepositoriesUnder(config.storage_dir);
  const std::vector<fs::path> legacy = LegacyRoots(ctx);
  std::optional<RepositoryInfo> info;
  const bool on_server = EngineOf(config) == Engine::kPostgres;
  std::string where = loc.db_path.string();  // the database file, or the server and repository
  if (on_server && EngineBuilt(Engine::kPostgres)) {
    // The data lives on the server; a repository it does not have is shown
    // as not existing (nothing is created). A build without the engine still
    // shows the configuration (the other commands say how to rebuild).
    config.create_repository = false;
    where = RedactStorageUrl(config.storage_url);
    try {
      GlobalStorage store = GlobalStorage::OpenWithConfig(ctx.RepoPath(), config);
      info = store.Info();
      where = store.Where();
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kNotFound) throw;
    }
  } else if (!on_server && loc.exists) {
    info = GlobalStorage::OpenWithConfig(ctx.RepoPath(), config).Info();
  }

  if (ctx.json()) {
    Json j;
    j["storage_dir"] = config.storage_dir.string();
    j["storage_dir_source"] = StorageDirSourceName(config.storage_dir_source);
    j["config_files"] = Json::array();
    for (const auto& f : config.config_files) j["config_files"].push_back(f.string());
    j["notices"] = config.notices;
    j["backend"] = EngineName(EngineOf(config));
    j["storage_url"] =
        config.storage_url.empty() ? Json(nullptr) : Json(RedactStorageUrl(config.storage_url));
    j["repository_key"] = RepositoryKey(config, loc);
    j["repositories"] = Json::array();
    for (const RepoFolder& r : repos) {
      j["repositories"].push_back(
          {{"name", r.name}, {"db_path", r.db_path.string()}, {"db_bytes", r.db_bytes}});
    }
    j["repo_name"] = loc.name;
    j["repo_path"] = loc.canonical_path.string();
    j["repo_dir"] = loc.dir.string();
    j["db_path"] = loc.db_path.string();
    j["db_exists"] = on_server ? info.has_value() : loc.exists;
    j["db_bytes"] = info ? info->db_bytes : 0;
    j["schema_version"] = info ? Json(info->schema_version) : Json(nullptr);
    j["counts"] = CountsJson(info ? info->counts : TableCounts{});
    j["mirrors_enabled"] = config.mirrors;
    j["legacy_sources"] = Json::array();
    for (const auto& p : legacy) j["legacy_sources"].push_back(p.string());
    PrintJson(j);
    return kExitOk;
  }

  for (const std::string& notice : config.notices) ctx.Note("note: {}", notice);
  KeyValues kv;
  kv.Add("storage root", fmt::format("{} (from {})", config.storage_dir.string(),
                                     StorageDirSourceName(config.storage_dir_source)));
  std::string files;
  for (const auto& f : config.config_files) files += (files.empty() ? "" : ", ") + f.string();
  kv.Add("config files", files.empty() ? "none" : files);
  kv.Add("backend", EngineName(EngineOf(config)));
  if (!config.storage_url.empty()) {
    kv.Add("storage url", fmt::format("{} (from {})", RedactStorageUrl(config.storage_url),
                                      StorageDirSourceName(config.storage_url_source)));
  }
  kv.Add("repository key", RepositoryKey(config, loc));
  std::string names;
  for (const RepoFolder& r : repos) names += (names.empty() ? "" : ", ") + r.name;
  kv.Add("repositories", repos.empty() ? "none" : fmt::format("{} ({})", repos.size(), names));
  kv.Add("repository", loc.canonical_path.string());
  kv.Add("folder name", loc.name);
  if (info) {
    kv.Add("database", on_server ? where : fmt::format("{} ({})", where, HumanBytes(info->db_bytes)));
    kv.Add("schema version", std::to_string(info->schema_version));
    const TableCounts& c = info->counts;
    kv.Add("rows", fmt::format("events {}, dlq_items {}, job_states {}, sessions {}, workflow_checkpoints {}",
                               c.events, c.dlq_items, c.job_states, c.sessions, c.workflow_checkpoints));
    kv.Add("imported",
           fmt::format("{} legacy files, {} unparsed lines kept", c.import_sources, c.unparsed_lines));
  } else {
    kv.Add("database", fmt::format("{} (not created yet)", where));
  }
  kv.Add("mirrors", on_server ? std::string("none on a PostgreSQL store ('export --mirrors' writes them)")
                    : config.mirrors ? fmt::format("enabled, under {} ('prodigy-store check' compares them)",
                                                   loc.dir.string())
                                     : std::string("disabled in the config"));
  if (legacy.empty()) {
    kv.Add("legacy data", "none found");
  } else {
    kv.Add("legacy data", fmt::format("{}; 'prodigy-store migrate --dry-run' shows the plan",
                                      Plural(static_cast<int64_t>(legacy.size()), "root")));
    for (const auto& p : legacy) kv.Add("  legacy root", p.string());
  }
  kv.Print();
  return kExitOk;
}

int RunPath(Context& ctx) {
  const RepositoryLocation& loc = ctx.Location();
  if (ctx.json()) {
    PrintJson(Json{{"db_path", loc.db_path.string()}, {"exists", loc.exists}});
  } else {
    std::puts(loc.db_path.c_str());
  }
  return kExitOk;
}

}  // namespace

std::vector<Command> InfoCommands() {
  return {
      Command{
          .name = "info",
          .summary = "show the storage root, its repositories and this repository's database",
          .details = "Writes nothing: a repository without a database is reported as such, and legacy\n"
                     "Prodigy data is listed, not imported.",
          .examples = {"prodigy-store info", "prodigy-store --json info | jq .counts"},
          .run = RunInfo,
      },
      Command{
          .name = "path",
          .summary = "print the repository's database path (for sqlite3)",
          .examples = {"sqlite3 \"$(prodigy-store path)\" 'SELECT count(*) FROM events'"},
          .run = RunPath,
      },
  };
}

}  // namespace prodigy::cli
