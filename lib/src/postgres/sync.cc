// `sync`: a repository copied between the local SQLite store and PostgreSQL,
// in one transaction on each side, verified by row counts and SHA-256 over
// the rows in key order computed on both sides before anything commits.
#include "prodigy/sync.h"

#include <variant>

#include <fmt/format.h>

#include "postgres/connection.h"
#include "postgres/migrations.h"
#include "prodigy/error.h"
#include "prodigy/storage.h"
#include "sqlite/table_rows.h"
#include "util/sha256.h"

namespace prodigy {
namespace {

using engine::ColumnType;
using engine::Value;
using internal::TableColumn;
using internal::TableRows;
namespace pg = internal::pg;

// The data tables in the order rows are inserted (the ledger before the rows
// that name it), each with its key order. mirror_changes, meta and the
// repository row describe one database, not the repository's data.
struct SyncedTable {
  const char* name;
  const char* key_order;
};
constexpr SyncedTable kTables[] = {
    {"import_sources", "id"},
    {"events", "seq"},
    {"dlq_items", "job_id, item_id"},
    {"job_states", "job_id, version"},
    {"sessions", "session_id"},
    {"workflow_checkpoints", "workflow_id"},
    {"unparsed_lines", "source_id, line_no"},
    {"source_blobs", "source_id, chunk"},
};

// Count and SHA-256 of rows fed in key order. Each value is tagged and
// length-prefixed, so that NULL, "" and 0 and different splits of the same
// bytes all hash differently.
class RowDigest {
 public:
  void Add(std::span<const Value> row) {
    std::string buf;
    for (const Value& v : row) {
      if (engine::IsNull(v)) {
        buf += 'N';
      } else if (const auto* n = std::get_if<int64_t>(&v)) {
        buf += fmt::format("I{};", *n);
      } else {
        const std::string_view s = engine::TextOf(v);
        buf += fmt::format("S{}:", s.size());
        buf += s;
      }
    }
    sha_.Update(buf);
    ++rows_;
  }
  int64_t rows() const { return rows_; }
  std::string Final() { return sha_.FinalHex(); }

