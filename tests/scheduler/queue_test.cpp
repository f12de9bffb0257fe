// Queue<T>: CPython's asyncio.Queue shape, with FIFO service of blocked put()/get() and
// cancellation that loses no item.
#include <uasyncio/uasyncio.hpp>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "allocation_counter.hpp"
#include "loop_fixture.hpp"

namespace ua = uasyncio;

namespace {

using Lines = std::vector<std::string>;

ua::Coro<int> get_one(ua::Queue<int>& q) {
  co_return co_await q.get();
}

ua::Coro<void> getter(std::string name, ua::Queue<int>& q, Lines& out) {
  try {
    const int v = co_await q.get();
    out.push_back(name + " got " + std::to_string(v));
  } catch (const ua::CancelledError&) {
    out.push_back(name + " cancelled");
    throw;
  }
}

ua::Coro<void> putter(std::string name, ua::Queue<int>& q, int v, Lines& out) {
  try {
    co_await q.put(v);
    out.push_back(name + " put " + std::to_string(v));
  } catch (const ua::CancelledError&) {
    out.push_back(name + " cancelled");
    throw;
  }
}

ua::Coro<void> delayed_getter(std::string name, std::int64_t delay_ms, ua::Queue<int>& q,
                              Lines& out) {
  co_await ua::sleep_ms(delay_ms);
  co_await getter(std::move(name), q, out);
}

ua::Coro<void> delayed_putter(std::string name, std::int64_t delay_ms, ua::Queue<int>& q, int v,
                              Lines& out) {
  co_await ua::sleep_ms(delay_ms);
  co_await putter(std::move(name), q, v, out);
}

std::vector<int> drain(ua::Queue<int>& q) {
  std::vector<int> items;
  while (!q.empty())
    items.push_back(q.get_nowait());
  return items;
}

ua::Coro<void> fifo_nowait(ua::Queue<int>& q, std::vector<int>* got) {
  for (int i = 0; i < 5; ++i)
    q.put_nowait(i);
  for (int i = 5; i < 10; ++i)
    co_await q.put(i);
  for (int i = 0; i < 5; ++i)
    got->push_back(q.get_nowait());
  for (int i = 0; i < 5; ++i)
    got->push_back(co_await q.get());
}

ua::Coro<void> put_blocks_while_full(ua::Queue<int>& q, Lines& out) {
  co_await q.put(1);
  co_await q.put(2);
  ua::create_task(putter("p", q, 3, out));
  co_await ua::sleep_ms(10);
  out.push_back("full " + std::to_string(q.full()) + " qsize " + std::to_string(q.qsize()));
  out.push_back("main got " + std::to_string(co_await q.get()));
  co_await ua::sleep(0);
  out.push_back("main got " + std::to_string(co_await q.get()));
  out.push_back("main got " + std::to_string(co_await q.get()));
}

ua::Coro<void> get_waits_for_put(ua::Queue<int>& q, Lines& out) {
  ua::create_task(getter("g", q, out));
  co_await ua::sleep_ms(10);
  out.push_back("putting");
  q.put_nowait(7);
  co_await ua::sleep(0);
}

ua::Coro<void> getters_in_wait_order(ua::Queue<int>& q, Lines& out) {
  for (int id = 0; id < 4; ++id) {
    ua::create_task(delayed_getter("g" + std::to_string(id), 10 * (4 - id), q, out));
  }
  co_await ua::sleep_ms(100);
  for (int v = 0; v < 4; ++v)
    q.put_nowait(v);
  co_await ua::sleep(0);
}

ua::Coro<void> putters_in_wait_order(ua::Queue<int>& q, Lines& out, std::vector<int>* got) {
  q.put_nowait(-1);
  for (int id = 0; id < 4; ++id) {
    ua::create_task(delayed_putter("p" + std::to_string(id), 10 * (4 - id), q, id, out));
  }
  co_await ua::sleep_ms(100);
  for (int i = 0; i < 5; ++i)
    got->push_back(co_await q.get());
}

ua::Coro<void> newcomer_cannot_take_handed_item(ua::Queue<int>& q, Lines& out) {
  ua::create_task(getter("g", q, out));
  co_await ua::sleep(0);
  q.put_nowait(1);
  out.push_back("qsize " + std::to_string(q.qsize()));
  try {
    q.get_nowait();
    out.push_back("stolen");
  } catch (const ua::QueueEmpty&) {
    out.push_back("QueueEmpty");
  }
  co_await ua::sleep(0);
  out.push_back("qsize " + std::to_string(q.qsize()));
}

ua::Coro<void> newcomer_cannot_take_reserved_slot(ua::Queue<int>& q, Lines& out) {
  q.put_nowait(1);
  ua::create_task(putter("p", q, 2, out));
  co_await ua::sleep(0);
  out.push_back("main got " + std::to_string(q.get_nowait()));
  out.push_back("full " + std::to_string(q.full()));
  try {
    q.put_nowait(3);
    out.push_back("slot stolen");
  } catch (const ua::QueueFull&) {
    out.push_back("QueueFull");
  }
  co_await ua::sleep(0);
  out.push_back("main got " + std::to_string(q.get_nowait()));
}

ua::Coro<void> cancel_waiting_getter(ua::Queue<int>& q, Lines& out) {
  ua::create_task(getter("g0", q, out));
  ua::Task<void> g1 = ua::create_task(getter("g1", q, out));
  ua::create_task(getter("g2", q, out));
  co_await ua::sleep(0);
  g1.cancel();
  co_await ua::sleep(0);
  q.put_nowait(10);
  q.put_nowait(20);
  co_await ua::sleep(0);
  out.push_back("qsize " + std::to_string(q.qsize()));
}

ua::Coro<void> cancel_getter_after_hand_off(ua::Queue<int>& q, Lines& out) {
  ua::Task<void> g0 = ua::create_task(getter("g0", q, out));
  ua::create_task(getter("g1", q, out));
  co_await ua::sleep(0);
  q.put_nowait(10);  // handed to g0, which has not run yet
  g0.cancel();
  co_await ua::sleep(0);
  q.put_nowait(20);
  co_await ua::sleep(0);
  out.push_back("qsize " + std::to_string(q.qsize()));
}

ua::Coro<void> cancel_only_getter_after_hand_off(ua::Queue<int>& q, Lines& out) {
  ua::Task<void> g0 = ua::create_task(getter("g0", q, out));
  co_await ua::sleep(0);
  q.put_nowait(10);  // handed to g0, which has not run yet
  g0.cancel();
  q.put_nowait(20);  // nobody waits: queued
  co_await ua::sleep(0);
  out.push_back("qsize " + std::to_string(q.qsize()));
}

ua::Coro<void> cancel_waiting_putter(ua::Queue<int>& q, Lines& out, std::vector<int>* got) {
  q.put_nowait(1);
  ua::create_task(putter("p0", q, 2, out));
  ua::Task<void> p1 = ua::create_task(putter("p1", q, 3, out));
  ua::create_task(putter("p2", q, 4, out));
  co_await ua::sleep(0);
  p1.cancel();
  co_await ua::sleep(0);
  for (int i = 0; i < 3; ++i)
    got->push_back(co_await q.get());
  co_await ua::sleep(0);
  out.push_back("qsize " + std::to_string(q.qsize()));
}

ua::Coro<void> cancel_putter_after_slot_reserved(ua::Queue<int>& q, Lines& out,
                                                 std::vector<int>* got) {
  q.put_nowait(1);
  ua::Task<void> p0 = ua::create_task(putter("p0", q, 2, out));
  ua::create_task(putter("p1", q, 3, out));
  co_await ua::sleep(0);
  got->push_back(q.get_nowait());  // reserves the freed slot for p0
  p0.cancel();
  co_await ua::sleep(0);
  co_await ua::sleep(0);
  out.push_back("qsize " + std::to_string(q.qsize()));
  while (!q.empty())
    got->push_back(q.get_nowait());
}

ua::Coro<void> get_with_timeout(ua::Queue<int>& q, Lines& out) {
  try {
    co_await ua::wait_for_ms(get_one(q), 30);
  } catch (const ua::TimeoutError&) {
    out.push_back("timeout");
  }
  q.put_nowait(5);
  out.push_back("qsize " + std::to_string(q.qsize()));
  out.push_back("got " + std::to_string(co_await q.get()));
}

ua::Coro<void> worker(ua::Queue<int>& q, Lines& out) {
  for (;;) {
    const int v = co_await q.get();
    co_await ua::sleep_ms(v);
    out.push_back("done " + std::to_string(v));
    q.task_done();
  }
}

ua::Coro<void> join_waits_for_task_done(ua::Queue<int>& q, Lines& out) {
  co_await q.join();  // nothing put yet: at once
  out.push_back("joined empty");
  ua::Task<void> w = ua::create_task(worker(q, out));
  for (int v : {30, 10, 20})
    co_await q.put(v);
  co_await q.join();
  out.push_back("joined");
  w.cancel();
  try {
    co_await w;
  } catch (const ua::CancelledError&) {
  }
}

ua::Coro<void> producer(ua::Queue<int>& q, int first, int count) {
  for (int i = 0; i < count; ++i)
    co_await q.put(first + i);
}

ua::Coro<void> consumer(ua::Queue<int>& q, std::vector<int>* got, int count) {
  for (int i = 0; i < count; ++i) {
    got->push_back(co_await q.get());
    if (i % 7 == 0) co_await ua::sleep_ms(1);
  }
}

ua::Coro<void> pass_unique(ua::Queue<std::unique_ptr<int>>& q, int* result) {
  co_await q.put(std::make_unique<int>(41));
  q.put_nowait(std::make_unique<int>(1));
  std::unique_ptr<int> a = co_await q.get();
  std::unique_ptr<int> b = q.get_nowait();
  *result = *a + *b;
}

ua::Coro<void> hand_over(ua::Queue<int>& q, ua::Queue<int>& back, int rounds, long* count) {
  for (int i = 0; i < rounds; ++i) {
    const int v = co_await q.get();
    ++*count;
    back.put_nowait(v + 1);
  }
}

ua::Coro<void> blocked_get_without_allocation(int rounds, long* count, long* allocated) {
  ua::Queue<int> a;
  ua::Queue<int> b;
  ua::Task<void> ta = ua::create_task(hand_over(a, b, rounds, count));
  ua::Task<void> tb = ua::create_task(hand_over(b, a, rounds, count));
  a.put_nowait(0);
  while (*count < 20)
    co_await ua::sleep(0);
  const long before = test_support::allocations.load();
  co_await ta;
  co_await tb;
  *allocated = test_support::allocations.load() - before;
}

}  // namespace

