// POST /api/tasks/bulk: cancel or delete many jobs, named by id or matching a filter. The
// matches come from the store a page at a time, newest first; each chunk of them is handled in
// one loop turn (other requests and timers go on between chunks), as cancel() and remove() would
// handle them one by one, events included.
#include <algorithm>
#include <functional>
#include <limits>
#include <utility>

#include "uasyncd/bridge/job_bridge.hpp"

namespace uasyncd::server {

Result<BulkResult> JobBridge::bulk(const BulkRequest& request) {
  BulkResult out;
  const std::uint64_t cap = options_.bulk_max_jobs;
  const std::uint64_t limit =
      std::min(request.at_most.value_or(std::numeric_limits<std::uint64_t>::max()), cap);
  const auto act = [&](std::span<const std::uint64_t> ids,
                       std::span<const std::optional<JobState>> states) {
    return request.action == BulkAction::cancel ? cancel_chunk(ids, out)
                                                : delete_chunk(ids, states, out);
  };
  if (!request.ids.empty()) {
    std::vector<std::uint64_t> ids = request.ids;
    std::sort(ids.begin(), ids.end(), std::greater<>());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    if (ids.size() > limit) ids.resize(limit);
    out.matched = ids.size();
    const std::vector<std::optional<JobState>> unknown(ids.size());
    for (std::size_t i = 0; i < ids.size(); i += kBulkChunk) {
      const std::size_t n = std::min(kBulkChunk, ids.size() - i);
      Result<Done> done = act(std::span(ids).subspan(i, n), std::span(unknown).subspan(i, n));
      if (!done) return done.error();
    }
    return out;
  }
  ListQuery page_of = request.filter;
  page_of.count = false;
  page_of.after.reset();
  page_of.last = false;
  bool exhausted = false;
  while (out.matched < limit) {
    page_of.limit =
        static_cast<std::size_t>(std::min<std::uint64_t>(kBulkChunk, limit - out.matched));
    Result<ListPage> page = list(page_of);
    if (!page) return page.error();
    out.matched += page->jobs.size();
    // Only what the action applies to goes to the loop: a cancel skips finished jobs, a delete
    // running and pending ones (the loop decides again with what it knows now).
    std::vector<std::uint64_t> ids;
    std::vector<std::optional<JobState>> states;
    for (const JobSummary& s : page->jobs) {
      const bool applies = request.action == BulkAction::remove
                               ? is_final(s.state) || s.state == JobState::scheduled
                               : !is_final(s.state);
      if (applies) {
        ids.push_back(s.id);
        states.emplace_back(s.state);
      } else {
        ++out.skipped;
      }
    }
    if (!ids.empty()) {
      Result<Done> done = act(ids, states);
      if (!done) return done.error();
    }
    if (!page->next_cursor) {
      exhausted = true;
      break;
    }
    page_of.before = page->next_cursor;
  }
  // Stopped by the per-request cap, not by at_most, with older matches left.
  if (!exhausted && out.matched == cap && request.at_most.value_or(cap + 1) > cap) {
    out.more = true;
    out.next_cursor = page_of.before;
  }
  return out;
}

Result<Done> JobBridge::cancel_chunk(std::span<const std::uint64_t> ids, BulkResult& out) {
  std::vector<std::uint64_t> chunk(ids.begin(), ids.end());
  Result<std::vector<BulkOutcome>> r = on_loop<std::vector<BulkOutcome>>(
      [chunk](JobService& s) -> Result<std::vector<BulkOutcome>> { return s.cancel_each(chunk); });
  if (!r) return r.error();
  for (BulkOutcome o : r.value()) {
    // Not live: finished and stored, or unknown; either way nothing to cancel.
    if (o == BulkOutcome::affected) {
      ++out.affected;
    } else {
      ++out.skipped;
    }
  }
  return Done{};
}

Result<Done> JobBridge::delete_chunk(std::span<const std::uint64_t> ids,
                                     std::span<const std::optional<JobState>> states,
                                     BulkResult& out) {
  DeleteClaims claims(*this);
  std::vector<std::uint64_t> chunk;
  std::vector<std::optional<JobState>> known;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (claims.claim(ids[i])) {
      chunk.push_back(ids[i]);
      known.push_back(states[i]);
    } else {
      ++out.skipped;  // another delete of it is under way
    }
  }
  Result<DeleteOutcomes> r =
      on_loop<DeleteOutcomes>([chunk](JobService& s) -> Result<DeleteOutcomes> {
        DeleteOutcomes o;
        o.reserve(chunk.size());
        for (std::uint64_t id : chunk) {
          Result<Removal> removed = s.remove({id, std::nullopt});
          if (removed.is(JobErrorCode::not_live)) {
            o.emplace_back(std::nullopt);
          } else {
            o.emplace_back(std::move(removed));
          }
        }
        return o;
      });
  if (!r) return r.error();
  std::vector<RemovedJob> gone;
  WriteTicket last = 0;
  for (std::size_t i = 0; i < chunk.size(); ++i) {
    std::optional<Result<Removal>>& outcome = r.value()[i];
    if (!outcome) {
      // Not live: finished and stored (a listed state needs no read back), or unknown.
      if (known[i] && is_final(*known[i])) {
        outcome = Removal{backend_.erase(chunk[i], *known[i]), *known[i]};
      } else {
        outcome = stored_.remove({chunk[i], std::nullopt});
      }
    }
    if (*outcome) {
      gone.push_back({chunk[i], (*outcome)->state});
      last = std::max(last, (*outcome)->ticket);
    } else {
      ++out.skipped;  // not finished, or unknown
    }
  }
  if (!backend_.wait_committed(last, options_.loop_reply_timeout)) {
    return JobError{JobErrorCode::unavailable, "the deletes could not be stored in time"};
  }
  std::vector<std::uint64_t> gone_ids;
  for (const RemovedJob& j : gone)
    gone_ids.push_back(j.id);
  cache_.erase(gone_ids);
  publish_removed(gone, "deleted");
  out.affected += gone.size();
  return Done{};
}

}  // namespace uasyncd::server
