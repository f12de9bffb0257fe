#include "exec_step.hpp"

#include <signal.h>

#include "uasyncd/exec/supervisor_client.hpp"

#include <exception>
#include <stdexcept>
#include <string>
#include <utility>

namespace uasyncd::server {
namespace {

namespace ua = uasyncio;
namespace ux = uasyncd::exec;
using RunPtr = std::shared_ptr<JobRunner::Run>;

constexpr std::ptrdiff_t kReadChunk = 64 * 1024;

// Passes on the kept output as it arrives, holding back a UTF-8 sequence split by the pipe.
void publish(JobRunner::Run& run, std::size_t index, bool is_stderr, bool at_eof) {
  StreamCapture& cap = run.job->exec(index)->stream(is_stderr);
  const std::string_view fresh = std::string_view(cap.kept()).substr(cap.published);
  const std::size_t n = at_eof ? fresh.size() : utf8_complete_prefix(fresh);
  if (n == 0) return;
  cap.published += n;
  if (run.hooks->output) run.hooks->output(*run.job, index, is_stderr, fresh.substr(0, n));
}

ua::Coro<void> pump(RunPtr run, std::size_t index, ua::Stream stream, bool is_stderr) {
  for (;;) {
    const std::string chunk = co_await stream.read(kReadChunk);
    if (chunk.empty()) break;
    // Past the cap the pipe is still drained, or the child would block writing to it.
    if (!run->job->exec(index)->stream(is_stderr).append(chunk).empty()) {
      publish(*run, index, is_stderr, false);
    }
  }
  publish(*run, index, is_stderr, true);
}

ua::Coro<int> wait_exit(ux::ExecProcess* p) {
  co_return co_await p->wait();
}

// True if the child has exited within `ms` (CancelledError if this task is cancelled meanwhile).
ua::Coro<bool> exited_within(ux::ExecProcess* p, std::int64_t ms) {
  if (p->returncode()) co_return true;
  try {
    co_await ua::wait_for_ms(wait_exit(p), ms);
    co_return true;
  } catch (const ua::TimeoutError&) {
  }
  co_return false;
}

// SIGTERM to the group, up to `grace_ms` for the child to exit, then SIGKILL to whatever is
// left of the group (members that outlived the child included), and a moment to reap the child.
// A cancel while waiting skips the rest of the grace.
ua::Coro<void> stop_group(ux::ExecProcess* p, std::int64_t grace_ms) {
  constexpr std::int64_t kReapMs = 1000;
  p->terminate();
  bool interrupted = false;
  try {
    co_await exited_within(p, grace_ms);
  } catch (const ua::CancelledError&) {
    interrupted = true;
  }
  p->kill();
  if (!interrupted) co_await exited_within(p, kReapMs);
  if (interrupted) throw ua::CancelledError();
}

void record_exit(ExecOutput& out, const ux::ExecProcess& p) {
  if (std::optional<ua::ExitStatus> st = p.exit_status()) {
    out.exit_code = st->signaled() ? std::nullopt : std::optional<int>(st->exit_code);
    out.term_signal = st->term_signal;
  }
}

std::string failure_message(const std::string& program, const ExecOutput& out) {
  if (out.term_signal != 0) {
    return "'" + program + "' was killed by signal " + std::to_string(out.term_signal);
  }
  return "'" + program + "' exited with status " + std::to_string(out.exit_code.value_or(-1));
}

}  // namespace

ua::Coro<nlohmann::json> run_exec(RunPtr run, std::size_t index) {
  const ExecStep& step = std::get<ExecStep>(run->job->step(index).spec().kind);
  if (!run->allow_exec) {
    throw std::runtime_error(
        "exec steps need the daemon to run with --allow-exec (this one was "
        "stored by a daemon that allowed them)");
  }
  // The exec supervisor forks and execs (never this loop's thread), runs the command in its own
  // session with stdin on /dev/null and the allow-listed environment, and kills whatever the
  // command left behind when it exits.
  ux::SupervisorClient* supervisor = ux::SupervisorClient::current();
  if (supervisor == nullptr) throw std::runtime_error("exec steps need the exec supervisor");
  // Named, not a temporary in the co_await: g++ 12 may free such a temporary twice.
  ux::ExecRequest request{step.argv, step.cwd, step.env};
  ux::ExecProcess proc = co_await supervisor->spawn(std::move(request));
  ExecOutput& out = run->job->start_exec(index);
  out.pid = proc.pid();
  out.running = true;
  // Whatever ends this frame (even a loop dropping it unfinished) takes the group down with it.
  struct KillOnExit {
    ux::ExecProcess& proc;
    ExecOutput& out;
    ~KillOnExit() {
      if (!out.running) return;
      out.running = false;
      proc.kill();
    }
  } guard{proc, out};

  ua::Task<void> out_pump = ua::create_task(pump(run, index, proc.stdout_stream(), false));
  ua::Task<void> err_pump = ua::create_task(pump(run, index, proc.stderr_stream(), true));
  std::exception_ptr cancelled;
  try {
    co_await proc.wait();
    co_await out_pump;
    co_await err_pump;
  } catch (const ua::CancelledError&) {
    cancelled = std::current_exception();
  }
  if (cancelled) {
    try {
      co_await stop_group(&proc, run->exec_kill_grace_ms);
    } catch (const ua::CancelledError&) {  // cancelled again: stop_group has already killed it
    }
    if (!out_pump.done()) out_pump.cancel();
    if (!err_pump.done()) err_pump.cancel();
    record_exit(out, proc);
    out.running = false;
    std::rethrow_exception(cancelled);
  }
  record_exit(out, proc);
  out.running = false;
  nlohmann::json result = out.result_json();
  if (out.exit_code != 0) throw ExecFailure(failure_message(step.argv[0], out), std::move(result));
  co_return result;
}

void kill_running_execs(Job& job) {
  ux::SupervisorClient* supervisor = ux::SupervisorClient::current();
  for (std::size_t i = 0; i < job.steps().size(); ++i) {
    ExecOutput* out = job.exec(i);
    if (out != nullptr && out->running && out->pid > 0) {
      if (supervisor != nullptr) supervisor->signal_pid(out->pid, SIGKILL);
      out->running = false;
    }
  }
}

}  // namespace uasyncd::server
