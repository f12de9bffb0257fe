// The real daemon on an ephemeral loopback port, and helpers to drive it over HTTP, including
// reading Server-Sent Events streams.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <signal.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "uasyncd/daemon/daemon.hpp"

// libcpp-httplib is a prebuilt, uninstrumented library: ThreadSanitizer does not see the
// synchronisation of its inlined atomics and reports races between two of its own worker
// threads on its own buffers. Only races inside that library are silenced.
extern "C" const char* __tsan_default_suppressions() {
  return "race:libcpp-httplib.so\n";
}

class DaemonTest : public ::testing::Test {
 protected:
  using json = nlohmann::json;

  void start(uasyncd::server::DaemonOptions options = {}) {
    options.port = 0;
    // The real binary is the exec supervisor, as it is for the daemon it is.
    if (options.exec_supervisor.empty()) options.exec_supervisor = UASYNCD_BIN;
    daemon_ = std::make_unique<uasyncd::server::Daemon>(options);
    daemon_->start();
    client_ = std::make_unique<httplib::Client>("127.0.0.1", daemon_->port());
    client_->set_read_timeout(10);
  }
  void TearDown() override {
    client_.reset();
    if (daemon_) daemon_->stop();
  }

  struct Result {
    int status = 0;
    json body;
  };
  static Result result(const httplib::Result& r) {
    EXPECT_TRUE(r) << "no HTTP response";
    if (!r) return {};
    const std::string type = r->get_header_value("Content-Type");
    return {r->status, type == "application/json" ? json::parse(r->body) : json(r->body)};
  }
  Result post(const std::string& path, const std::string& body,
              const char* type = "application/json") {
    return result(client_->Post(path.c_str(), body, type));
  }
  Result get(const std::string& path) { return result(client_->Get(path.c_str())); }
  Result del(const std::string& path) { return result(client_->Delete(path.c_str())); }
  std::string submit(const std::string& spec) {
    Result r = post("/api/tasks", spec);
    EXPECT_EQ(r.status, 201) << r.body.dump();
    return r.body.value("id", "");
  }
  Result wait(const std::string& id, double timeout = 10) {
    return get("/api/tasks/" + id + "/wait?timeout=" + std::to_string(timeout));
  }
  // Polls `path` until `ready` accepts the body (or ~5 s pass).
  Result poll(const std::string& path, const std::function<bool(const json&)>& ready) {
    Result r;
    for (int i = 0; i < 500; ++i) {
      r = get(path);
      if (r.status == 200 && ready(r.body)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return r;
  }

  std::unique_ptr<uasyncd::server::Daemon> daemon_;
  std::unique_ptr<httplib::Client> client_;
};

// Reads an SSE response on its own thread until `done` says so (called with all text so far
// after every chunk) or the stream ends.
class SseReader {
 public:
  struct Chunk {
    std::chrono::steady_clock::time_point at;
    std::string text;
  };

  SseReader(int port, std::string path, std::function<bool(const std::string&)> done)
      : client_("127.0.0.1", port) {
    client_.set_read_timeout(10);
    thread_ = std::thread([this, path = std::move(path), done = std::move(done)] {
      auto r = client_.Get(
          path.c_str(),
          [this](const httplib::Response& res) {
            status_ = res.status;
            type_ = res.get_header_value("Content-Type");
            return true;
          },
          [this, &done](const char* data, std::size_t n) {
            std::lock_guard lock(mu_);
            text_.append(data, n);
            chunks_.push_back({std::chrono::steady_clock::now(), std::string(data, n)});
            return !done(text_);
          });
      if (r && status_ == 0) status_ = r->status;
      if (r && r->status != 200) body_ = r->body;
    });
  }
  ~SseReader() { join(); }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  // Waits (up to ~5 s) until the text so far contains `needle`.
  bool wait_for_text(const std::string& needle) {
    for (int i = 0; i < 500; ++i) {
      {
        std::lock_guard lock(mu_);
        if (text_.find(needle) != std::string::npos) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  std::string text() {
    std::lock_guard lock(mu_);
    return text_;
  }
  std::vector<Chunk> chunks() {
    std::lock_guard lock(mu_);
    return chunks_;
  }
  // After join(): the response status and content type.
  int status() const { return status_; }
  const std::string& content_type() const { return type_; }
  const std::string& body() const { return body_; }

 private:
  httplib::Client client_;
  std::mutex mu_;
  std::string text_;
  std::vector<Chunk> chunks_;
  int status_ = 0;
  std::string type_;
  std::string body_;
  std::thread thread_;
};

// Every "data: " line of an SSE text, parsed as JSON, with the event name it came with.
struct SseEvent {
  std::string event = "message";
  nlohmann::json data;
};
inline std::vector<SseEvent> parse_sse(const std::string& text) {
  std::vector<SseEvent> out;
  SseEvent current;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) break;  // an incomplete line
    const std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.rfind("event: ", 0) == 0) {
      current.event = line.substr(7);
    } else if (line.rfind("data: ", 0) == 0) {
      current.data = nlohmann::json::parse(line.substr(6));
    } else if (line.empty() && !current.data.is_null()) {
      out.push_back(current);
      current = SseEvent{};
    }
  }
  return out;
}

// True once `pid` is gone or a zombie (PID 1 here may not reap orphans), polling up to ~2 s.
inline bool process_gone(int pid) {
  for (int i = 0; i < 200; ++i) {
    if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
    std::string all;
    try {  // reading the file of a process that exits meanwhile throws (ESRCH)
      std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
      all.assign(std::istreambuf_iterator<char>(stat), std::istreambuf_iterator<char>());
    } catch (const std::exception&) {
    }
    const std::size_t paren = all.rfind(')');
    if (all.empty() || (paren != std::string::npos && paren + 2 < all.size() &&
                        (all[paren + 2] == 'Z' || all[paren + 2] == 'X'))) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}
