// `uasyncd queue ls|set`: named queues, each with its own limit of running tasks and its own
// pause (/api/queues). A spec's root "queue" (submit --queue) puts its task in one.
#include "uasyncd/cli/command_group.hpp"
#include "uasyncd/cli/queue_commands.hpp"

namespace uasyncd::cli {

std::unique_ptr<Command> add_queue_command(CLI::App& app) {
  return make_command_group(app, "queue",
                            "named queues: each has its own limit of running tasks and can be "
                            "paused",
                            {add_queue_ls_command, add_queue_set_command});
}

}  // namespace uasyncd::cli
