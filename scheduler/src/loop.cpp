#include "uasyncio/loop.hpp"

#include <cxxabi.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "uasyncio/coro.hpp"
#include "uasyncio/errors.hpp"
#include "uasyncio/task.hpp"

namespace uasyncio {
namespace {

Coro<void> stopper() {
  co_return;
}

}  // namespace

Loop::Loop() = default;
Loop::~Loop() = default;

void Loop::run_forever() {
  Task<void> stop_task = [&] {
    auto h = stopper().release();
    detail::Promise<void>& p = h.promise();
    p.is_task = true;
    p.resume_point = h;
    return Task<void>(&p);
  }();
  stop_task_ = stop_task.header();
  struct Clear {
    Loop& loop;
    ~Clear() { loop.stop_task_ = nullptr; }
  } clear{*this};
  scheduler_.run_until_finished(stop_task.header());
}

void Loop::stop() {
  if (stop_task_ == nullptr) return;
  detail::intrusive_add_ref(stop_task_);  // the scheduler's reference while it is queued
  scheduler_.schedule_now(stop_task_);
  stop_task_ = nullptr;
}

void Loop::call_exception_handler(const ExceptionContext& context) {
  if (handler_) {
    handler_(*this, context);
  } else {
    default_exception_handler(*this, context);
  }
}

void Loop::default_exception_handler(Loop&, const ExceptionContext& context) {
  const ErrorClass error = classify(context.exception);
  // The C++ type, demangled (the Python name alone would hide which class it was).
  std::string type = "unknown exception";
  if (const std::type_info* ti = error.cxx_type) {
    int status = 0;
    std::unique_ptr<char, void (*)(void*)> name(
        abi::__cxa_demangle(ti->name(), nullptr, nullptr, &status), std::free);
    type = status == 0 && name ? name.get() : ti->name();
  }
  const std::string what(error.exception != nullptr ? error.exception->what() : "");
  std::fprintf(stderr, "%s\nfuture: <Task %p>\n%s: %s\n", context.message.c_str(),
               static_cast<const void*>(context.future.header()), type.c_str(), what.c_str());
  std::fflush(stderr);
}

namespace {
thread_local std::unique_ptr<Loop> owned_loop;
}

Loop& get_event_loop() {
  if (!owned_loop) {
    owned_loop = std::make_unique<Loop>();
    if (detail::this_thread_scheduler == nullptr) {
      detail::this_thread_scheduler = &detail::default_scheduler();
    }
  }
  return *owned_loop;
}

Loop& new_event_loop() {
  Loop& loop = get_event_loop();
  loop.scheduler_.reset();
  return loop;
}

std::int64_t ticks_ms() {
  return detail::current_scheduler().time_ms();
}

}  // namespace uasyncio
