#include "uasyncd/cli/safe_text.hpp"

namespace uasyncd::cli {
namespace {

// The length of the valid UTF-8 sequence starting at text[i] (its code point in `cp`), or 0 if
// there is none.
std::size_t sequence_length(std::string_view text, std::size_t i, unsigned& cp) {
  const auto c = static_cast<unsigned char>(text[i]);
  cp = c;
  if (c < 0x80) return 1;
  struct Lead {
    unsigned char mask, value, bits;
    std::size_t length;
    unsigned min;  // below it the sequence is an overlong encoding
  };
  static constexpr Lead kLeads[] = {
      {0xE0, 0xC0, 0x1F, 2, 0x80}, {0xF0, 0xE0, 0x0F, 3, 0x800}, {0xF8, 0xF0, 0x07, 4, 0x10000}};
  const Lead* lead = nullptr;
  for (const Lead& l : kLeads) {
    if ((c & l.mask) == l.value) lead = &l;
  }
  if (lead == nullptr) return 0;
  const std::size_t n = lead->length;
  const unsigned min = lead->min;
  cp = c & lead->bits;
  if (i + n > text.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    const auto cc = static_cast<unsigned char>(text[i + k]);
    if ((cc & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

}  // namespace

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    unsigned cp = 0;
    const std::size_t n = sequence_length(text, i, cp);
    // C0, DEL and C1 controls (CSI, U+009B, starts an escape sequence on some terminals).
    if (n == 0 || cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
      out += '?';
      i += n == 0 ? 1 : n;
      continue;
    }
    out.append(text.substr(i, n));
    i += n;
  }
  return out;
}

std::size_t display_width(std::string_view text) {
  std::size_t width = 0;
  for (char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++width;
  }
  return width;
}

std::string truncate_to_width(std::string_view text, std::size_t width) {
  if (display_width(text) <= width) return std::string(text);
  if (width == 0) return "";
  std::string out;
  std::size_t used = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const bool lead = (static_cast<unsigned char>(text[i]) & 0xC0) != 0x80;
    if (lead && ++used == width) break;
    out += text[i];
  }
  return out + "…";
}

}  // namespace uasyncd::cli
