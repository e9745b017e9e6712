// `completion bash|zsh|fish` and `man`: shell completions and the man page
// prodigy-store(1), generated from the command table (AllCommands) and each
// command's own cxxopts options, so they cannot drift from the CLI.
#include <algorithm>
#include <map>
#include <set>

#include "cli.h"
#include "prodigy/c_api.h"

namespace prodigy::cli {
namespace {

struct OptionDoc {
  std::string short_name;  // "q" or ""
  std::string long_name;   // "quiet"
  std::string arg;         // "DIR"; empty for a flag
  std::string help;
};

std::vector<OptionDoc> OptionsOf(const cxxopts::Options& options, const std::string& group) {
  std::vector<OptionDoc> out;
  for (const cxxopts::HelpOptionDetails& o : options.group_help(group).options) {
    if (o.l.empty()) continue;
    OptionDoc doc{o.s, o.l.front(), o.is_boolean ? "" : (o.arg_help.empty() ? "VALUE" : o.arg_help), o.desc};
    out.push_back(std::move(doc));
  }
  return out;
}

std::vector<OptionDoc> CommandOptions(const Command& c) {
  cxxopts::Options options("prodigy-store", "");
  if (c.options) c.options(options);
  const auto& groups = options.groups();
  if (std::find(groups.begin(), groups.end(), "") == groups.end()) return {};
  return OptionsOf(options, "");
}

std::vector<OptionDoc> GlobalOptions() {
  cxxopts::Options options("prodigy-store", "");
  AddGlobalOptions(options);
  std::vector<OptionDoc> out = OptionsOf(options, "Global");
  out.push_back({"", "version", "", "print the version and exit"});
  return out;
}

std::string FirstWord(const std::string& name) { return name.substr(0, name.find(' ')); }
std::string SecondWord(const std::string& name) {
  const size_t space = name.find(' ');
  return space == std::string::npos ? "" : name.substr(space + 1);
}

// Value names that are paths get file or folder completion.
bool IsDirArg(const std::string& arg) { return arg.starts_with("DIR"); }
bool IsPathArg(const std::string& arg) { return arg == "PATH" || arg == "FILE"; }

// The top-level words in table order: single commands and group names.
std::vector<std::string> TopWords(const std::vector<Command>& commands) {
  std::vector<std::string> words;
  for (const Command& c : commands) {
    const std::string w = FirstWord(c.name);
    if (std::find(words.begin(), words.end(), w) == words.end()) words.push_back(w);
  }
  return words;
}

std::string TopSummary(const std::vector<Command>& commands, const std::string& word) {
  for (const Command& c : commands) {
    if (c.name == word) return c.summary;
  }
  std::string subs;
  for (const Command& c : commands) {
    if (FirstWord(c.name) == word) subs += (subs.empty() ? "" : ", ") + SecondWord(c.name);
  }
  return word + " commands: " + subs;
}

// Single-quoted for sh/zsh/fish: ' becomes '\''.
std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char ch : s) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return out + "'";
}

std::string Join(const std::vector<std::string>& words, const std::string& sep = " ") {
  std::string out;
  for (const std::string& w : words) out += (out.empty() ? "" : sep) + w;
  return out;
}

std::vector<std::string> OptionWords(const std::vector<OptionDoc>& options) {
  std::vector<std::string> words;
  for (const OptionDoc& o : options) {
    words.push_back("--" + o.long_name);
    if (!o.short_name.empty()) words.push_back("-" + o.short_name);
  }
  return words;
}

// Options of every command that take a value, by the completion the value
// gets, each as "--a|--b" for a shell case pattern.
struct ValueOptionNames {
  std::string dirs;    // a folder
  std::string paths;   // a file or folder
  std::string others;  // anything else: nothing to complete
  std::string all() const { return dirs + "|" + paths + "|" + others; }
};

ValueOptionNames ValueOptions(const std::vector<Command>& commands) {
  std::vector<OptionDoc> all = GlobalOptions();
  for (const Command& c : commands) {
    for (OptionDoc& o : CommandOptions(c)) all.push_back(std::move(o));
  }
  std::set<std::string> dirs, paths, others;
  for (const OptionDoc& o : all) {
    if (o.arg.empty()) continue;
    (IsDirArg(o.arg) ? dirs : IsPathArg(o.arg) ? paths : others).insert("--" + o.long_name);
  }
  // An option name used with several kinds of value gets the widest completion.
  for (const std::string& d : dirs) paths.erase(d), others.erase(d);
  for (const std::string& p : paths) others.erase(p);
  auto join = [](const std::set<std::string>& names) {
    return Join(std::vector<std::string>(names.begin(), names.end()), "|");
  };
  return {join(dirs), join(paths), join(others)};
}

