#include "uasyncd/daemon/duration.hpp"

#include <array>
#include <charconv>
#include <cstdint>
#include <utility>

namespace uasyncd::server {

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  constexpr std::array<std::pair<std::string_view, std::int64_t>, 5> kUnits{
      {{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}}};
  std::int64_t n = 0;
  const char* end = text.data() + text.size();
  auto [rest, ec] = std::from_chars(text.data(), end, n);
  if (ec != std::errc() || rest == text.data() || n <= 0) return std::nullopt;
  const std::string_view unit(rest, static_cast<std::size_t>(end - rest));
  for (const auto& [name, ms] : kUnits) {
    if (unit != name) continue;
    if (n > INT64_MAX / ms) return std::nullopt;
    return std::chrono::milliseconds(n * ms);
  }
  return std::nullopt;
}

}  // namespace uasyncd::server
