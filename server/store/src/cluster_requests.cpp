#include "cluster_requests.hpp"

#include <charconv>
#include <system_error>

namespace uasyncd::server {
namespace {

// Reads a decimal number and the one space after it (none at the end when `last`).
template <class T>
bool take_number(std::string_view& text, T& out, bool last = false) {
  const char* end = text.data() + text.size();
  auto [after, error] = std::from_chars(text.data(), end, out);
  if (error != std::errc() || after == text.data()) return false;
  text.remove_prefix(static_cast<std::size_t>(after - text.data()));
  if (last) return text.empty();
  if (text.empty() || text.front() != ' ') return false;
  text.remove_prefix(1);
  return true;
}

bool take_word(std::string_view& text, std::string_view word) {
  if (text.substr(0, word.size()) != word) return false;
  text.remove_prefix(word.size());
  return true;
}

// A code is a short word of lower-case letters and underscores, as the answering side sends.
bool is_code(std::string_view code) {
  if (code.empty() || code.size() > 32) return false;
  for (char c : code) {
    if (!((c >= 'a' && c <= 'z') || c == '_')) return false;
  }
  return true;
}

std::string_view kind_word(RemoteRequest::Kind kind) {
  return kind == RemoteRequest::Kind::timeout ? "timeout" : "cancel_step";
}

}  // namespace

std::string format_request(const OwnerRequest& r) {
  std::string out = std::to_string(r.owner);
  out += ' ';
  out += kind_word(r.request.kind);
  out += ' ';
  out += std::to_string(r.request.id);
  out += ' ';
  out += std::to_string(r.request.value);
  out += ' ';
  out += std::to_string(r.request.from);
  out += ' ';
  out += std::to_string(r.request.nonce);
  return out;
}

std::string format_answer(const RequestAnswer& a) {
  std::string out = std::to_string(a.to);
  out += " answer ";
  out += std::to_string(a.nonce);
  out += ' ';
  out += a.code;
  if (!a.message.empty()) {
    out += ' ';
    // One line, and well under a NOTIFY's 8000 bytes.
    for (char c : a.message.substr(0, 1000))
      out += c == '\n' || c == '\r' ? ' ' : c;
  }
  return out;
}

std::optional<OwnerRequest> parse_request(std::string_view payload) {
  OwnerRequest r;
  if (!take_number(payload, r.owner)) return std::nullopt;
  if (take_word(payload, "timeout ")) {
    r.request.kind = RemoteRequest::Kind::timeout;
  } else if (take_word(payload, "cancel_step ")) {
    r.request.kind = RemoteRequest::Kind::cancel_step;
  } else {
    return std::nullopt;
  }
  if (!take_number(payload, r.request.id) || !take_number(payload, r.request.value) ||
      !take_number(payload, r.request.from) || !take_number(payload, r.request.nonce, true) ||
      r.request.value < 0) {
    return std::nullopt;
  }
  return r;
}

std::optional<RequestAnswer> parse_answer(std::string_view payload) {
  RequestAnswer a;
  if (!take_number(payload, a.to) || !take_word(payload, "answer ") ||
      !take_number(payload, a.nonce)) {
    return std::nullopt;
  }
  const std::size_t space = payload.find(' ');
  a.code = std::string(payload.substr(0, space));
  if (!is_code(a.code)) return std::nullopt;
  if (space != std::string_view::npos) a.message = std::string(payload.substr(space + 1));
  return a;
}

}  // namespace uasyncd::server
