// `uasyncd completion bash`: a bash completion script, made from the app's own commands and
// flags so it cannot drift from them. Task ids complete from `uasyncd ls -q`.
#include <set>
#include <sstream>

#include "uasyncd/cli/command.hpp"
#include "uasyncd/cli/exit_codes.hpp"

namespace uasyncd::cli {
namespace {

const std::set<std::string> kTakesIds = {"show", "wait", "cancel", "timeout", "logs", "rm"};

struct Words {
  std::string flags;        // every flag, as typed
  std::string value_flags;  // those that take a value (no completion after them but files)
};

// `only_client`: just the options every client command shares (the app's own are the daemon's).
Words words_of(const CLI::App& app, bool only_client = false) {
  Words w;
  for (const CLI::Option* opt : app.get_options()) {
    if (!opt->nonpositional()) continue;
    if (only_client && opt->get_group() != "Client options" && opt->get_name() != "--token") {
      continue;
    }
    for (const std::string& s : opt->get_snames()) {
      w.flags += " -" + s;
      if (opt->get_type_size_min() > 0) w.value_flags += "|-" + s;
    }
    for (const std::string& l : opt->get_lnames()) {
      w.flags += " --" + l;
      if (opt->get_type_size_min() > 0) w.value_flags += "|--" + l;
    }
  }
  return w;
}

// A group's (`schedule`, `queue`): its members' names, and all their flags, each once.
void add_group_members(const CLI::App& group, Words& w) {
  const auto add_word = [&w](const std::string& word) {
    if ((w.flags + " ").find(" " + word + " ") == std::string::npos) w.flags += " " + word;
  };
  for (const CLI::App* member : group.get_subcommands([](const CLI::App*) { return true; })) {
    add_word(member->get_name());
    const Words m = words_of(*member);
    std::istringstream flags(m.flags);
    for (std::string flag; flags >> flag;)
      add_word(flag);
    w.value_flags += m.value_flags;
  }
}

class CompletionCommand final : public Command {
 public:
  explicit CompletionCommand(CLI::App& app) : app_(app) {
    subcommand_ = add_client_subcommand(app, "completion",
                                        "print a shell completion script: "
                                        "source <(uasyncd completion bash)");
    subcommand_->add_option("shell", shell_, "the shell (bash)")
        ->required()
        ->check(CLI::IsMember({"bash"}));
  }

  int run(const Context& ctx) override {
    const Words all = words_of(app_);
    const Words global = words_of(app_, true);
    std::string commands;
    std::string cases;
    for (const CLI::App* sub : app_.get_subcommands([](const CLI::App*) { return true; })) {
      const std::string name = sub->get_name();
      commands += " " + name;
      Words w = words_of(*sub);
      add_group_members(*sub, w);
      std::string action = "      COMPREPLY=($(compgen -W \"" + w.flags + "$global\" -- \"$cur\"))";
      if (kTakesIds.count(name) > 0) {
        action +=
            "\n      [[ $cur == -* ]] || COMPREPLY+=($(compgen -W \"$(_uasyncd_ids)\" -- "
            "\"$cur\"))";
      } else if (name == "submit") {
        action += "\n      [[ $cur == -* ]] || COMPREPLY+=($(compgen -f -- \"$cur\"))";
      } else if (name == "completion") {
        action = "      COMPREPLY=($(compgen -W \"bash\" -- \"$cur\"))";
      }
      cases += "    " + name + ")\n" + action + "\n      ;;\n";
      if (!w.value_flags.empty()) value_flags_ += w.value_flags;
    }
    std::string script = R"(# bash completion for uasyncd: source <(uasyncd completion bash)
_uasyncd_ids() {
  local args=() i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case ${COMP_WORDS[i]} in
      --url|--token) args+=("${COMP_WORDS[i]}" "${COMP_WORDS[i + 1]}") ;;
    esac
  done
  "${COMP_WORDS[0]}" ls -q --limit 200 "${args[@]}" 2>/dev/null
}
_uasyncd() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
  local commands="@COMMANDS@"
  local global="@GLOBAL@"
  local everything="@ALL@"
  case $prev in
    -o|--output) COMPREPLY=($(compgen -W "table json jsonl" -- "$cur")); return ;;
    --state) COMPREPLY=($(compgen -W "scheduled pending running done failed cancelled timed_out interrupted" -- "$cur")); return ;;
    --overlap) COMPREPLY=($(compgen -W "skip allow queue" -- "$cur")); return ;;
    --catch-up) COMPREPLY=($(compgen -W "none one" -- "$cur")); return ;;
    --data-dir|--cwd) COMPREPLY=($(compgen -d -- "$cur")); return ;;
    @VALUE_FLAGS@) return ;;
  esac
  local cmd="" i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case " $commands " in *" ${COMP_WORDS[i]} "*) cmd=${COMP_WORDS[i]}; break ;; esac
  done
  case $cmd in
    "") COMPREPLY=($(compgen -W "$commands$everything" -- "$cur")) ;;
@CASES@  esac
}
complete -F _uasyncd uasyncd
)";
    const auto replace = [&](const std::string& key, const std::string& value) {
      script.replace(script.find(key), key.size(), value);
    };
    replace("@COMMANDS@", commands);
    replace("@GLOBAL@", global.flags);
    replace("@ALL@", all.flags);
    replace("@VALUE_FLAGS@", (all.value_flags + value_flags_).substr(1));
    replace("@CASES@", cases);
    ctx.out.out(script);
    return 0;
  }

 private:
  CLI::App& app_;
  std::string shell_;
  std::string value_flags_;
};

}  // namespace

std::unique_ptr<Command> add_completion_command(CLI::App& app) {
  return std::make_unique<CompletionCommand>(app);
}

}  // namespace uasyncd::cli
