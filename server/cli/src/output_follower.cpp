#include "uasyncd/cli/output_follower.hpp"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "uasyncd/cli/output.hpp"
#include "uasyncd/cli/task_format.hpp"

namespace uasyncd::cli {

FollowEnd follow_output(Connection& connection, const std::string& id,
                        const std::function<void(const OutputChunk&)>& on_output) {
  FollowEnd end;
  connection.stream(
      "/api/tasks/" + path_segment(id) + "/output?follow=1", [&](const SseEvent& event) {
        if (event.comment) return true;
        const nlohmann::json data = nlohmann::json::parse(event.data, nullptr, false);
        if (event.event == "output") {
          OutputChunk chunk;
          chunk.step = string_field(data, "step");
          chunk.is_stderr = string_field(data, "stream") == "stderr";
          chunk.data = string_field(data, "data");
          on_output(chunk);
        } else if (event.event == "lost") {
          if (data.is_object() && data.value("lost", nlohmann::json()).is_number_unsigned()) {
            end.lost += data["lost"].get<std::size_t>();
          }
        } else if (event.event == "end") {
          end.state = string_field(data, "state", "?");
          return false;
        }
        return true;
      });
  return end;
}

void write_chunk(const OutputChunk& chunk) {
  write_all(chunk.is_stderr ? STDERR_FILENO : STDOUT_FILENO, chunk.data);
}

}  // namespace uasyncd::cli
