// prodigy-store, the command-line tool: what every command shares.
//
// Each command is a Command (its name, usage, options and a Run function)
// registered by one of the cmd_*.cc files; main.cc finds the command in argv,
// parses its options with cxxopts and calls Run with a Context. The CLI uses
// only the library's public API.
//
// Exit codes (docs/cli.md): 0 ok, 1 error, 2 usage error, 3 verification
// failed (a check that found problems, or ErrorCode::kVerificationFailed).
#ifndef PRODIGY_TOOLS_CLI_CLI_H_
#define PRODIGY_TOOLS_CLI_CLI_H_

#include <cstdio>
#include <filesystem>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <cxxopts.hpp>

#include "prodigy/prodigy.h"

namespace prodigy::cli {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitVerification = 3;

// A command line that cannot be run as given: exit 2 with the usage line.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct GlobalOptions {
  std::optional<std::filesystem::path> storage_dir;
  std::optional<std::string> storage_url;
  std::optional<std::filesystem::path> repo;
  bool json = false;
  bool verbose = false;
  bool quiet = false;
};

// What a command runs with: the parsed options, lazily resolved
// configuration and repository, and the store (opened on first use).
class Context {
 public:
  Context(GlobalOptions global, const cxxopts::ParseResult& args, std::vector<std::string> positional);
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  const GlobalOptions& global() const { return global_; }
  bool json() const { return global_.json; }
  bool quiet() const { return global_.quiet; }
  const std::vector<std::string>& positional() const { return positional_; }
  bool stdout_tty() const { return stdout_tty_; }
  // Progress lines go to stderr only when it is a terminal, without -q and
  // --json (a program reading the JSON may be watching stderr too).
  bool show_progress() const { return stderr_tty_ && !global_.quiet && !global_.json; }

  // Command options; unset options are nullopt / false.
  bool Flag(const std::string& name) const;
  std::optional<std::string> Str(const std::string& name) const;
  std::vector<std::string> Strs(const std::string& name) const;
  // A non-negative integer option; a bad value is a UsageError naming the flag.
  std::optional<int64_t> Count(const std::string& name) const;

  // The configuration (flag > env > config file > default). Writes nothing.
  const StorageConfig& Config();
  // --repo, else the git top-level of the current directory, else the cwd.
  const std::filesystem::path& RepoPath();
  // Where the repository's store is; writes nothing.
  const RepositoryLocation& Location();

  // The repository's store, for commands that read or change existing data.
  // When there is no database yet and no legacy data to import, throws
  // kNotFound without creating anything. Legacy data is migrated on open
  // when the configured policy is `auto` (as for every library user).
  GlobalStorage& Store();
  // The store, created when missing.
  GlobalStorage& CreateStore();
  // The configuration of the local SQLite store, also when a storage URL
  // selects a server: legacy data is imported there first (docs/postgres.md).
  StorageConfig LocalConfig();
  // With a server configured: says that the import went into the local store
  // and how to copy it to the server.
  void NoteSyncAfterImport();

  // A line for the user on stderr, unless -q.
  template <typename... T>
  void Note(fmt::format_string<T...> format, T&&... args) const {
    if (global_.quiet) return;
    std::fputs(fmt::format(format, std::forward<T>(args)...).c_str(), stderr);
    std::fputc('\n', stderr);
  }

 private:
  GlobalOptions global_;
  const cxxopts::ParseResult& args_;
  std::vector<std::string> positional_;
  bool stdout_tty_ = false;
  bool stderr_tty_ = false;
  std::optional<StorageConfig> config_;
  std::optional<std::filesystem::path> repo_path_;
  std::optional<RepositoryLocation> location_;
  std::optional<GlobalStorage> store_;
};

struct Command {
  std::string name;     // "events show"
  std::string args;     // positional part of the usage line, e.g. "JOB"
  std::string summary;  // one line
  std::string details;  // more help text (may be empty)
  std::vector<std::string> examples;
  int min_args = 0;
  int max_args = 0;  // -1: any number
  std::function<void(cxxopts::Options&)> options;
  std::function<int(Context&)> run;
};

// The command sets, one per cmd_*.cc file.
std::vector<Command> InfoCommands();
std::vector<Command> EventsCommands();
std::vector<Command> DlqCommands();
std::vector<Command> DocumentCommands();  // state, sessions, checkpoints
std::vector<Command> ExportCommands();
std::vector<Command> MigrateCommands();  // migrate, import
std::vector<Command> CheckCommands();
std::vector<Command> BackupCommands();  // backup, backup ls, restore
std::vector<Command> DocCommands();     // completion, man (docgen.cc)
std::vector<Command> SyncCommands();    // sync --to / --from a PostgreSQL server
std::vector<Command> LeaseCommands();   // leases ls, leases release

// Every command, in the order `prodigy-store --help` lists them.
std::vector<Command> AllCommands();
// The options every command takes (--storage-dir, --repo, --json, -v, -q, -h).
void AddGlobalOptions(cxxopts::Options& options);

// Legacy Prodigy data of the repository (roots), without writing anything.
std::vector<std::filesystem::path> LegacyRoots(Context& ctx);

// Maps a library error to the exit code: kVerificationFailed -> 3, else 1.
int ExitCodeFor(const Error& error);

}  // namespace prodigy::cli

#endif  // PRODIGY_TOOLS_CLI_CLI_H_
