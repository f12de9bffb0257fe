// The job service on a virtual clock over a recording backend (a real memory backend whose
// calls are recorded, and which can play a store that kept live jobs): the fixture of the
// service's tests.
#pragma once

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "forwarding_backend.hpp"
#include "loop_fixture.hpp"
#include "uasyncd/service/job_service.hpp"
#include "uasyncd/store/job_backend.hpp"

namespace srv = uasyncd::server;
namespace ua = uasyncio;

// A memory backend that records every write, and can play a store that kept live jobs.
class RecordingBackend final : public ForwardingBackend {
 public:
  struct Write {
    std::string op;  // insert, update, erase
    std::uint64_t id;
    srv::JobState was;
    srv::JobState now;
    int attempts;
  };

  explicit RecordingBackend(srv::BackendOptions options = {})
      : ForwardingBackend(srv::make_memory_backend(std::move(options))) {}

  srv::WriteTicket insert(const srv::Job& job) override {
    writes.push_back({"insert", job.id(), job.state(), job.state(), job.attempts()});
    return ForwardingBackend::insert(job);
  }
  srv::WriteTicket insert_all(std::span<const srv::Job* const> jobs) override {
    for (const srv::Job* job : jobs)
      writes.push_back({"insert", job->id(), job->state(), job->state(), job->attempts()});
    return ForwardingBackend::insert_all(jobs);
  }
  srv::WriteTicket insert_fired(const srv::Job& job, const srv::SettingRow& schedule) override {
    writes.push_back({"insert", job.id(), job.state(), job.state(), job.attempts()});
    return ForwardingBackend::insert_fired(job, schedule);
  }
  srv::WriteTicket update(srv::Job& job, srv::JobState was, bool with_output) override {
    writes.push_back({"update", job.id(), was, job.state(), job.attempts()});
    return ForwardingBackend::update(job, was, with_output);
  }
  srv::WriteTicket erase(std::uint64_t id, srv::JobState state) override {
    writes.push_back({"erase", id, state, state, 0});
    return ForwardingBackend::erase(id, state);
  }
  std::vector<srv::JobRow> load_live() override { return std::exchange(stored_live, {}); }
  void mark_alive() override { alive_marks.push_back(uasyncio::get_event_loop().time_ms()); }
  std::optional<std::int64_t> last_alive_ms() const override { return stored_alive_ms; }

  // The states job `id` was written in, in order.
  std::vector<srv::JobState> states_of(std::uint64_t id) const {
    std::vector<srv::JobState> out;
    for (const Write& w : writes) {
      if (w.id == id) out.push_back(w.now);
    }
    return out;
  }
  std::uint64_t count(srv::JobState s) const { return counts()[static_cast<std::size_t>(s)]; }

  std::vector<Write> writes;
  std::vector<srv::JobRow> stored_live;         // what load_live() returns, once
  std::vector<std::int64_t> alive_marks;        // loop times of mark_alive()
  std::optional<std::int64_t> stored_alive_ms;  // what last_alive_ms() returns
};

class Service : public LoopTest {
 protected:
  srv::JobService& start(srv::ServiceOptions options = {}) {
    service_ = std::make_unique<srv::JobService>(std::move(options), *backend_);
    return *service_;
  }
  void TearDown() override {
    service_.reset();
    LoopTest::TearDown();
  }
  std::uint64_t submit(const nlohmann::json& spec) {
    srv::ParsedSpec p = srv::parse_job_spec(spec);
    EXPECT_TRUE(p) << p.error.message;
    srv::Result<srv::Submitted> r = service_->submit(std::move(*p.spec), spec);
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    return r ? r->id : 0;
  }
  // Runs the loop for `ms` of virtual time.
  void run_for(std::int64_t ms) { ua::run(pause(ms)); }
  static ua::Coro<void> pause(std::int64_t ms) { co_await ua::sleep_ms(ms); }
  // The state of job `id`, live or stored.
  srv::JobState state_of(std::uint64_t id) {
    srv::Result<nlohmann::json> live = service_->get({id, std::nullopt});
    if (live) return *srv::parse_state(live->at("state").get<std::string>());
    std::optional<srv::JobRow> row = backend_->get(id);
    EXPECT_TRUE(row) << "t" << id << " is nowhere";
    return row ? row->state : srv::JobState::interrupted;
  }
  srv::JobRow stored(std::uint64_t id) {
    std::optional<srv::JobRow> row = backend_->get(id);
    EXPECT_TRUE(row);
    return row.value_or(srv::JobRow{});
  }

  std::unique_ptr<RecordingBackend> backend_ = std::make_unique<RecordingBackend>();
  std::unique_ptr<srv::JobService> service_;
};
