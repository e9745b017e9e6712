// prodigy-store: finds the command in argv, parses its options, runs it and
// maps the outcome to an exit code (cli.h).
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>

#include "cli.h"
#include "prodigy/c_api.h"  // prodigy_version(): Meson's project version

namespace prodigy::cli {
namespace {

constexpr const char* kProgram = "prodigy-store";

std::string FirstWord(const std::string& name) { return name.substr(0, name.find(' ')); }

}  // namespace

std::vector<Command> AllCommands() {
  std::vector<Command> all;
  for (auto set :
       {InfoCommands, MigrateCommands, ExportCommands, EventsCommands, DlqCommands, DocumentCommands,
        CheckCommands, LeaseCommands, BackupCommands, SyncCommands, DocCommands}) {
    for (Command& c : set()) all.push_back(std::move(c));
  }
  return all;
}

void AddGlobalOptions(cxxopts::Options& options) {
  options.add_options("Global")("storage-dir",
                                "storage root (else PRODIGY_STORAGE_DIR, config file, ~/.prodigy)",
                                cxxopts::value<std::string>(), "DIR")(
      "storage-url",
      "where the data lives: postgresql://... (else PRODIGY_STORAGE_URL, config file, "
      "the SQLite store under the storage root)",
      cxxopts::value<std::string>(),
      "URL")("repo",
             "repository (default: git top-level of the current directory, else the "
             "current directory)",
             cxxopts::value<std::string>(), "PATH")("json", "machine-readable output on stdout")(
      "v,verbose", "debug logging of storage operations on stderr")(
      "q,quiet", "no notices or progress on stderr")("h,help", "show this help");
}

namespace {

std::string UsageLine(const Command& c) {
  std::string line = fmt::format("{} {}", kProgram, c.name);
  if (!c.args.empty()) line += " " + c.args;
  return line + " [options]";
}

std::string CommandHelp(const Command& c) {
  cxxopts::Options options(fmt::format("{} {}", kProgram, c.name), "");
  options.custom_help("");
  options.positional_help("");
  if (c.options) c.options(options);
  AddGlobalOptions(options);
  std::string out = fmt::format("Usage: {}\n\n{}\n", UsageLine(c), c.summary);
  if (!c.details.empty()) out += "\n" + c.details + "\n";
  std::string groups = options.help({"", "Global"}, false);
  groups.erase(0, groups.find_first_not_of('\n'));
  groups.erase(groups.find_last_not_of('\n') + 1);
  out += "\n" + groups + "\n";
  if (!c.examples.empty()) {
    out += c.examples.size() == 1 ? "\nExample:\n" : "\nExamples:\n";
    for (const std::string& e : c.examples) out += "  " + e + "\n";
  }
  return out;
}

std::string OverviewHelp(const std::vector<Command>& commands, const std::string& group = "") {
  std::string out;
  if (group.empty()) {
    out = fmt::format(
        "Usage: {} [global options] COMMAND [options]\n\n"
        "The global store of Prodigy's runtime data: one SQLite database per repository\n"
        "plus JSON mirror files. Run '{} COMMAND --help' for a command's options.\n\nCommands:\n",
        kProgram, kProgram);
  } else {
    out = fmt::format("Usage: {} {} SUBCOMMAND [options]\n\nSubcommands:\n", kProgram, group);
  }
  size_t width = 0;
  for (const Command& c : commands) {
    if (group.empty() || FirstWord(c.name) == group)
      width = std::max(width, c.name.size() + 1 + c.args.size());
  }
  for (const Command& c : commands) {
    if (!group.empty() && FirstWord(c.name) != group) continue;
    const std::string left = c.args.empty() ? c.name : c.name + " " + c.args;
    out += fmt::format("  {:<{}}  {}\n", left, width, c.summary);
  }
  out +=
      "\nGlobal options: --storage-dir DIR, --storage-url URL, --repo PATH, --json, -v, -q, -h\n"
      "Exit codes: 0 ok, 1 error, 2 usage error, 3 verification failed\n";
  return out;
}

[[noreturn]] void UsageExit(const std::string& message, const std::string& usage,
                            const std::string& help_cmd) {
  std::fprintf(stderr, "%s: %s\nUsage: %s\nRun '%s --help' for details.\n", kProgram, message.c_str(),
               usage.c_str(), help_cmd.c_str());
  std::exit(kExitUsage);
}

// Global options that take a value, in the forms the pre-scan must skip.
bool IsGlobalWithValue(const std::string& token) {
  return token == "--storage-dir" || token == "--storage-url" || token == "--repo";
}
bool IsGlobalFlag(const std::string& token) {
  static const std::set<std::string> kFlags = {"--json", "-v", "--verbose", "-q", "--quiet"};
  return kFlags.count(token) > 0 || token.starts_with("--storage-dir=") ||
         token.starts_with("--storage-url=") || token.starts_with("--repo=");
}

int Run(int argc, char** argv) {
  const std::vector<Command> commands = AllCommands();
  std::set<std::string> groups;  // first words that take a subcommand
  std::set<std::string> names;
  for (const Command& c : commands) {
    names.insert(c.name);
    if (c.name.find(' ') != std::string::npos) groups.insert(FirstWord(c.name));
  }

  // The command words come first, possibly after global options:
  // `prodigy-store --json events ls --job X`.
  std::vector<std::string> words;
  std::vector<std::string> rest;
  bool help = false;
  bool own_options = false;
  for (int i = 1; i < argc; ++i) {
    const std::string token = argv[i];
    // `help events show` names a command like `events show --help` does.
    const size_t base = !words.empty() && words[0] == "help" ? 1 : 0;
    const bool group_word = words.size() == base + 1 && groups.count(words[base]);
    // A group that is also a command (`backup --to DIR` beside `backup ls DIR`):
    // its own options end the command words.
    if (group_word && names.count(words[base]) && token.starts_with("-") && !IsGlobalWithValue(token) &&
        !IsGlobalFlag(token) && token != "-h" && token != "--help") {
      own_options = true;
    }
    const bool want_word = !own_options && (words.size() == base || group_word);
    if (token == "-h" || token == "--help") help = true;
    if (want_word && !token.starts_with("-")) {
      words.push_back(token);
      continue;
    }
    if (want_word && !words.empty() && !IsGlobalWithValue(token) && !IsGlobalFlag(token) && !help) {
      // An option before the subcommand: `events --limit 3 ls`.
      UsageExit(fmt::format("'{}' needs a subcommand before its options", words[0]),
                fmt::format("{} {} SUBCOMMAND [options]", kProgram, words[0]),
                fmt::format("{} {}", kProgram, words[0]));
    }
    rest.push_back(token);
    if (IsGlobalWithValue(token) && i + 1 < argc) rest.push_back(argv[++i]);
  }
  if (!words.empty() && words[0] == "help") {
    words.erase(words.begin());
    help = true;
  }
  if (words.empty()) {
    if (help) {
      std::fputs(OverviewHelp(commands).c_str(), stdout);
      return kExitOk;
    }
    if (std::find(rest.begin(), rest.end(), "--version") != rest.end()) {
      std::printf("%s %s\n", kProgram, prodigy_version());
      return kExitOk;
    }
    UsageExit("no command given", fmt::format("{} [global options] COMMAND [options]", kProgram), kProgram);
  }
  if (groups.count(words[0]) && words.size() == 1 && (help || !names.count(words[0]))) {
    if (help) {
      auto self = std::find_if(commands.begin(), commands.end(),
                               [&](const Command& c) { return c.name == words[0]; });
      if (self != commands.end()) std::fputs((CommandHelp(*self) + "\n").c_str(), stdout);
      std::fputs(OverviewHelp(commands, words[0]).c_str(), stdout);
      return kExitOk;
    }
    UsageExit(fmt::format("'{}' needs a subcommand", words[0]),
              fmt::format("{} {} SUBCOMMAND [options]", kProgram, words[0]),
              fmt::format("{} {}", kProgram, words[0]));
  }
  std::string name = words[0];
  if (words.size() > 1) name += " " + words[1];
  auto it = std::find_if(commands.begin(), commands.end(), [&](const Command& c) { return c.name == name; });
  if (it == commands.end()) {
    if (groups.count(words[0])) {
      UsageExit(fmt::format("unknown subcommand '{}' of '{}'", words[1], words[0]),
                fmt::format("{} {} SUBCOMMAND [options]", kProgram, words[0]),
                fmt::format("{} {}", kProgram, words[0]));
    }
    UsageExit(fmt::format("unknown command '{}'", words[0]),
              fmt::format("{} [global options] COMMAND [options]", kProgram), kProgram);
  }
  const Command& command = *it;
  if (help) {
    std::fputs(CommandHelp(command).c_str(), stdout);
    return kExitOk;
  }
  cxxopts::Options options(fmt::format("{} {}", kProgram, command.name), command.summary);
  if (command.options) command.options(options);
  AddGlobalOptions(options);
  options.add_options("positional")("args", "", cxxopts::value<std::vector<std::string>>());
  options.parse_positional({"args"});
  const std::string usage = UsageLine(command);
  const std::string help_cmd = fmt::format("{} {}", kProgram, command.name);

  std::vector<const char*> av = {argv[0]};
  for (const std::string& s : rest) av.push_back(s.c_str());
  cxxopts::ParseResult result;
  try {
    result = options.parse(static_cast<int>(av.size()), av.data());
  } catch (const cxxopts::exceptions::exception& e) {
    UsageExit(e.what(), usage, help_cmd);
  }
  std::vector<std::string> positional;
  if (result.count("args")) positional = result["args"].as<std::vector<std::string>>();
  const int n = static_cast<int>(positional.size());
  if (n < command.min_args) {
    UsageExit(fmt::format("missing {}", command.args), usage, help_cmd);
  }
  if (command.max_args >= 0 && n > command.max_args) {
    UsageExit(fmt::format("unexpected argument '{}'", positional[command.max_args]), usage, help_cmd);
  }

  GlobalOptions global;
  if (result.count("storage-dir")) global.storage_dir = result["storage-dir"].as<std::string>();
  if (result.count("storage-url")) global.storage_url = result["storage-url"].as<std::string>();
  if (result.count("repo")) global.repo = result["repo"].as<std::string>();
  global.json = result.count("json") > 0;
  global.verbose = result.count("verbose") > 0;
  global.quiet = result.count("quiet") > 0;
  if (global.verbose && global.quiet) UsageExit("-v and -q exclude each other", usage, help_cmd);
  if (global.verbose)
    SetLogLevel(LogLevel::kDebug);
  else if (global.quiet)
    SetLogLevel(LogLevel::kError);

  Context ctx(std::move(global), result, std::move(positional));
  int code = kExitOk;
  try {
    code = command.run(ctx);
  } catch (const UsageError& e) {
    UsageExit(e.what(), usage, help_cmd);
  }
  // Output that never arrived (a full disk behind a redirection) is a failure.
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
    std::fprintf(stderr, "%s: writing the output failed: %s\n", kProgram, std::strerror(errno));
    return kExitError;
  }
  return code;
}

}  // namespace
}  // namespace prodigy::cli

int main(int argc, char** argv) {
  using namespace prodigy::cli;
  try {
    return Run(argc, argv);
  } catch (const prodigy::Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "prodigy-store: %s\n", e.what());
    return ExitCodeFor(e);
  } catch (const std::exception& e) {
    // Not the library's: a bug in the CLI or the system (out of memory).
    std::fflush(stdout);
    std::fprintf(stderr, "prodigy-store: internal error: %s\n", e.what());
    return kExitError;
  }
}