// bash and zsh code that finds the command and subcommand among the words
// before the cursor, skipping options and the values of those that take one.
std::string FindCommandWords(const std::string& loop, const std::string& word,
                             const ValueOptionNames& values) {
  return "  for ((" + loop +
         ")); do\n"
         "    w=" +
         word +
         "\n"
         "    case $w in\n"
         "      " +
         values.all() +
         ") ((i++)) ;;\n"
         "      -*) ;;\n"
         "      *) if [[ -z $cmd ]]; then cmd=$w; elif [[ -z $sub ]]; then sub=$w; fi ;;\n"
         "    esac\n"
         "  done\n";
}

std::string Bash(const std::vector<Command>& commands) {
  const ValueOptionNames values = ValueOptions(commands);
  const std::string globals = Join(OptionWords(GlobalOptions()));
  std::string out =
      "# bash completion for prodigy-store (generated by `prodigy-store completion bash`)\n"
      "_prodigy_store() {\n"
      "  local cur=\"${COMP_WORDS[COMP_CWORD]}\" prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n"
      "  local i w cmd=\"\" sub=\"\"\n" +
      FindCommandWords("i = 1; i < COMP_CWORD; i++", "\"${COMP_WORDS[i]}\"", values) +
      "  case \"$prev\" in\n"
      "    " +
      values.dirs +
      ") COMPREPLY=($(compgen -d -- \"$cur\")); return ;;\n"
      "    " +
      values.paths +
      ") COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n"
      "    " +
      values.others +
      ") return ;;\n"
      "  esac\n"
      "  local globals=" +
      Quote(globals) +
      "\n"
      "  if [[ -z $cmd ]]; then\n"
      "    COMPREPLY=($(compgen -W \"" +
      Join(TopWords(commands)) +
      " $globals\" -- \"$cur\"))\n"
      "    return\n"
      "  fi\n"
      "  case \"$cmd\" in\n";
  std::map<std::string, std::vector<std::string>> groups;
  for (const Command& c : commands) {
    if (!SecondWord(c.name).empty()) groups[FirstWord(c.name)].push_back(SecondWord(c.name));
  }
  for (const auto& [group, subs] : groups) {
    out += "    " + group + ")\n      if [[ -z $sub ]]; then COMPREPLY=($(compgen -W " + Quote(Join(subs)) +
           " -- \"$cur\")); return; fi\n      cmd=\"$cmd $sub\" ;;\n";
  }
  out += "  esac\n  local opts=\"\" files=\"\"\n  case \"$cmd\" in\n";
  for (const Command& c : commands) {
    out += "    " + Quote(c.name) + ") opts=" + Quote(Join(OptionWords(CommandOptions(c))));
    if (c.args.find("PATH") != std::string::npos) out += "; files=1";
    out += " ;;\n";
  }
  out +=
      "  esac\n"
      "  if [[ $cur == -* || -z $files ]]; then\n"
      "    COMPREPLY=($(compgen -W \"$opts $globals\" -- \"$cur\"))\n"
      "  else\n"
      "    COMPREPLY=($(compgen -f -- \"$cur\"))\n"
      "  fi\n"
      "}\n"
      "complete -F _prodigy_store prodigy-store\n";
  return out;
}

// zsh _describe entries: "name:description" with ':' in the name escaped.
std::string Describe(const std::string& name, const std::string& help) {
  std::string escaped;
  for (char ch : name) escaped += ch == ':' ? std::string("\\:") : std::string(1, ch);
  return Quote(escaped + ":" + help);
}

std::string ZshOptions(const std::vector<OptionDoc>& options) {
  std::string out;
  for (const OptionDoc& o : options) out += " " + Describe("--" + o.long_name, o.help);
  return out;
}

