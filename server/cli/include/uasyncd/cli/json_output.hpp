// JSON as the client prints it: what `-o json` and `-o jsonl` mean for one record and for a list.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "uasyncd/cli/output.hpp"

namespace uasyncd::cli {

// One document and a newline: indented over several lines for Format::json, on one line for
// Format::jsonl. Invalid UTF-8 (from a process's output) is replaced, never fatal.
std::string json_text(const nlohmann::json& doc, Format format);

// A list printed item by item, so a long one (ls --all) is never held whole: one JSON array for
// Format::json, one line per item for Format::jsonl. Use from one thread; call finish() once.
class JsonListWriter {
 public:
  JsonListWriter(const Output& out, Format format) : out_(out), format_(format) {}
  void add(const nlohmann::json& item);
  void finish();

 private:
  const Output& out_;
  Format format_;
  bool empty_ = true;
};

}  // namespace uasyncd::cli