using Queue = LoopTest;

TEST_F(Queue, SizesOfAnUnboundedQueue) {
  ua::Queue<int> q;
  EXPECT_EQ(q.maxsize(), 0u);
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(q.full());
  for (int i = 0; i < 1000; ++i)
    q.put_nowait(i);
  EXPECT_EQ(q.qsize(), 1000u);
  EXPECT_FALSE(q.empty());
  EXPECT_FALSE(q.full());
}

TEST_F(Queue, SizesOfABoundedQueue) {
  ua::Queue<int> q(2);
  EXPECT_EQ(q.maxsize(), 2u);
  q.put_nowait(1);
  EXPECT_FALSE(q.full());
  q.put_nowait(2);
  EXPECT_TRUE(q.full());
  EXPECT_EQ(q.qsize(), 2u);
  EXPECT_THROW(q.put_nowait(3), ua::QueueFull);
  EXPECT_EQ(q.qsize(), 2u);
  EXPECT_EQ(drain(q), (std::vector<int>{1, 2}));
}

TEST_F(Queue, GetNowaitOnEmptyRaisesQueueEmpty) {
  ua::Queue<int> q;
  EXPECT_THROW(q.get_nowait(), ua::QueueEmpty);
  q.put_nowait(1);
  EXPECT_EQ(q.get_nowait(), 1);
  EXPECT_THROW(q.get_nowait(), ua::QueueEmpty);
}