std::string Zsh(const std::vector<Command>& commands) {
  const ValueOptionNames values = ValueOptions(commands);
  std::string out =
      "#compdef prodigy-store\n"
      "# zsh completion for prodigy-store (generated by `prodigy-store completion zsh`)\n"
      "_prodigy_store() {\n"
      "  local i w cmd=\"\" sub=\"\" files=\"\"\n"
      "  local -a items opts\n" +
      FindCommandWords("i = 2; i < CURRENT; i++", "${words[i]}", values) +
      "  case ${words[CURRENT-1]} in\n"
      "    " +
      values.dirs +
      ") _files -/; return ;;\n"
      "    " +
      values.paths +
      ") _files; return ;;\n"
      "    " +
      values.others +
      ") return ;;\n"
      "  esac\n"
      "  opts=(" +
      ZshOptions(GlobalOptions()) +
      ")\n"
      "  if [[ -z $cmd ]]; then\n"
      "    items=(";
  for (const std::string& w : TopWords(commands)) out += " " + Describe(w, TopSummary(commands, w));
  out += ")\n    _describe command items -- opts\n    return\n  fi\n  case $cmd in\n";
  std::map<std::string, std::vector<const Command*>> groups;
  for (const Command& c : commands) {
    if (!SecondWord(c.name).empty()) groups[FirstWord(c.name)].push_back(&c);
  }
  for (const auto& [group, subs] : groups) {
    out += "    " + group + ")\n      if [[ -z $sub ]]; then\n        items=(";
    for (const Command* c : subs) out += " " + Describe(SecondWord(c->name), c->summary);
    out += ")\n        _describe subcommand items\n        return\n      fi\n      cmd=\"$cmd $sub\" ;;\n";
  }
  out += "  esac\n  case $cmd in\n";
  for (const Command& c : commands) {
    out += "    " + Quote(c.name) + ") opts+=(" + ZshOptions(CommandOptions(c)) + ")";
    if (c.args.find("PATH") != std::string::npos) out += "; files=1";
    out += " ;;\n";
  }
  out +=
      "  esac\n"
      "  if [[ ${words[CURRENT]} == -* || -z $files ]]; then\n"
      "    _describe option opts\n"
      "  else\n"
      "    _files\n"
      "  fi\n"
      "}\n"
      "if [[ ${funcstack[1]} == _prodigy_store ]]; then\n"
      "  _prodigy_store \"$@\"\n"
      "else\n"
      "  compdef _prodigy_store prodigy-store\n"
      "fi\n";
  return out;
}

std::string FishOption(const std::string& condition, const OptionDoc& o) {
  std::string line = "complete -c prodigy-store";
  if (!condition.empty()) line += " -n " + Quote(condition);
  line += " -l " + o.long_name;
  if (!o.short_name.empty()) line += " -s " + o.short_name;
  if (!o.arg.empty())
    line += IsDirArg(o.arg) ? " -r -a '(__fish_complete_directories)'" : IsPathArg(o.arg) ? " -r -F" : " -r";
  return line + " -d " + Quote(o.help) + "\n";
}

std::string Fish(const std::vector<Command>& commands) {
  std::string out =
      "# fish completion for prodigy-store (generated by `prodigy-store completion fish`)\n"
      "complete -c prodigy-store -f\n";
  for (const OptionDoc& o : GlobalOptions()) out += FishOption("", o);
  const std::vector<std::string> top = TopWords(commands);
  for (const std::string& w : top) {
    out += "complete -c prodigy-store -n '__fish_use_subcommand' -a " + w + " -d " +
           Quote(TopSummary(commands, w)) + "\n";
  }
  std::map<std::string, std::vector<std::string>> groups;
  for (const Command& c : commands) {
    if (!SecondWord(c.name).empty()) groups[FirstWord(c.name)].push_back(SecondWord(c.name));
  }
  for (const Command& c : commands) {
    const std::string group = FirstWord(c.name);
    const std::string sub = SecondWord(c.name);
    std::string condition = "__fish_seen_subcommand_from " + group;
    if (!sub.empty()) {
      out += "complete -c prodigy-store -n " +
             Quote(condition + "; and not __fish_seen_subcommand_from " + Join(groups[group])) + " -a " +
             sub + " -d " + Quote(c.summary) + "\n";
      condition += "; and __fish_seen_subcommand_from " + sub;
    }
    if (c.args.find("PATH") != std::string::npos)
      out += "complete -c prodigy-store -n " + Quote(condition) + " -F\n";
    for (const OptionDoc& o : CommandOptions(c)) out += FishOption(condition, o);
  }
  return out;
}

// roff text: backslashes escaped, '-' as \- (so man renders real hyphens that
// can be searched and copied), and no line starting with a control character.
std::string Roff(const std::string& text) {
  std::string out;
  bool line_start = true;
  for (char ch : text) {
    if (line_start && (ch == '.' || ch == '\'')) out += "\\&";
    if (ch == '\\')
      out += "\\e";
    else if (ch == '-')
      out += "\\-";
    else
      out += ch;
    line_start = ch == '\n';
  }
  return out;
}

std::string ManOptions(const std::vector<OptionDoc>& options) {
  std::string out;
  for (const OptionDoc& o : options) {
    out += ".TP\n";
    std::string head = o.short_name.empty() ? "" : "\\fB\\-" + Roff(o.short_name) + "\\fR, ";
    head += "\\fB\\-\\-" + Roff(o.long_name) + "\\fR";
    if (!o.arg.empty()) head += " \\fI" + Roff(o.arg) + "\\fR";
    out += head + "\n" + Roff(o.help) + "\n";
  }
  return out;
}