 private:
  internal::Sha256 sha_;
  int64_t rows_ = 0;
};

std::string ColumnList(const std::vector<TableColumn>& columns) {
  std::string out;
  for (const TableColumn& c : columns) out += (out.empty() ? "" : ", ") + c.name;
  return out;
}

// A value in COPY's text format.
void AppendCopyValue(const Value& v, const TableColumn& c, std::string* out) {
  if (engine::IsNull(v)) {
    *out += "\\N";
    return;
  }
  if (const auto* n = std::get_if<int64_t>(&v)) {
    *out += std::to_string(*n);
    return;
  }
  const std::string_view s = engine::TextOf(v);
  if (c.type == ColumnType::kBlob) {
    static const char kHex[] = "0123456789abcdef";
    *out += "\\\\x";  // bytea's hex input, its backslash escaped for COPY
    for (unsigned char ch : s) {
      *out += kHex[ch >> 4];
      *out += kHex[ch & 15];
    }
    return;
  }
  for (char ch : s) {
    switch (ch) {
      case '\\':
        *out += "\\\\";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\r':
        *out += "\\r";
        break;
      case '\t':
        *out += "\\t";
        break;
      default:
        *out += ch;
    }
  }
}

// Reads one repository's rows of a table from the server in key order,
// through a cursor (bounded memory), as engine values.
void ForEachServerRow(pg::Connection& conn, int64_t repo_id, const SyncedTable& t,
                      const std::vector<TableColumn>& columns,
                      const std::function<void(std::span<const Value>)>& fn) {
  conn.Query(
      fmt::format("DECLARE sync_rows NO SCROLL CURSOR FOR SELECT {} FROM {} WHERE repo_id = $1 ORDER BY {}",
                  ColumnList(columns), t.name, t.key_order)
          .c_str(),
      {std::to_string(repo_id)});
  std::vector<Value> row(columns.size());
  while (true) {
    pg::Result res = conn.Query("FETCH 2000 FROM sync_rows", std::vector<pg::Param>{}, /*binary=*/true);
    if (res.rows() == 0) break;
    for (int r = 0; r < res.rows(); ++r) {
      for (size_t i = 0; i < columns.size(); ++i) {
        const int col = static_cast<int>(i);
        if (res.IsNull(r, col))
          row[i] = std::monostate();
        else if (columns[i].type == ColumnType::kInt)
          row[i] = res.Int(r, col);
        else
          row[i] = res.Text(r, col);
      }
      fn(row);
    }
  }
  conn.Exec("CLOSE sync_rows");
}

// The local store's database, which must exist for sync --to.
RepositoryLocation LocalStore(const std::filesystem::path& repo_path, const StorageConfig& config) {
  RepositoryLocation loc = LocateRepository(repo_path, config);
  if (!loc.exists) {
    throw Error::NotFound(
        fmt::format("repository {} has no local store to copy: {} does not exist; "
                    "check --repo and --storage-dir",
                    loc.canonical_path.string(), loc.db_path.string()));
  }
  return loc;
}

void Compare(const std::string& server, const SyncTable& local, const SyncTable& remote) {
  if (local.rows != remote.rows || local.sha256 != remote.sha256) {
    throw Error::VerificationFailed(
        fmt::format("sync with {}: table {} differs after copying ({} rows, SHA-256 {} here; {} rows, "
                    "SHA-256 {} there); nothing was committed",
                    server, local.table, local.rows, local.sha256, remote.rows, remote.sha256));
  }
}

// The repository's row on the server, created when missing; locked until
// the end of the transaction (writers of the repository wait).
struct ServerRepository {
  int64_t id = 0;
  std::string database_id;  // the SQLite database last copied in, if any
  int64_t last_seq = 0;
};

ServerRepository LockServerRepository(pg::Connection& conn, const std::string& key,
                                      const RepositoryLocation& loc, bool for_write) {
  if (for_write) {
    conn.Query(
        "INSERT INTO repositories (key, name, canonical_path, created_at) VALUES ($1, $2, $3, "
        "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')) ON CONFLICT (key) DO "
        "NOTHING",
        {key, loc.name, loc.canonical_path.string()});
  }
  pg::Result res = conn.Query(for_write ? "SELECT id, coalesce(database_id, ''), last_seq FROM repositories "
                                          "WHERE key = $1 FOR UPDATE"
                                        : "SELECT id, coalesce(database_id, ''), last_seq FROM repositories "
                                          "WHERE key = $1",
                              {key});
  if (res.rows() == 0) {
    throw Error::NotFound(
        fmt::format("PostgreSQL server {} has no repository with the key '{}'; check "
                    "repository_key, or copy one there with 'prodigy-store sync --to'",
                    conn.server(), key));
  }
  return {res.Int(0, 0), std::string(res.Text(0, 1)), res.Int(0, 2)};
}

bool ServerHasData(pg::Connection& conn, int64_t repo_id) {
  const std::string id = std::to_string(repo_id);
  for (const SyncedTable& t : kTables) {
    if (conn.Query(fmt::format("SELECT 1 FROM {} WHERE repo_id = $1 LIMIT 1", t.name).c_str(), {id}).rows() >
        0) {
      return true;
    }
  }
  return false;
}

}  // namespace

SyncReport SyncToServer(const std::filesystem::path& repo_path, const StorageConfig& config,
                        const SyncOptions& options) {
  const RepositoryLocation loc = LocalStore(repo_path, config);
  SyncReport report{RedactStorageUrl(options.url), RepositoryKey(config, loc), {}};
  TableRows local(loc.db_path, /*write=*/false, config.busy_timeout_ms);
  const std::string database_id = local.Meta("database_id");

  pg::Connection conn(options.url);
  pg::ApplyMigrations(conn);
  conn.Transaction([&]() {
    report.tables.clear();
    const ServerRepository repo = LockServerRepository(conn, report.repository_key, loc, /*for_write=*/true);
    if (!options.replace && repo.database_id != database_id && ServerHasData(conn, repo.id)) {
      throw Error::InvalidArgument(
          fmt::format("PostgreSQL server {} already holds repository '{}' with data from another store "
                      "(database {}, this one is {}); nothing was changed. Use --replace to overwrite it, "
                      "or set a different repository_key",
                      conn.server(), report.repository_key,
                      repo.database_id.empty() ? "written on the server" : repo.database_id, database_id));
    }
    const std::string id = std::to_string(repo.id);
    for (auto t = std::rbegin(kTables); t != std::rend(kTables); ++t) {
      conn.Query(fmt::format("DELETE FROM {} WHERE repo_id = $1", t->name).c_str(), {id});
    }
    int64_t max_seq = 0;
    for (const SyncedTable& t : kTables) {
      const std::vector<TableColumn> columns = local.Columns(t.name);
      RowDigest here;
      std::string buf;
      conn.CopyIn(fmt::format("COPY {} (repo_id, {}) FROM STDIN", t.name, ColumnList(columns)).c_str(),
                  [&]() {
                    local.ForEach(t.name, t.key_order, [&](std::span<const Value> row) {
                      here.Add(row);
                      buf += id;
                      for (size_t i = 0; i < row.size(); ++i) {
                        buf += '\t';
                        AppendCopyValue(row[i], columns[i], &buf);
                      }
                      buf += '\n';
                      if (std::string_view(t.name) == "events") max_seq = std::get<int64_t>(row[0]);
                      if (buf.size() >= (1 << 20)) {
                        conn.PutCopyData(buf);
                        buf.clear();
                      }
                      if (options.progress && here.rows() % 10000 == 0) options.progress(t.name, here.rows());
                    });
                    if (!buf.empty()) conn.PutCopyData(buf);
                  });
      if (options.progress) options.progress(t.name, here.rows());
      RowDigest there;
      ForEachServerRow(conn, repo.id, t, columns, [&](std::span<const Value> row) { there.Add(row); });
      SyncTable mine{t.name, here.rows(), here.Final()};
      Compare(report.server, mine, SyncTable{t.name, there.rows(), there.Final()});
      report.tables.push_back(std::move(mine));
    }
    // The counter never goes back: events appended later get seqs above
    // every seq a reader may have seen.
    conn.Query("UPDATE repositories SET last_seq = greatest(last_seq, $2), database_id = $3 WHERE id = $1",
               {id, std::to_string(max_seq), database_id});
  });
  return report;
}

SyncReport SyncFromServer(const std::filesystem::path& repo_path, const StorageConfig& config,
                          const SyncOptions& options) {
  StorageConfig local_config = config;
  local_config.storage_url.clear();  // the local SQLite store, whatever else is configured
  local_config.migration = MigrationPolicy::kOff;
  RepositoryLocation loc = LocateRepository(repo_path, local_config);
  if (!loc.exists) GlobalStorage::OpenWithConfig(repo_path, local_config);  // creates it
  loc = LocateRepository(repo_path, local_config);
  SyncReport report{RedactStorageUrl(options.url), RepositoryKey(config, loc), {}};

  pg::Connection conn(options.url);
  if (pg::SchemaVersion(conn) == 0) {
    throw Error::NotFound(
        fmt::format("PostgreSQL server {} holds no prodigy-store data (no schema); "
                    "check the URL",
                    conn.server()));
  }
  TableRows local(loc.db_path, /*write=*/true, config.busy_timeout_ms);
  bool local_has_data = false;
  for (const SyncedTable& t : kTables) local_has_data = local_has_data || local.HasRows(t.name);
  if (local_has_data && !options.replace) {
    throw Error::InvalidArgument(
        fmt::format("the local store {} already holds data; nothing was changed. Use --replace to overwrite "
                    "it with the server's copy",
                    loc.db_path.string()));
  }
  conn.Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  try {
    const ServerRepository repo = LockServerRepository(conn, report.repository_key, loc, /*for_write=*/false);
    for (auto t = std::rbegin(kTables); t != std::rend(kTables); ++t) local.DeleteAll(t->name);
    for (const SyncedTable& t : kTables) {
      const std::vector<TableColumn> columns = local.Columns(t.name);
      RowDigest there;
      ForEachServerRow(conn, repo.id, t, columns, [&](std::span<const Value> row) {
        there.Add(row);
        local.Insert(t.name, row);
        if (options.progress && there.rows() % 10000 == 0) options.progress(t.name, there.rows());
      });
      if (options.progress) options.progress(t.name, there.rows());
      RowDigest here;
      local.ForEach(t.name, t.key_order, [&](std::span<const Value> row) { here.Add(row); });
      SyncTable theirs{t.name, there.rows(), there.Final()};
      Compare(report.server, SyncTable{t.name, here.rows(), here.Final()}, theirs);
      report.tables.push_back(std::move(theirs));
    }
  } catch (...) {
    if (!conn.IsBroken()) conn.Exec("ROLLBACK");
    throw;
  }
  conn.Exec("COMMIT");
  local.RequestMirrorRegeneration();
  local.Commit();
  return report;
}

}  // namespace prodigy
