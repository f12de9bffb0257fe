// Priorities ("priority" 0 to 9 at a spec's root): under --max-running, pending tasks start
// highest priority first and first in, first out within one; queue positions say so; a retry
// goes to the back of its priority; a restart queues restored tasks by priority again.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <vector>

#include "job_factory.hpp"
#include "service_fixture.hpp"
#include "uasyncd/service/pending_queue.hpp"
#include "uasyncd/store/job_row.hpp"

using nlohmann::json;
using srv::JobState;

namespace {

class Priority : public Service {
 protected:
  void start_one_at_a_time() {
    srv::ServiceOptions o;
    o.max_running = 1;
    start(o);
  }
  json queue_position(std::uint64_t id) {
    srv::Result<json> got = service_->get({id, std::nullopt});
    EXPECT_TRUE(got);
    return got ? got->value("queue_position", json()) : json();
  }
  // The ids in the order they started (state running written), among `ids`.
  std::vector<std::uint64_t> start_order(const std::vector<std::uint64_t>& ids) {
    std::vector<std::uint64_t> out;
    for (const auto& w : backend_->writes) {
      if (w.now == JobState::running && w.was != JobState::running &&
          std::find(ids.begin(), ids.end(), w.id) != ids.end())
        out.push_back(w.id);
    }
    return out;
  }
};

}  // namespace

TEST_F(Priority, HigherStartsFirstAndEqualOnesInTheOrderTheyCame) {
  start_one_at_a_time();
  const std::uint64_t busy = submit({{"sleep", 1}});
  const std::uint64_t a = submit({{"sleep", 1}});
  const std::uint64_t b = submit({{"sleep", 1}, {"priority", 5}});
  const std::uint64_t c = submit({{"sleep", 1}, {"priority", 0}});
  const std::uint64_t d = submit({{"sleep", 1}, {"priority", 9}});
  const std::uint64_t e = submit({{"sleep", 1}, {"priority", 5}});
  run_for(1);
  EXPECT_EQ(state_of(busy), JobState::running);  // no preemption: a running task keeps its slot
  EXPECT_EQ(queue_position(d), 1);
  EXPECT_EQ(queue_position(b), 2);
  EXPECT_EQ(queue_position(e), 3);
  EXPECT_EQ(queue_position(a), 4);
  EXPECT_EQ(queue_position(c), 5);
  run_for(6000);
  EXPECT_EQ(start_order({busy, a, b, c, d, e}), (std::vector<std::uint64_t>{busy, d, b, e, a, c}));
  for (std::uint64_t id : {busy, a, b, c, d, e})
    EXPECT_EQ(state_of(id), JobState::done);
}

TEST_F(Priority, ALaterHigherPriorityTaskOvertakesTheQueue) {
  start_one_at_a_time();
  const std::uint64_t busy = submit({{"sleep", 1}});
  const std::uint64_t low = submit({{"sleep", 1}});
  run_for(500);
  const std::uint64_t high = submit({{"value", 1}, {"priority", 1}});
  EXPECT_EQ(queue_position(high), 1);
  EXPECT_EQ(queue_position(low), 2);
  run_for(600);
  EXPECT_EQ(state_of(high), JobState::done);
  EXPECT_EQ(state_of(low), JobState::running);
  EXPECT_EQ(start_order({busy, low, high}), (std::vector<std::uint64_t>{busy, high, low}));
}

TEST_F(Priority, ARetryGoesToTheBackOfItsPriority) {
  start_one_at_a_time();
  const std::uint64_t flaky = submit({{"fail", "x"}, {"retries", 1}, {"priority", 3}});
  const std::uint64_t same = submit({{"sleep", 1}, {"priority", 3}});
  const std::uint64_t lower = submit({{"sleep", 1}, {"priority", 2}});
  run_for(1);
  // Its first run failed at once: it went behind `same`, which then took the slot.
  EXPECT_EQ(state_of(flaky), JobState::pending);
  EXPECT_EQ(state_of(same), JobState::running);
  EXPECT_EQ(queue_position(flaky), 1);
  EXPECT_EQ(queue_position(lower), 2);
  run_for(3000);
  EXPECT_EQ(start_order({flaky, same, lower}),
            (std::vector<std::uint64_t>{flaky, same, flaky, lower}));
  EXPECT_EQ(state_of(flaky), JobState::failed);
}

TEST_F(Priority, RestoredPendingTasksQueueByPriorityAgain) {
  std::vector<std::uint64_t> ids;
  for (int i = 0; i < 4; ++i) {
    auto job = make_job(static_cast<std::uint64_t>(i + 1), {{"value", i}, {"priority", i % 2}});
    backend_->insert(*job);
    backend_->stored_live.push_back(srv::row_of(*job, true));
    ids.push_back(job->id());
  }
  srv::ServiceOptions o;
  o.max_running = 1;
  start(o);
  service_->restore();
  EXPECT_EQ(state_of(2), JobState::running);  // the first of priority 1 took the slot
  EXPECT_EQ(queue_position(4), 1);
  EXPECT_EQ(queue_position(1), 2);
  EXPECT_EQ(queue_position(3), 3);
  run_for(10);
  EXPECT_EQ(start_order(ids), (std::vector<std::uint64_t>{2, 4, 1, 3}));
}

TEST(PendingQueue, KeepsStartOrderAndFindsAndTakesById) {
  srv::PendingQueue q;
  const auto job = [](std::uint64_t id, int priority) {
    return make_job(id, {{"value", 1}, {"priority", priority}});
  };
  q.push(job(1, 0), 10);
  q.push(job(2, 7), 20);
  q.push(job(3, 0), 30);
  q.push(job(4, 7), 40);
  std::vector<std::uint64_t> order;
  for (const auto& [place, entry] : q)
    order.push_back(entry.job->id());
  EXPECT_EQ(order, (std::vector<std::uint64_t>{2, 4, 1, 3}));
  ASSERT_NE(q.find(3), nullptr);
  EXPECT_EQ(q.find(3)->queued_at_ms, 30);
  EXPECT_EQ(q.find(9), nullptr);
  std::optional<srv::PendingQueue::Entry> taken = q.take(4);
  ASSERT_TRUE(taken);
  EXPECT_EQ(taken->job->id(), 4u);
  EXPECT_FALSE(q.take(4));
  EXPECT_EQ(q.find(4), nullptr);
  q.erase_if([](const srv::PendingQueue::Entry& e) { return e.job->id() == 1; });
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(q.find(1), nullptr);
  EXPECT_EQ(q.begin()->second.job->id(), 2u);
  q.push(job(1, 7), 50);  // back again: behind the 7 that was there first
  order.clear();
  for (const auto& [place, entry] : q)
    order.push_back(entry.job->id());
  EXPECT_EQ(order, (std::vector<std::uint64_t>{2, 1, 3}));
  q.clear();
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.find(2), nullptr);
}
