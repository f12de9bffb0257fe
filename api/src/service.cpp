#include "uasyncd/api/service.hpp"

#include <charconv>
#include <utility>

namespace uasyncd::api {

Reply error_reply(int status, std::string code, std::string message) {
  return {status, {{"error", {{"code", std::move(code)}, {"message", std::move(message)}}}}};
}

namespace {
// Decimal digits in their one canonical form: "7", never "07" or "+7", so that one task has
// one id.
template <class N>
bool parse_number(std::string_view s, N& out) {
  if (s.empty() || s.size() > 19 || (s.size() > 1 && s[0] == '0')) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}
}  // namespace

std::optional<TaskRef> parse_task_ref(std::string_view id) {
  if (id.size() < 2 || id[0] != 't') return std::nullopt;
  id.remove_prefix(1);
  TaskRef ref;
  const std::size_t dot = id.find('.');
  if (!parse_number(id.substr(0, dot), ref.seq)) return std::nullopt;
  if (dot != std::string_view::npos) {
    std::size_t step = 0;
    if (!parse_number(id.substr(dot + 1), step)) return std::nullopt;
    ref.step = step;
  }
  return ref;
}

}  // namespace uasyncd::api
