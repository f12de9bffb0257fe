#include "uasyncd/cli/json_output.hpp"

namespace uasyncd::cli {
namespace {

std::string dump(const nlohmann::json& doc, int indent) {
  return doc.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

// `text` with every line after the first indented by two spaces, to nest it in an array.
std::string indent_lines(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    out += c;
    if (c == '\n') out += "  ";
  }
  return out;
}

}  // namespace

std::string json_text(const nlohmann::json& doc, Format format) {
  return dump(doc, format == Format::jsonl ? -1 : 2) + "\n";
}

void JsonListWriter::add(const nlohmann::json& item) {
  if (format_ == Format::jsonl) {
    out_.out(dump(item, -1) + "\n");
  } else {
    out_.out((empty_ ? "[\n  " : ",\n  ") + indent_lines(dump(item, 2)));
  }
  empty_ = false;
}

void JsonListWriter::finish() {
  if (format_ == Format::jsonl) return;
  out_.out(empty_ ? "[]\n" : "\n]\n");
}

}  // namespace uasyncd::cli
