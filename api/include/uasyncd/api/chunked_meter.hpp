// Follows a chunked request body (RFC 9112 section 7.1) as its bytes are handed to
// cpp-httplib, which parses chunks itself but with no size limit, no bound on a chunk-size
// line, and a lenient grammar. The meter stops the bytes at the first one past the payload
// limit, refuses what the grammar does not allow, and knows where the body ends, so that the
// connection can be reused only when it was read to its end.
#pragma once

#include <cstddef>
#include <cstdint>

namespace uasyncd::api {

class ChunkedMeter {
 public:
  enum class Verdict {
    more,       // inside the body
    done,       // the last chunk and its final CRLF have passed
    malformed,  // not chunked framing (or a chunk-size line past kMaxLine bytes)
    too_large,  // the payload would pass the limit
  };
  // Chunk extensions and the size make up a line; longer ones are refused.
  static constexpr std::size_t kMaxLine = 1024;

  explicit ChunkedMeter(std::uint64_t max_payload) : max_payload_(max_payload) {}

  // Follows up to `n` more body bytes; returns how many of them belong to a well-formed body
  // within the limit (all of them, unless verdict() is no longer `more`). Bytes after `done` are
  // not the body's and are not taken.
  std::size_t feed(const char* data, std::size_t n);
  Verdict verdict() const { return verdict_; }
  std::uint64_t payload() const { return payload_; }

 private:
  enum class Where { size, extension, size_lf, data, data_cr, data_lf, last_cr, last_lf };
  std::size_t fail(Verdict v, std::size_t taken) {
    verdict_ = v;
    return taken;
  }

  std::uint64_t max_payload_;
  std::uint64_t payload_ = 0;
  std::uint64_t chunk_left_ = 0;
  std::uint64_t chunk_size_ = 0;
  std::size_t line_ = 0;  // bytes of the current chunk-size line so far
  bool digits_ = false;   // the size line has a hex digit
  Where where_ = Where::size;
  Verdict verdict_ = Verdict::more;
};

}  // namespace uasyncd::api
