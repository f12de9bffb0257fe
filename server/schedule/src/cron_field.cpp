#include "cron_field.hpp"

#include "message.hpp"

#include <array>
#include <cstddef>

namespace uasyncd::schedule::detail {
namespace {

constexpr std::array<std::string_view, 12> kMonthNames{"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                       "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr std::array<std::string_view, 7> kDayNames{"SUN", "MON", "TUE", "WED",
                                                    "THU", "FRI", "SAT"};
// Numbers longer than this are out of range in every field; stopping here keeps the
// arithmetic far from overflow.
constexpr std::size_t kMaxDigits = 4;

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

char upper(char c) {
  return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
}

bool same_letters(std::string_view text, std::string_view name) {
  if (text.size() != name.size()) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (upper(text[i]) != name[i]) return false;
  }
  return true;
}

// The input's text in a message: it passed the printable-ASCII check, and is cut short so
// that one message stays one short line.
std::string quoted(std::string_view text) {
  constexpr std::size_t kMaxQuoted = 24;
  if (text.size() <= kMaxQuoted) return joined({"\"", text, "\""});
  return joined({"\"", text.substr(0, kMaxQuoted), "...\""});
}

std::string range_text(int min, int max) {
  return joined({std::to_string(min), "-", std::to_string(max)});
}

class FieldParser {
 public:
  FieldParser(const CronFieldSpec& spec, std::string& error) : spec_(spec), error_(error) {}

  std::optional<CronField> parse(std::string_view text) {
    CronField field;
    field.star = !text.empty() && text.front() == '*';
    field.stepped = text.find_first_of("*/") != std::string_view::npos;
    for (;;) {
      std::size_t comma = text.find(',');
      std::string_view item = text.substr(0, comma);
      if (item.empty()) {
        fail("empty item in the list");
        return std::nullopt;
      }
      if (!add_item(item, field.bits)) return std::nullopt;
      if (comma == std::string_view::npos) break;
      text.remove_prefix(comma + 1);
    }
    return field;
  }

 private:
  // Sets the error; returns false so that a check can end with `return fail(...)`.
  bool fail(const std::string& what) {
    error_ = joined({spec_.name, " field: ", what});
    return false;
  }

  bool malformed(std::string_view item) {
    return fail(joined({quoted(item), " is not *, */n, a, a-b, a-b/n or a/n"}));
  }

  bool add_item(std::string_view item, std::uint64_t& bits) {
    std::size_t slash = item.find('/');
    std::string_view base = item.substr(0, slash);
    int step = 1;
    if (slash != std::string_view::npos) {
      std::string_view step_text = item.substr(slash + 1);
      if (step_text.empty() || step_text.find('/') != std::string_view::npos) {
        return malformed(item);
      }
      std::optional<int> n = number(step_text);
      if (!n) return fail(joined({"step ", quoted(step_text), " is not a number"}));
      if (*n < 1 || *n > spec_.max) {
        return fail(
            joined({"step ", std::to_string(*n), " is out of range ", range_text(1, spec_.max)}));
      }
      step = *n;
    }
    int low = spec_.min;
    int high = spec_.max;
    if (base == "*") {
      // every value of the field
    } else if (base.empty() || base.front() == '*') {
      return malformed(item);
    } else {
      std::size_t dash = base.find('-');
      if (dash == 0) return malformed(item);
      std::optional<int> first = value(base.substr(0, dash));
      if (!first) return false;
      low = *first;
      if (dash == std::string_view::npos) {
        // "a/n" runs from a to the field's end; "a" alone is a.
        high = slash == std::string_view::npos ? low : spec_.max;
      } else {
        std::string_view last_text = base.substr(dash + 1);
        if (last_text.empty() || last_text.find('-') != std::string_view::npos) {
          return malformed(item);
        }
        std::optional<int> last = value(last_text);
        if (!last) return false;
        high = *last;
        // "FRI-SUN": a range of weekdays may end on Sunday, read as 7.
        if (spec_.names == CronNames::days && high == 0 && low > 0 &&
            same_letters(last_text, kDayNames[0])) {
          high = 7;
        }
        if (high < low) {
          return fail(joined({"range ", quoted(base), " goes backwards (", std::to_string(low),
                              " is after ", std::to_string(high), ")"}));
        }
      }
    }
    for (int v = low; v <= high; v += step)
      bits |= std::uint64_t{1} << v;
    return true;
  }

  // A number of at most kMaxDigits digits, or nullopt.
  static std::optional<int> number(std::string_view text) {
    if (text.empty() || text.size() > kMaxDigits) return std::nullopt;
    int n = 0;
    for (char c : text) {
      if (!is_digit(c)) return std::nullopt;
      n = n * 10 + (c - '0');
    }
    return n;
  }

  // A value of the field: a number in range, or a name the field accepts.
  std::optional<int> value(std::string_view text) {
    if (!text.empty() && is_digit(text.front())) {
      bool all_digits = true;
      for (char c : text)
        all_digits = all_digits && is_digit(c);
      if (all_digits) {
        std::optional<int> n = number(text);
        if (!n || *n < spec_.min || *n > spec_.max) {
          fail(joined({n ? std::to_string(*n) : quoted(text), " is out of range ",
                       range_text(spec_.min, spec_.max)}));
          return std::nullopt;
        }
        return n;
      }
    }
    if (spec_.names == CronNames::months) {
      for (std::size_t i = 0; i < kMonthNames.size(); ++i) {
        if (same_letters(text, kMonthNames[i])) return static_cast<int>(i) + 1;
      }
      fail(joined({quoted(text), " is not a number or a month name (JAN-DEC)"}));
      return std::nullopt;
    }
    if (spec_.names == CronNames::days) {
      for (std::size_t i = 0; i < kDayNames.size(); ++i) {
        if (same_letters(text, kDayNames[i])) return static_cast<int>(i);
      }
      fail(joined({quoted(text), " is not a number or a day name (SUN-SAT)"}));
      return std::nullopt;
    }
    fail(joined({quoted(text), " is not a number"}));
    return std::nullopt;
  }

  const CronFieldSpec& spec_;
  std::string& error_;
};

}  // namespace

std::optional<CronField> parse_cron_field(std::string_view text, const CronFieldSpec& spec,
                                          std::string& error) {
  return FieldParser(spec, error).parse(text);
}

}  // namespace uasyncd::schedule::detail
