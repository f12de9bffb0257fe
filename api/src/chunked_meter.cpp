#include "uasyncd/api/chunked_meter.hpp"

#include <algorithm>

namespace uasyncd::api {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::size_t ChunkedMeter::feed(const char* data, std::size_t n) {
  std::size_t i = 0;
  while (i < n && verdict_ == Verdict::more) {
    const char c = data[i];
    switch (where_) {
      case Where::size:
      case Where::extension: {
        if (++line_ > kMaxLine) return fail(Verdict::malformed, i);
        if (c == '\r') {
          if (!digits_) return fail(Verdict::malformed, i);
          where_ = Where::size_lf;
        } else if (where_ == Where::extension) {
          // Extensions are skipped; cpp-httplib ignores them too.
        } else if (c == ';' || c == ' ' || c == '\t') {
          if (!digits_) return fail(Verdict::malformed, i);
          where_ = Where::extension;
        } else if (const int v = hex_value(c); v >= 0) {
          digits_ = true;
          if (chunk_size_ > (max_payload_ - payload_) / 16) return fail(Verdict::too_large, i);
          chunk_size_ = chunk_size_ * 16 + static_cast<std::uint64_t>(v);
          // Refused as soon as the declared size cannot fit: no byte of it is read.
          if (chunk_size_ > max_payload_ - payload_) return fail(Verdict::too_large, i);
        } else {
          return fail(Verdict::malformed, i);
        }
        ++i;
        break;
      }
      case Where::size_lf:
        if (c != '\n') return fail(Verdict::malformed, i);
        ++i;
        chunk_left_ = chunk_size_;
        where_ = chunk_size_ == 0 ? Where::last_cr : Where::data;
        chunk_size_ = 0;
        line_ = 0;
        digits_ = false;
        break;
      case Where::data: {
        const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_left_, n - i));
        chunk_left_ -= take;
        payload_ += take;
        i += take;
        if (chunk_left_ == 0) where_ = Where::data_cr;
        break;
      }
      case Where::data_cr:
      case Where::last_cr:
        // No trailer fields: cpp-httplib reads none either.
        if (c != '\r') return fail(Verdict::malformed, i);
        where_ = where_ == Where::data_cr ? Where::data_lf : Where::last_lf;
        ++i;
        break;
      case Where::data_lf:
        if (c != '\n') return fail(Verdict::malformed, i);
        where_ = Where::size;
        ++i;
        break;
      case Where::last_lf:
        if (c != '\n') return fail(Verdict::malformed, i);
        verdict_ = Verdict::done;
        ++i;
        break;
    }
  }
  return i;
}

}  // namespace uasyncd::api
