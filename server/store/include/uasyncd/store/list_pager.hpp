// The positions and counts of a list (GET /api/tasks), the same for every backend: a backend
// answers two questions about its matching rows (the first few in a range of ids, from either
// end, and how many there are, up to a cap); list_page() makes every page, cursor and total of
// ListQuery and ListPage from them.
//
// Threads: whatever the backend allows for its reads; list_page() keeps no state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "uasyncd/store/job_backend.hpp"

namespace uasyncd::server {

// Ids strictly between `above` and `below`.
struct IdRange {
  std::uint64_t above = 0;
  std::uint64_t below = std::numeric_limits<std::uint64_t>::max();
};

class ListSource {
 public:
  virtual ~ListSource() = default;
  // Up to `limit` summaries of rows matching `filter` (its state, name and name_contains) in
  // `range`, newest first or oldest first.
  virtual std::vector<JobSummary> scan(const ListQuery& filter, IdRange range, bool newest_first,
                                       std::size_t limit) = 0;
  // How many rows match `filter` in `range`, counting at most `cap` + 1 (more than `cap`: there
  // are more than `cap`).
  virtual std::uint64_t count(const ListQuery& filter, IdRange range, std::uint64_t cap) = 0;
  // How many rows match `filter` in all, when the backend keeps that number (no count needed).
  virtual std::optional<std::uint64_t> kept_count(const ListQuery& filter) = 0;
};

ListPage list_page(const ListQuery& query, ListSource& source);

// kept_count() of a backend that keeps only the number of rows in each state (the durable
// stores): known for no filter or a state alone, unknown once a name filters.
std::optional<std::uint64_t> count_from_states(const ListQuery& filter, const StateCounts& counts);

// The name filter's rule: `needle` (already folded) occurs in `name`, A-Z folded to a-z.
bool name_contains(std::string_view name, std::string_view folded_needle);
// A-Z to a-z, every other byte as it is.
std::string fold_ascii(std::string_view text);

}  // namespace uasyncd::server