std::string Man(const std::vector<Command>& commands) {
  std::string out = fmt::format(
      ".TH PRODIGY\\-STORE 1 \"\" \"prodigy\\-store {}\" \"User Commands\"\n"
      ".SH NAME\n"
      "prodigy\\-store \\- the global store of Prodigy's runtime data\n"
      ".SH SYNOPSIS\n"
      ".B prodigy\\-store\n"
      "[\\fIglobal options\\fR] \\fICOMMAND\\fR [\\fIoptions\\fR] [\\fIARGS\\fR]\n"
      ".SH DESCRIPTION\n"
      "prodigy\\-store keeps the runtime data of Prodigy (event logs, dead\\-letter queues, job state,\n"
      "sessions, workflow checkpoints) in one SQLite database per repository plus JSON mirror files,\n"
      "imports every legacy Prodigy layout with byte\\-exact verification, and queries and exports it.\n"
      "Run \\fBprodigy\\-store\\fR \\fICOMMAND\\fR \\fB\\-\\-help\\fR for a command's options.\n"
      ".SH GLOBAL OPTIONS\n",
      Roff(prodigy_version()));
  out += ManOptions(GlobalOptions());
  out += ".SH COMMANDS\n";
  for (const Command& c : commands) {
    out += ".SS \"" + Roff(c.args.empty() ? c.name : c.name + " " + c.args) + "\"\n";
    out += Roff(c.summary) + "\n";
    if (!c.details.empty()) out += ".PP\n" + Roff(c.details) + "\n";
    out += ManOptions(CommandOptions(c));
    if (!c.examples.empty()) {
      out += ".PP\n" + std::string(c.examples.size() == 1 ? "Example:" : "Examples:") + "\n.PP\n.RS\n.nf\n";
      for (const std::string& e : c.examples) out += Roff(e) + "\n";
      out += ".fi\n.RE\n";
    }
  }
  out +=
      ".SH ENVIRONMENT\n"
      ".TP\n.B PRODIGY_STORAGE_DIR\n"
      "The storage root, unless \\fB\\-\\-storage\\-dir\\fR is given (relative: to the current directory).\n"
      ".TP\n.B PRODIGY_LOG\n"
      "\\fBdebug\\fR logs storage operations on stderr (as \\fB\\-v\\fR does).\n"
      ".TP\n.B HOME\n"
      "The default root is \\fI$HOME/.prodigy\\fR.\n"
      ".SH FILES\n"
      ".TP\n.I ~/.prodigy/config.toml\n"
      "Configuration; a relative \\fBstorage_dir\\fR in it is relative to the file's folder.\n"
      ".TP\n.I <root>/<repo>/prodigy.db\n"
      "The repository's database (SQLite, WAL), the source of truth.\n"
      ".SH EXIT STATUS\n"
      "0 ok, 1 error, 2 usage error, 3 verification failed.\n"
      ".SH SEE ALSO\n"
      ".BR sqlite3 (1)\n";
  return out;
}

int RunCompletion(Context& ctx) {
  const std::string shell = ctx.positional()[0];
  const std::vector<Command> commands = AllCommands();
  std::string text;
  if (shell == "bash")
    text = Bash(commands);
  else if (shell == "zsh")
    text = Zsh(commands);
  else if (shell == "fish")
    text = Fish(commands);
  else
    throw UsageError(fmt::format("unknown shell '{}' (known: bash, zsh, fish)", shell));
  std::fputs(text.c_str(), stdout);
  return kExitOk;
}

int RunMan(Context&) {
  std::fputs(Man(AllCommands()).c_str(), stdout);
  return kExitOk;
}

}  // namespace

std::vector<Command> DocCommands() {
  return {
      Command{
          .name = "completion",
          .args = "SHELL",
          .summary = "print the shell completion script for bash, zsh or fish",
          .details = "Installed by `meson install` (bash-completion, zsh site-functions, fish\n"
                     "vendor_completions.d); for a shell of your own, load it as in the examples.",
          .examples = {"source <(prodigy-store completion bash)",
                       "prodigy-store completion zsh > ~/.zfunc/_prodigy-store",
                       "prodigy-store completion fish > ~/.config/fish/completions/prodigy-store.fish"},
          .min_args = 1,
          .max_args = 1,
          .run = RunCompletion,
      },
      Command{
          .name = "man",
          .summary = "print the manual page prodigy-store(1) in roff",
          .examples = {"prodigy-store man | man -l -"},
          .run = RunMan,
      },
  };
}

}  // namespace prodigy::cli
