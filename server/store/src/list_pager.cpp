#include "uasyncd/store/list_pager.hpp"

#include <algorithm>
#include <utility>

namespace uasyncd::server {
namespace {

constexpr std::uint64_t kNoBound = std::numeric_limits<std::uint64_t>::max();

char fold(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

}  // namespace

std::string fold_ascii(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    c = fold(c);
  return out;
}

bool name_contains(std::string_view name, std::string_view folded_needle) {
  return std::search(name.begin(), name.end(), folded_needle.begin(), folded_needle.end(),
                     [](char a, char b) { return fold(a) == b; }) != name.end();
}

ListPage list_page(const ListQuery& q, ListSource& source) {
  ListPage page;
  const std::size_t limit = std::max<std::size_t>(q.limit, 1);
  const std::uint64_t cap = kListCountCap;
  const auto count_total = [&] {
    if (std::optional<std::uint64_t> kept = source.kept_count(q)) {
      page.total = *kept;
    } else {
      const std::uint64_t n = source.count(q, {}, cap);
      page.total_capped = n > cap;
      page.total = page.total_capped ? cap : n;
    }
  };
  // Whether the page may have newer matches (it is not the newest page).
  bool positioned = false;
  if (q.last) {
    // The last of the pages counted from the newest, so that its numbers fit theirs ("101-130
    // of 130"): what is left over of the total, or a whole page (and the oldest whole page when
    // the total is past the count cap).
    count_total();
    const std::uint64_t rest = page.total % limit;
    const std::size_t n = page.total_capped || rest == 0 ? limit : static_cast<std::size_t>(rest);
    page.jobs = source.scan(q, {}, false, n);
    std::reverse(page.jobs.begin(), page.jobs.end());
    positioned = true;
  } else if (q.after) {
    std::vector<JobSummary> newer = source.scan(q, {*q.after, kNoBound}, false, limit + 1);
    // Fewer than a page newer: the newest page (below), so a first page is always full.
    if (newer.size() > limit) {
      newer.resize(limit);
      std::reverse(newer.begin(), newer.end());
      page.jobs = std::move(newer);
      if (!source.scan(q, {0, page.jobs.back().id}, true, 1).empty()) {
        page.next_cursor = page.jobs.back().id;
      }
      positioned = true;
    }
  }
  if (!q.last && !positioned) {
    IdRange range;
    if (q.before && !q.after) range.below = *q.before;
    page.jobs = source.scan(q, range, true, limit + 1);
    if (page.jobs.size() > limit) {
      page.jobs.resize(limit);
      page.next_cursor = page.jobs.back().id;
    }
    positioned = range.below != kNoBound;
  }
  if (!q.count) {
    if (positioned && !page.jobs.empty() &&
        !source.scan(q, {page.jobs.front().id, kNoBound}, false, 1).empty()) {
      page.prev_cursor = page.jobs.front().id;
    }
    return page;
  }
  if (!positioned && !page.next_cursor) {
    page.total = page.jobs.size();  // the newest page holds every match: nothing to count
  } else if (!q.last) {
    count_total();
  }
  // Matches newer than `id` (nullopt: more than the cap).
  const auto newer_than = [&](std::uint64_t id) -> std::optional<std::uint64_t> {
    const std::uint64_t n = source.count(q, {id, kNoBound}, cap);
    return n > cap ? std::nullopt : std::optional<std::uint64_t>(n);
  };
  if (!positioned) {
    page.offset = 0;
  } else if (page.jobs.empty()) {
    // The matches newer than the position asked for: for a cursor, those at it or newer.
    page.offset =
        q.last ? std::optional<std::uint64_t>(0) : newer_than(*q.before > 0 ? *q.before - 1 : 0);
  } else if (q.last && !page.total_capped) {
    page.offset = page.total - std::min<std::uint64_t>(page.total, page.jobs.size());
  } else {
    page.offset = newer_than(page.jobs.front().id);
  }
  if (positioned && !page.jobs.empty() && page.offset != std::optional<std::uint64_t>(0)) {
    page.prev_cursor = page.jobs.front().id;
  }
  return page;
}

std::optional<std::uint64_t> count_from_states(const ListQuery& filter, const StateCounts& counts) {
  if (filter.name || filter.name_contains) return std::nullopt;
  if (filter.state) return counts[static_cast<std::size_t>(*filter.state)];
  std::uint64_t all = 0;
  for (std::uint64_t n : counts)
    all += n;
  return all;
}

}  // namespace uasyncd::server
