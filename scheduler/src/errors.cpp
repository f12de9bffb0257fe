#include "uasyncio/errors.hpp"

#include <cxxabi.h>

#include "uasyncio/os_error.hpp"
#include "uasyncio/queue.hpp"

namespace uasyncio {

std::string_view ErrorClass::message() const noexcept {
  if (exception == nullptr || kind == ErrorKind::cancelled) return {};
  if (dynamic_cast<const TimeoutError*>(exception) != nullptr) return {};
  return exception->what();
}

namespace {
// Completes a classification inside the catch block that made it.
ErrorClass in_catch(ErrorClass c) noexcept {
  c.cxx_type = abi::__cxa_current_exception_type();
  return c;
}
}  // namespace

ErrorClass classify(const std::exception_ptr& e) noexcept {
  if (!e) return {};
  try {
    std::rethrow_exception(e);
  } catch (const CancelledError&) {
    return in_catch({ErrorKind::cancelled, "CancelledError", nullptr, nullptr});
  } catch (const TimeoutError& x) {
    return in_catch({ErrorKind::exception, "TimeoutError", &x, nullptr});
  } catch (const RuntimeError& x) {
    return in_catch({ErrorKind::exception, "RuntimeError", &x, nullptr});
  } catch (const ValueError& x) {
    return in_catch({ErrorKind::exception, "ValueError", &x, nullptr});
  } catch (const EOFError& x) {
    return in_catch({ErrorKind::exception, "EOFError", &x, nullptr});
  } catch (const QueueEmpty& x) {
    return in_catch({ErrorKind::exception, "QueueEmpty", &x, nullptr});
  } catch (const QueueFull& x) {
    return in_catch({ErrorKind::exception, "QueueFull", &x, nullptr});
  } catch (const BrokenPipeError& x) {
    return in_catch({ErrorKind::exception, "BrokenPipeError", &x, nullptr});
  } catch (const ConnectionResetError& x) {
    return in_catch({ErrorKind::exception, "ConnectionResetError", &x, nullptr});
  } catch (const ConnectionRefusedError& x) {
    return in_catch({ErrorKind::exception, "ConnectionRefusedError", &x, nullptr});
  } catch (const ConnectionAbortedError& x) {
    return in_catch({ErrorKind::exception, "ConnectionAbortedError", &x, nullptr});
  } catch (const ConnectionError& x) {
    return in_catch({ErrorKind::exception, "ConnectionError", &x, nullptr});
  } catch (const GaiError& x) {
    return in_catch({ErrorKind::exception, "gaierror", &x, nullptr});
  } catch (const OSError& x) {
    return in_catch({ErrorKind::exception, "OSError", &x, nullptr});
  } catch (const std::exception& x) {
    return in_catch({ErrorKind::exception, "Exception", &x, nullptr});
  } catch (...) {
    return in_catch({ErrorKind::other, "BaseException", nullptr, nullptr});
  }
}

}  // namespace uasyncio
