#pragma once

namespace uasyncd::server {
inline constexpr const char* kVersion = "0.1.0";
}