TEST_F(Queue, QueueFullAndQueueEmptyAreStdExceptions) {
  ua::Queue<int> q(1);
  q.put_nowait(1);
  EXPECT_THROW(q.put_nowait(2), std::exception);
  q.get_nowait();
  EXPECT_THROW(q.get_nowait(), std::exception);
}

TEST_F(Queue, ItemsComeOutInTheOrderTheyWentIn) {
  ua::Queue<int> q;
  std::vector<int> got;
  ua::run(fifo_nowait(q, &got));
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST_F(Queue, PutBlocksWhileFullUntilAGet) {
  ua::Queue<int> q(2);
  ua::run(put_blocks_while_full(q, lines_));
  EXPECT_EQ(lines_, (Lines{"full 1 qsize 2", "main got 1", "p put 3", "main got 2", "main got 3"}));
}

TEST_F(Queue, GetBlocksUntilAPut) {
  ua::Queue<int> q;
  ua::run(get_waits_for_put(q, lines_));
  EXPECT_EQ(lines_, (Lines{"putting", "g got 7"}));
  EXPECT_EQ(elapsed_ms(), 10);
}

TEST_F(Queue, BlockedGettersAreServedInTheOrderTheyBlocked) {
  ua::Queue<int> q;
  ua::run(getters_in_wait_order(q, lines_));
  EXPECT_EQ(lines_, (Lines{"g3 got 0", "g2 got 1", "g1 got 2", "g0 got 3"}));
}

TEST_F(Queue, BlockedPuttersAreServedInTheOrderTheyBlocked) {
  ua::Queue<int> q(1);
  std::vector<int> got;
  ua::run(putters_in_wait_order(q, lines_, &got));
  EXPECT_EQ(got, (std::vector<int>{-1, 3, 2, 1, 0}));
}

TEST_F(Queue, AnItemHandedToAWaitingGetterCannotBeTakenByANewcomer) {
  ua::Queue<int> q;
  ua::run(newcomer_cannot_take_handed_item(q, lines_));
  EXPECT_EQ(lines_, (Lines{"qsize 1", "QueueEmpty", "g got 1", "qsize 0"}));
}

TEST_F(Queue, ASlotFreedForAWaitingPutterCannotBeTakenByANewcomer) {
  ua::Queue<int> q(1);
  ua::run(newcomer_cannot_take_reserved_slot(q, lines_));
  EXPECT_EQ(lines_, (Lines{"main got 1", "full 1", "QueueFull", "p put 2", "main got 2"}));
}

TEST_F(Queue, CancelledWaitingGetterIsRemovedAndLosesNoItem) {
  ua::Queue<int> q;
  ua::run(cancel_waiting_getter(q, lines_));
  EXPECT_EQ(lines_, (Lines{"g1 cancelled", "g0 got 10", "g2 got 20", "qsize 0"}));
}

TEST_F(Queue, ItemOfAGetterCancelledAfterHandOffGoesToTheNextGetter) {
  ua::Queue<int> q;
  ua::run(cancel_getter_after_hand_off(q, lines_));
  EXPECT_EQ(lines_, (Lines{"g0 cancelled", "g1 got 10", "qsize 1"}));
  EXPECT_EQ(drain(q), (std::vector<int>{20}));
}

TEST_F(Queue, ItemOfAGetterCancelledAfterHandOffGoesBackToTheFront) {
  ua::Queue<int> q;
  ua::run(cancel_only_getter_after_hand_off(q, lines_));
  EXPECT_EQ(lines_, (Lines{"g0 cancelled", "qsize 2"}));
  EXPECT_EQ(drain(q), (std::vector<int>{10, 20}));
}

TEST_F(Queue, CancelledWaitingPutterPutsNothing) {
  ua::Queue<int> q(1);
  std::vector<int> got;
  ua::run(cancel_waiting_putter(q, lines_, &got));
  EXPECT_EQ(got, (std::vector<int>{1, 2, 4}));
  EXPECT_EQ(lines_, (Lines{"p1 cancelled", "p0 put 2", "p2 put 4", "qsize 0"}));
}

TEST_F(Queue, PutterCancelledAfterASlotWasReservedPassesTheSlotOn) {
  ua::Queue<int> q(1);
  std::vector<int> got;
  ua::run(cancel_putter_after_slot_reserved(q, lines_, &got));
  EXPECT_EQ(lines_, (Lines{"p0 cancelled", "p1 put 3", "qsize 1"}));
  EXPECT_EQ(got, (std::vector<int>{1, 3}));
}

TEST_F(Queue, GetThatTimesOutLeavesNoGhostGetter) {
  ua::Queue<int> q;
  ua::run(get_with_timeout(q, lines_));
  EXPECT_EQ(lines_, (Lines{"timeout", "qsize 1", "got 5"}));
  EXPECT_EQ(elapsed_ms(), 30);
}

TEST_F(Queue, JoinWaitsUntilEveryItemIsMarkedDone) {
  ua::Queue<int> q;
  ua::run(join_waits_for_task_done(q, lines_));
  EXPECT_EQ(lines_, (Lines{"joined empty", "done 30", "done 10", "done 20", "joined"}));
  EXPECT_EQ(elapsed_ms(), 60);
}

TEST_F(Queue, TaskDoneCalledTooOftenRaisesValueError) {
  ua::Queue<int> q;
  EXPECT_THROW(q.task_done(), ua::ValueError);
  q.put_nowait(1);
  q.get_nowait();
  q.task_done();
  EXPECT_THROW(q.task_done(), ua::ValueError);
}

TEST_F(Queue, ProducersAndConsumersThroughASmallQueueLoseAndDuplicateNothing) {
  ua::Queue<int> q(3);
  std::vector<int> got_a;
  std::vector<int> got_b;
  std::vector<ua::Task<void>> tasks;
  tasks.push_back(ua::create_task(producer(q, 0, 500)));
  tasks.push_back(ua::create_task(consumer(q, &got_a, 400)));
  tasks.push_back(ua::create_task(producer(q, 1000, 500)));
  tasks.push_back(ua::create_task(consumer(q, &got_b, 600)));
  ua::run(ua::gather(std::move(tasks)));
  std::vector<int> all = got_a;
  all.insert(all.end(), got_b.begin(), got_b.end());
  std::sort(all.begin(), all.end());
  std::vector<int> expected;
  for (int i = 0; i < 500; ++i)
    expected.push_back(i);
  for (int i = 0; i < 500; ++i)
    expected.push_back(1000 + i);
  EXPECT_EQ(all, expected);
  // Each producer's items reach each consumer in the order they were put.
  for (const std::vector<int>* got : {&got_a, &got_b}) {
    int last_low = -1;
    int last_high = 999;
    for (int v : *got) {
      int& last = v < 1000 ? last_low : last_high;
      EXPECT_GT(v, last);
      last = v;
    }
  }
  EXPECT_TRUE(q.empty());
}

TEST_F(Queue, HoldsMoveOnlyItems) {
  ua::Queue<std::unique_ptr<int>> q;
  int result = 0;
  ua::run(pass_unique(q, &result));
  EXPECT_EQ(result, 42);
}

TEST_F(Queue, BlockedGetsServedByPutsDoNotAllocate) {
  long count = 0;
  long allocated = -1;
  ua::run(blocked_get_without_allocation(5'000, &count, &allocated));
  EXPECT_EQ(count, 10'000);
  EXPECT_EQ(allocated, 0);
}
