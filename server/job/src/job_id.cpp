#include "uasyncd/job/job_id.hpp"

#include <charconv>

namespace uasyncd::server {
namespace {

// Decimal digits in their one canonical form: "7", never "07" or "+7", so that one job has one
// id.
template <class N>
bool parse_number(std::string_view s, N& out) {
  if (s.empty() || s.size() > 19 || (s.size() > 1 && s[0] == '0')) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

std::optional<JobRef> parse_job_ref(std::string_view text) {
  if (text.size() < 2 || text[0] != 't') return std::nullopt;
  text.remove_prefix(1);
  JobRef ref;
  const std::size_t dot = text.find('.');
  if (!parse_number(text.substr(0, dot), ref.id)) return std::nullopt;
  if (dot != std::string_view::npos) {
    std::size_t step = 0;
    if (!parse_number(text.substr(dot + 1), step)) return std::nullopt;
    ref.step = step;
  }
  return ref;
}

std::string job_id_text(std::uint64_t id) {
  std::string out = "t";
  out += std::to_string(id);
  return out;
}

std::string step_id_text(std::uint64_t id, std::size_t step) {
  std::string out = job_id_text(id);
  out += '.';
  out += std::to_string(step);
  return out;
}

}  // namespace uasyncd::server
