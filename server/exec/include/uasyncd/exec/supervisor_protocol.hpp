// The wire format between the daemon and its exec supervisor: length-prefixed frames over one
// AF_UNIX SOCK_STREAM socketpair (a stream, because a spawn request carries argv and env of up to
// a request body's size, more than one SOCK_SEQPACKET message may hold).
//
//   frame   = u32 length (of type + payload) | u8 type | payload
//   daemon -> supervisor: spawn (two fds attached with SCM_RIGHTS to the frame's first bytes:
//                         the write ends of the step's stdout and stderr pipes), signal, kill_all
//   supervisor -> daemon: hello (first frame), started, spawn_failed, exited
//
// Integers are in host byte order: both ends are the same binary (the supervisor is the daemon's
// own executable re-run), and hello carries the protocol version anyway.
//
// Thread rules: plain values and functions; a FrameReader belongs to one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace uasyncd::exec::protocol {

inline constexpr std::uint32_t kVersion = 1;
// A spawn request holds at most a request body's worth of argv and env (1 MiB) plus framing.
inline constexpr std::size_t kMaxFrame = 8u << 20;

enum class Type : std::uint8_t {
  hello = 1,
  spawn = 2,
  signal = 3,
  kill_all = 4,
  started = 5,
  spawn_failed = 6,
  exited = 7,
};

// A frame the peer should never have sent: the channel is broken beyond repair.
class ProtocolError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Hello {
  std::uint32_t version = kVersion;
  std::int32_t pid = 0;
};

// Starts argv[0] (looked up in the child's PATH) in `cwd` (empty: the supervisor's) with exactly
// the supervisor's allow-listed environment plus `env` (see exec_environment.hpp).
struct SpawnRequest {
  std::uint64_t id = 0;
  std::vector<std::string> argv;
  std::string cwd;
  std::map<std::string, std::string> env;
};

// Sends `sig` to the process group of request `id` while its leader has not been reaped.
struct SignalRequest {
  std::uint64_t id = 0;
  std::int32_t sig = 0;
};

struct Started {
  std::uint64_t id = 0;
  std::int32_t pid = 0;  // the command's pid, also its process group and session id
};

struct SpawnFailed {
  std::uint64_t id = 0;
  std::int32_t error = 0;  // positive errno of fork, chdir or execve
};

// The command exited and everything it left behind has been killed and reaped.
struct Exited {
  std::uint64_t id = 0;
  std::int32_t wait_status = 0;  // as waitpid(2) gives it
};

struct Frame {
  Type type{};
  std::string payload;
};

std::string encode(const Hello& m);
std::string encode(const SpawnRequest& m);
std::string encode(const SignalRequest& m);
std::string encode_kill_all();
std::string encode(const Started& m);
std::string encode(const SpawnFailed& m);
std::string encode(const Exited& m);

// Each throws ProtocolError when the payload does not hold exactly one such message.
Hello decode_hello(std::string_view payload);
SpawnRequest decode_spawn(std::string_view payload);
SignalRequest decode_signal(std::string_view payload);
Started decode_started(std::string_view payload);
SpawnFailed decode_spawn_failed(std::string_view payload);
Exited decode_exited(std::string_view payload);

// Cuts a byte stream into frames. Memory is bounded by kMaxFrame plus one read.
class FrameReader {
 public:
  void append(const char* data, std::size_t n);
  // The next complete frame; ProtocolError on a length past kMaxFrame or zero.
  std::optional<Frame> next();
  std::size_t buffered() const noexcept { return buf_.size() - head_; }

 private:
  std::string buf_;
  std::size_t head_ = 0;
};

}  // namespace uasyncd::exec::protocol
