#include "uasyncd/cli/table.hpp"

#include <algorithm>
#include <utility>

#include "uasyncd/cli/safe_text.hpp"

namespace uasyncd::cli {

Table::Table(std::vector<std::string> headers, std::size_t max_width)
    : headers_(std::move(headers)), max_width_(max_width) {}

void Table::add_row(std::vector<Cell> cells) {
  cells.resize(headers_.size());
  for (Cell& c : cells)
    c.text = truncate_to_width(printable(c.text), max_width_);
  rows_.push_back(std::move(cells));
}

std::string Table::render(const Output& out) const {
  std::vector<std::size_t> widths(headers_.size());
  for (std::size_t i = 0; i < headers_.size(); ++i) {
    widths[i] = display_width(headers_[i]);
    for (const auto& row : rows_)
      widths[i] = std::max(widths[i], display_width(row[i].text));
  }
  std::string text;
  const auto append_row = [&](const std::vector<Cell>& row) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += out.paint(row[i].text, row[i].color);
      if (i + 1 < row.size()) line.append(widths[i] - display_width(row[i].text) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ')
      line.pop_back();
    text += line + "\n";
  };
  std::vector<Cell> header;
  for (const std::string& h : headers_)
    header.push_back({h, Color::bold});
  append_row(header);
  for (const auto& row : rows_)
    append_row(row);
  return text;
}

}  // namespace uasyncd::cli
