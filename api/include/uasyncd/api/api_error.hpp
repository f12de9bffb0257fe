// The one vocabulary of error codes the HTTP API answers with, as
// {"error": {"code": CODE, "message": "..."}} (docs/http-api.md lists them):
//
//   400 invalid_json            the body is not JSON, or nests too deeply
//   400 invalid_spec            the spec was refused; the message names the JSON path
//   400 invalid_request         anything else wrong with the request: a query parameter, a
//                               timeout body, a missing body, a step id where a task is needed
//   401 unauthorized            no valid bearer token
//   403 forbidden               exec steps without --allow-exec
//   403 forbidden_host          a Host that is not this daemon's (DNS rebinding; --allow-host)
//   403 forbidden_origin        a state-changing request from another origin (--allow-origin)
//   404 not_found               no such task, step or route
//   405 method_not_allowed      the path exists, the method does not
//   409 conflict                not running (cancel), finished (timeout), not finished (delete)
//   413 payload_too_large       a body over 1 MiB
//   415 unsupported_media_type  a body that is not application/json
//   500 internal                a bug
//   503 unavailable             the loop or the store did not answer in time, too many streams
#pragma once

#include <string>

#include "uasyncd/service/job_error.hpp"

namespace uasyncd::api {

struct ApiError {
  int status = 400;
  std::string code;
  std::string message;
};

ApiError invalid_request(std::string message);
// The status and code of a service error (its message is kept).
ApiError api_error(const server::JobError& error);
// The code of a status cpp-httplib chose itself (an unknown route, a bad request line).
const char* code_for_status(int status);

}  // namespace uasyncd::api
