#include "zone_footer.hpp"

#include <date/tz.h>

// ptz.h's time_zone::name() says `using namespace date; using namespace std::chrono;` and then
// an unqualified hh_mm_ss, which is ambiguous in C++20 (both namespaces have one). Lookup stops
// at the first scope that has the name, so a using-declaration in namespace Posix settles it.
namespace Posix {
using date::hh_mm_ss;
}
#include <date/ptz.h>

#include <exception>
#include <fstream>
#include <iterator>

namespace uasyncd::schedule::detail {

class FooterRule {
 public:
  explicit FooterRule(const std::string& tz) : zone_(tz) {}
  const Posix::time_zone& zone() const { return zone_; }

 private:
  Posix::time_zone zone_;
};

namespace {

// Zone files are a few kilobytes; anything larger is not one.
constexpr std::streamsize kMaxZoneFileSize = 256 * 1024;
constexpr std::size_t kMaxFooterLength = 128;

// The footer of a TZif file of version 2 or later: the last line, between two newlines.
std::string footer_of(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return {};
  std::string data(static_cast<std::size_t>(kMaxZoneFileSize) + 1, '\0');
  file.read(data.data(), kMaxZoneFileSize + 1);
  data.resize(static_cast<std::size_t>(file.gcount()));
  if (data.size() > static_cast<std::size_t>(kMaxZoneFileSize) || data.size() < 6 ||
      data.compare(0, 4, "TZif") != 0 || data[4] < '2' || data.back() != '\n') {
    return {};
  }
  std::size_t start = data.rfind('\n', data.size() - 2);
  if (start == std::string::npos || data.size() - start - 2 > kMaxFooterLength) return {};
  return data.substr(start + 1, data.size() - start - 2);
}

}  // namespace

std::shared_ptr<const FooterRule> read_footer_rule(const std::string& path) {
  const std::string tz = footer_of(path);
  if (tz.empty()) return nullptr;
  try {
    return std::make_shared<const FooterRule>(tz);
  } catch (const std::exception&) {
    return nullptr;
  }
}

ZoneSegment footer_segment(const FooterRule& rule, std::chrono::sys_seconds t) {
  const date::sys_info info = rule.zone().get_info(t);
  return {info.begin, info.end, info.offset};
}

}  // namespace uasyncd::schedule::detail
