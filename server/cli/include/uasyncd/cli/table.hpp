// A plain-text table: a header row, then columns padded to their widest cell, two spaces apart.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "uasyncd/cli/output.hpp"

namespace uasyncd::cli {

struct Cell {
  std::string text;  // made printable and cut to the column limit by Table
  Color color = Color::none;
};

// Rows are held until render(): widths depend on every row. Use from one thread.
class Table {
 public:
  // `max_width`: a cell wider than this many columns is cut, ending in "…".
  explicit Table(std::vector<std::string> headers, std::size_t max_width = 48);
  void add_row(std::vector<Cell> cells);
  bool empty() const { return rows_.empty(); }
  // The header and every row, each line ending in '\n' and without trailing spaces; colours as
  // `out` allows them (escape sequences take no width).
  std::string render(const Output& out) const;

 private:
  std::vector<std::string> headers_;
  std::size_t max_width_;
  std::vector<std::vector<Cell>> rows_;
};

}  // namespace uasyncd::cli
