// Finding and ending the processes below this one. The supervisor and every keeper are child
// subreapers (PR_SET_CHILD_SUBREAPER): an orphan below them is reparented to the nearest one
// instead of init, so "my children" eventually covers every descendant, including those that
// left their process group or session (setsid, double fork). When a process has no children at
// all, nothing below it is left: a dying parent hands its children over before it turns zombie.
//
// Thread rules: call in a single-threaded process (the supervisor or a keeper): they reap
// children and must not race another waitpid.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <vector>

namespace uasyncd::exec::detail {

// This process's children, zombies included (from /proc/self/task/*/children, or a scan of
// /proc when the kernel lacks that file).
std::vector<pid_t> own_children();

// SIGKILL to `pid`'s process group (unless it is `spare_group`, ours, or a group id <= 1) and to
// `pid` itself. `pid` must be an unreaped child, so neither id can belong to anyone else yet.
void kill_child_and_group(pid_t pid, pid_t spare_group);

// Kills every child (and its process group) and reaps them, again and again as orphans arrive,
// until this process has no child left, `keep_going` says no, or `limit` has passed. `on_reaped`
// sees each reaped pid and its wait status. Returns true when no child is left.
template <class Reaped, class KeepGoing>
bool kill_all_children(pid_t spare_group, std::chrono::milliseconds limit, Reaped on_reaped,
                       KeepGoing keep_going);

// One pass of the above: kills the current children; reaps whatever has exited. True when
// waitpid says there is no child at all.
template <class Reaped>
bool kill_and_reap_once(pid_t spare_group, Reaped on_reaped);

}  // namespace uasyncd::exec::detail

#include "process_tree_impl.hpp"
