// A daemon for the client's tests: the real uasyncd binary on an ephemeral loopback port, with
// its tasks in memory (--ephemeral) or in a database in a temporary directory (durable).
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>
#include <stdlib.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "../daemon/daemon_process.hpp"

enum class Storage { ephemeral, durable };

inline std::string storage_name(Storage s) {
  return s == Storage::ephemeral ? "ephemeral" : "durable";
}
// Names the instances of a test parametrized by Storage.
inline std::string storage_label(const ::testing::TestParamInfo<Storage>& info) {
  return storage_name(info.param);
}

class TestDaemon {
 public:
  TestDaemon(Storage storage, std::vector<std::string> flags) {
    char dir[] = "/tmp/uasyncd-cli-test-XXXXXX";
    if (mkdtemp(dir) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = dir;
    flags.insert(flags.end(), {"--listen", "127.0.0.1:0", "--log-level", "warn"});
    if (storage == Storage::ephemeral) {
      flags.push_back("--ephemeral");
    } else {
      flags.insert(flags.end(), {"--data-dir", dir_ + "/data", "--sync", "normal"});
    }
    process_ = std::make_unique<DaemonProcess>(flags, dir_ + "/daemon.log");
    const std::optional<int> port = process_->await_port();
    if (!port) throw std::runtime_error("the daemon did not start: " + process_->output());
    port_ = *port;
    http_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
    http_->set_read_timeout(10);
  }
  ~TestDaemon() {
    http_.reset();
    process_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  const std::string& dir() const { return dir_; }
  DaemonProcess& process() { return *process_; }

  // What the API itself says, to compare the client's output with.
  nlohmann::json get(const std::string& path, const httplib::Headers& headers = {}) {
    const httplib::Result r = http_->Get(path.c_str(), headers);
    if (!r) throw std::runtime_error("GET " + path + ": no answer");
    return nlohmann::json::parse(r->body);
  }
  nlohmann::json post(const std::string& path, const std::string& body,
                      const httplib::Headers& headers = {}) {
    const httplib::Result r = http_->Post(path.c_str(), headers, body, "application/json");
    if (!r) throw std::runtime_error("POST " + path + ": no answer");
    return nlohmann::json::parse(r->body);
  }

 private:
  std::string dir_;
  std::unique_ptr<DaemonProcess> process_;
  int port_ = 0;
  std::unique_ptr<httplib::Client> http_;
};

// One daemon of each storage kind for a whole suite, started when a test first asks for it
// (tests name their own tasks, so they share it). release() from TearDownTestSuite.
class SharedDaemons {
 public:
  explicit SharedDaemons(std::vector<std::string> flags) : flags_(std::move(flags)) {}
  TestDaemon& get(Storage storage) {
    std::unique_ptr<TestDaemon>& d = daemons_[storage];
    if (!d) d = std::make_unique<TestDaemon>(storage, flags_);
    return *d;
  }
  void release() { daemons_.clear(); }

 private:
  std::vector<std::string> flags_;
  std::map<Storage, std::unique_ptr<TestDaemon>> daemons_;
};
