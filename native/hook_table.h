// The kernel hooks socktrace has, their fallbacks, and what a hook misses on the running kernel.
#pragma once
#include <string>
#include <vector>

#include "hook_plan.h"

struct socktrace_bpf;
struct btf;

namespace socktrace {

// What hooks that exist still miss on this kernel, so their fallbacks attach beside them.
struct KernelGaps {
  bool send_reset_needs_socket = false;  // tcp_send_reset before 6.10: full sockets only
  bool names_refused_handshakes = false;  // 6.15+: a final ACK refused for a full accept queue is a drop with a reason
};

// Reads the gaps from vmlinux BTF (or, when `vmlinux` is null, the tracepoint's format). `pretend_missing`
// may name "tcp_send_reset.no_socket" to plan as if tcp_send_reset needed a socket (to exercise the fallback).
KernelGaps KernelGapsOf(const btf* vmlinux, const std::string& tracefs, const std::vector<std::string>& pretend_missing);

// Every hook, primaries before the fallbacks that stand in for them (PlanHooks relies on that order).
std::vector<HookSpec> HookSpecs(socktrace_bpf* skel, const KernelGaps& gaps);

}  // namespace socktrace
