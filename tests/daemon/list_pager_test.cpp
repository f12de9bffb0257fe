// The positions and counts of a list (list_pager.hpp), on a made-up source of ids 1..N that all
// match, so that counts past kListCountCap cost no rows.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "uasyncd/store/list_pager.hpp"

namespace srv = uasyncd::server;

namespace {

class Ids final : public srv::ListSource {
 public:
  explicit Ids(std::uint64_t n) : n_(n) {}

  std::vector<srv::JobSummary> scan(const srv::ListQuery&, srv::IdRange r, bool newest_first,
                                    std::size_t limit) override {
    std::vector<srv::JobSummary> out;
    const std::uint64_t lo = r.above + 1;
    const std::uint64_t hi = std::min(r.below - 1, n_);
    for (std::uint64_t k = 0; k < limit && lo + k <= hi; ++k) {
      srv::JobSummary s;
      s.id = newest_first ? hi - k : lo + k;
      out.push_back(s);
    }
    return out;
  }
  std::uint64_t count(const srv::ListQuery&, srv::IdRange r, std::uint64_t cap) override {
    largest_cap = std::max(largest_cap, cap);
    const std::uint64_t hi = std::min(r.below - 1, n_);
    const std::uint64_t n = hi > r.above ? hi - r.above : 0;
    return std::min(n, cap + 1);
  }
  std::optional<std::uint64_t> kept_count(const srv::ListQuery&) override { return std::nullopt; }

  std::uint64_t largest_cap = 0;

 private:
  std::uint64_t n_;
};

srv::ListQuery counted(std::size_t limit = 50) {
  srv::ListQuery q;
  q.limit = limit;
  q.count = true;
  return q;
}

}  // namespace

TEST(ListPager, ATotalPastTheCapIsAtLeastTheCap) {
  Ids source(250'000);
  srv::ListPage page = srv::list_page(counted(), source);
  EXPECT_EQ(page.jobs.front().id, 250'000u);
  EXPECT_EQ(page.total, srv::kListCountCap);
  EXPECT_TRUE(page.total_capped);
  EXPECT_EQ(page.offset, 0u);
  EXPECT_EQ(source.largest_cap, srv::kListCountCap);
}

TEST(ListPager, AnOffsetPastTheCapIsUnknownButANewerPageIsThere) {
  Ids source(250'000);
  srv::ListQuery q = counted();
  q.before = 50'001;
  srv::ListPage page = srv::list_page(q, source);
  EXPECT_EQ(page.jobs.front().id, 50'000u);
  EXPECT_FALSE(page.offset);  // 200,000 newer: past the cap
  EXPECT_EQ(page.prev_cursor, 50'000u);
  EXPECT_EQ(page.next_cursor, 49'951u);
  q.before = 200'001;
  EXPECT_EQ(srv::list_page(q, source).offset, 50'000u);
}

TEST(ListPager, TheLastPageFitsThePagesCountedFromTheNewest) {
  Ids source(130);
  srv::ListQuery q = counted();
  q.last = true;
  srv::ListPage page = srv::list_page(q, source);
  ASSERT_EQ(page.jobs.size(), 30u);
  EXPECT_EQ(page.jobs.front().id, 30u);
  EXPECT_EQ(page.offset, 100u);
  EXPECT_FALSE(page.next_cursor);
  EXPECT_EQ(page.prev_cursor, 30u);
  Ids even(100);
  page = srv::list_page(q, even);
  ASSERT_EQ(page.jobs.size(), 50u);  // a whole page when the total divides evenly
  EXPECT_EQ(page.offset, 50u);
  Ids none(0);
  page = srv::list_page(q, none);
  EXPECT_TRUE(page.jobs.empty());
  EXPECT_EQ(page.offset, 0u);
  EXPECT_FALSE(page.prev_cursor);
}

TEST(ListPager, TheLastPagePastTheCapIsTheOldestWholePage) {
  Ids source(250'001);
  srv::ListQuery q = counted();
  q.last = true;
  srv::ListPage page = srv::list_page(q, source);
  ASSERT_EQ(page.jobs.size(), 50u);
  EXPECT_EQ(page.jobs.front().id, 50u);
  EXPECT_EQ(page.jobs.back().id, 1u);
  EXPECT_TRUE(page.total_capped);
  EXPECT_FALSE(page.offset);
  EXPECT_EQ(page.prev_cursor, 50u);
}

TEST(ListPager, NameFilterFoldsAsciiOnly) {
  EXPECT_TRUE(srv::name_contains("Nightly JOB", srv::fold_ascii("job")));
  EXPECT_TRUE(srv::name_contains("Nightly JOB", srv::fold_ascii("NIGHT")));
  EXPECT_FALSE(srv::name_contains("Nightly JOB", srv::fold_ascii("jobs")));
  EXPECT_TRUE(srv::name_contains("x", ""));
  EXPECT_EQ(srv::fold_ascii("A\xc3\x89Z"), "a\xc3\x89z");
}
