// The open GET /api/events streams by their id (an unguessable one, told to the client in the
// stream's greeting), each with the output it follows (PUT /api/events/{stream}/follow).
//
// Threads: the registry (add, find, remove) from any thread; a stream's follow set on the loop
// thread only, which registers and unregisters its followers with the job service.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "uasyncd/bridge/sse_channel.hpp"

namespace uasyncd::server {

inline constexpr std::size_t kMaxFollowed = 64;  // ids one stream follows at once

class EventStreams {
 public:
  struct Followed {
    std::uint64_t job_id = 0;
    std::uint64_t key = 0;  // its follower in the job service; 0: none (the job was not live)
  };
  struct Stream {
    explicit Stream(std::shared_ptr<SseChannel> c) : channel(std::move(c)) {}
    const std::shared_ptr<SseChannel> channel;
    std::map<std::string, Followed> following;  // loop thread only; by the id as followed
  };

  // False when `id` is taken.
  bool add(const std::string& id, std::shared_ptr<SseChannel> channel);
  // Null when there is no open stream `id`.
  std::shared_ptr<Stream> find(const std::string& id) const;
  // The stream, forgotten (null if there was none).
  std::shared_ptr<Stream> remove(const std::string& id);
  std::size_t size() const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Stream>> streams_;
};

}  // namespace uasyncd::server
