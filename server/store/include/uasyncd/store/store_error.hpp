// Why a store cannot be used; the message names the file.
#pragma once

#include <stdexcept>

namespace uasyncd::server {

class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace uasyncd::server
