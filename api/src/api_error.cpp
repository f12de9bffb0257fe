#include "uasyncd/api/api_error.hpp"

#include <utility>

namespace uasyncd::api {

using server::JobErrorCode;

ApiError invalid_request(std::string message) {
  return {400, "invalid_request", std::move(message)};
}

ApiError api_error(const server::JobError& e) {
  switch (e.code) {
    case JobErrorCode::not_found:
    case JobErrorCode::not_live:  // never leaves the bridge; as a last resort it means "gone"
      return {404, "not_found", e.message};
    case JobErrorCode::invalid:
      return invalid_request(e.message);
    case JobErrorCode::invalid_spec:
      return {400, "invalid_spec", e.message};
    case JobErrorCode::forbidden:
      return {403, "forbidden", e.message};
    case JobErrorCode::not_running:
    case JobErrorCode::finished:
    case JobErrorCode::not_finished:
      return {409, "conflict", e.message};
    case JobErrorCode::key_in_use:
    case JobErrorCode::exists:
      return {409, "conflict", e.message};
    case JobErrorCode::key_reused:
      return {422, "idempotency_key_reused", e.message};
    case JobErrorCode::unavailable:
      return {503, "unavailable", e.message};
    case JobErrorCode::internal:
      return {500, "internal", e.message};
  }
  return {500, "internal", e.message};
}

const char* code_for_status(int status) {
  switch (status) {
    case 400:
      return "invalid_request";
    case 401:
      return "unauthorized";
    case 403:
      return "forbidden";
    case 404:
      return "not_found";
    case 405:
      return "method_not_allowed";
    case 409:
      return "conflict";
    case 413:
      return "payload_too_large";
    case 415:
      return "unsupported_media_type";
    case 503:
      return "unavailable";
    default:
      return "internal";
  }
}

}  // namespace uasyncd::api
