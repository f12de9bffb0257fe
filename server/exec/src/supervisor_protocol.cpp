#include "uasyncd/exec/supervisor_protocol.hpp"

#include <cstring>
#include <limits>

namespace uasyncd::exec::protocol {
namespace {

class Writer {
 public:
  explicit Writer(Type type) {
    out_.resize(4);
    out_.push_back(static_cast<char>(type));
  }
  template <class T>
  void put(T v) {
    char bytes[sizeof v];
    std::memcpy(bytes, &v, sizeof v);
    out_.append(bytes, sizeof v);
  }
  void put_string(std::string_view s) {
    if (s.size() > kMaxFrame) throw ProtocolError("a string too long for one frame");
    put(static_cast<std::uint32_t>(s.size()));
    out_.append(s);
  }
  std::string finish() && {
    if (out_.size() - 4 > kMaxFrame) throw ProtocolError("message larger than a frame may be");
    const auto length = static_cast<std::uint32_t>(out_.size() - 4);
    std::memcpy(out_.data(), &length, sizeof length);
    return std::move(out_);
  }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view payload) : in_(payload) {}
  template <class T>
  T get() {
    if (in_.size() < sizeof(T)) throw ProtocolError("truncated message");
    T v;
    std::memcpy(&v, in_.data(), sizeof v);
    in_.remove_prefix(sizeof v);
    return v;
  }
  std::string get_string() {
    const auto n = get<std::uint32_t>();
    if (in_.size() < n) throw ProtocolError("truncated string");
    std::string s(in_.substr(0, n));
    in_.remove_prefix(n);
    return s;
  }
  // A count of items that each take at least `min_bytes`: bounded by what is left to read.
  std::uint32_t get_count(std::size_t min_bytes) {
    const auto n = get<std::uint32_t>();
    if (static_cast<std::size_t>(n) * min_bytes > in_.size()) throw ProtocolError("bad count");
    return n;
  }
  void done() const {
    if (!in_.empty()) throw ProtocolError("trailing bytes in a message");
  }

 private:
  std::string_view in_;
};

}  // namespace

std::string encode(const Hello& m) {
  Writer w(Type::hello);
  w.put(m.version);
  w.put(m.pid);
  return std::move(w).finish();
}

std::string encode(const SpawnRequest& m) {
  Writer w(Type::spawn);
  w.put(m.id);
  w.put(static_cast<std::uint32_t>(m.argv.size()));
  for (const std::string& a : m.argv)
    w.put_string(a);
  w.put_string(m.cwd);
  w.put(static_cast<std::uint32_t>(m.env.size()));
  for (const auto& [name, value] : m.env) {
    w.put_string(name);
    w.put_string(value);
  }
  return std::move(w).finish();
}

std::string encode(const SignalRequest& m) {
  Writer w(Type::signal);
  w.put(m.id);
  w.put(m.sig);
  return std::move(w).finish();
}

std::string encode_kill_all() {
  return Writer(Type::kill_all).finish();
}

std::string encode(const Started& m) {
  Writer w(Type::started);
  w.put(m.id);
  w.put(m.pid);
  return std::move(w).finish();
}

std::string encode(const SpawnFailed& m) {
  Writer w(Type::spawn_failed);
  w.put(m.id);
  w.put(m.error);
  return std::move(w).finish();
}

std::string encode(const Exited& m) {
  Writer w(Type::exited);
  w.put(m.id);
  w.put(m.wait_status);
  return std::move(w).finish();
}

Hello decode_hello(std::string_view payload) {
  Reader r(payload);
  Hello m;
  m.version = r.get<std::uint32_t>();
  m.pid = r.get<std::int32_t>();
  r.done();
  return m;
}

SpawnRequest decode_spawn(std::string_view payload) {
  Reader r(payload);
  SpawnRequest m;
  m.id = r.get<std::uint64_t>();
  const std::uint32_t argc = r.get_count(4);
  if (argc == 0) throw ProtocolError("spawn without a program");
  m.argv.reserve(argc);
  for (std::uint32_t i = 0; i < argc; ++i)
    m.argv.push_back(r.get_string());
  m.cwd = r.get_string();
  const std::uint32_t envc = r.get_count(8);
  for (std::uint32_t i = 0; i < envc; ++i) {
    std::string name = r.get_string();
    m.env[std::move(name)] = r.get_string();
  }
  r.done();
  return m;
}

SignalRequest decode_signal(std::string_view payload) {
  Reader r(payload);
  SignalRequest m;
  m.id = r.get<std::uint64_t>();
  m.sig = r.get<std::int32_t>();
  r.done();
  return m;
}

Started decode_started(std::string_view payload) {
  Reader r(payload);
  Started m;
  m.id = r.get<std::uint64_t>();
  m.pid = r.get<std::int32_t>();
  r.done();
  return m;
}

SpawnFailed decode_spawn_failed(std::string_view payload) {
  Reader r(payload);
  SpawnFailed m;
  m.id = r.get<std::uint64_t>();
  m.error = r.get<std::int32_t>();
  r.done();
  return m;
}

Exited decode_exited(std::string_view payload) {
  Reader r(payload);
  Exited m;
  m.id = r.get<std::uint64_t>();
  m.wait_status = r.get<std::int32_t>();
  r.done();
  return m;
}

void FrameReader::append(const char* data, std::size_t n) {
  // Drop consumed bytes once they are the larger part, so the buffer does not creep forward.
  if (head_ > 0 && head_ >= buf_.size() - head_) {
    buf_.erase(0, head_);
    head_ = 0;
  }
  buf_.append(data, n);
}

std::optional<Frame> FrameReader::next() {
  if (buffered() < 4) return std::nullopt;
  std::uint32_t length = 0;
  std::memcpy(&length, buf_.data() + head_, sizeof length);
  if (length == 0 || length > kMaxFrame) throw ProtocolError("bad frame length");
  if (buffered() - 4 < length) return std::nullopt;
  Frame f;
  f.type = static_cast<Type>(static_cast<std::uint8_t>(buf_[head_ + 4]));
  f.payload.assign(buf_, head_ + 5, length - 1);
  head_ += 4 + length;
  if (head_ == buf_.size()) {
    buf_.clear();
    head_ = 0;
  }
  return f;
}

}  // namespace uasyncd::exec::protocol
