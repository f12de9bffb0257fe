// A JobBackend that passes every call to a real backend it owns: the base of the tests' backends
// that watch or break some calls (override those) and leave the rest to the real one. Same thread
// rules as the backend it wraps; lives as long as the test that made it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "uasyncd/store/job_backend.hpp"

class ForwardingBackend : public uasyncd::server::JobBackend {
 public:
  using Job = uasyncd::server::Job;
  using JobRow = uasyncd::server::JobRow;
  using JobState = uasyncd::server::JobState;
  using WriteTicket = uasyncd::server::WriteTicket;

  explicit ForwardingBackend(std::unique_ptr<uasyncd::server::JobBackend> inner)
      : inner_(std::move(inner)) {}

  std::uint64_t next_id() override { return inner_->next_id(); }
  WriteTicket insert(const Job& job) override { return inner_->insert(job); }
  WriteTicket insert_all(std::span<const Job* const> jobs) override {
    return inner_->insert_all(jobs);
  }
  WriteTicket update(Job& job, JobState was, bool with_output) override {
    return inner_->update(job, was, with_output);
  }
  WriteTicket erase(std::uint64_t id, JobState state) override { return inner_->erase(id, state); }
  WriteTicket put_setting(const uasyncd::server::SettingRow& row) override {
    return inner_->put_setting(row);
  }
  WriteTicket insert_fired(const Job& job, const uasyncd::server::SettingRow& schedule) override {
    return inner_->insert_fired(job, schedule);
  }
  std::vector<uasyncd::server::SettingRow> load_settings(
      uasyncd::server::SettingKind kind) override {
    return inner_->load_settings(kind);
  }
  void mark_alive() override { inner_->mark_alive(); }
  std::optional<std::int64_t> last_alive_ms() const override { return inner_->last_alive_ms(); }
  bool committed(WriteTicket t) const override { return inner_->committed(t); }
  bool wait_committed(WriteTicket t, std::chrono::milliseconds d) override {
    return inner_->wait_committed(t, d);
  }
  std::optional<JobRow> get(std::uint64_t id) override { return inner_->get(id); }
  uasyncd::server::ListPage list(const uasyncd::server::ListQuery& q) override {
    return inner_->list(q);
  }
  std::optional<std::uint64_t> find_by_key(const std::string& key) override {
    return inner_->find_by_key(key);
  }
  uasyncd::server::StateCounts counts() const override { return inner_->counts(); }
  std::vector<JobRow> load_live() override { return inner_->load_live(); }
  uasyncd::server::BackendStats stats() const override { return inner_->stats(); }
  void close() override { inner_->close(); }

 private:
  std::unique_ptr<uasyncd::server::JobBackend> inner_;
};
