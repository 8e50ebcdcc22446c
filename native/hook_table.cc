#include "hook_table.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "socktrace.skel.h"

namespace socktrace {

namespace {

// 6.10 made tcp_send_reset an event of its own, fired with or without a socket (addresses as sockaddrs);
// before, it was a tcp_event_sk_skb event with saddr_v6/daddr_v6 fields, fired only with a full socket.
bool SendResetNeedsSocket(const btf* vmlinux, const std::string& tracefs) {
  if (vmlinux != nullptr) return btf__find_by_name_kind(vmlinux, "trace_event_raw_tcp_send_reset", BTF_KIND_STRUCT) < 0;
  std::ifstream format(tracefs + "/events/tcp/tcp_send_reset/format");
  std::stringstream text;
  text << format.rdbuf();
  return text.str().find("saddr_v6") != std::string::npos;
}

// 6.15 gave a final ACK refused for a full accept queue its own drop reason, TCP_LISTEN_OVERFLOW: the one
// overflow whose client the kernel names.
bool NamesRefusedHandshakes(const btf* vmlinux, const std::string& tracefs) {
  if (vmlinux != nullptr) {
    int id = btf__find_by_name_kind(vmlinux, "skb_drop_reason", BTF_KIND_ENUM);
    if (id < 0) return false;
    const btf_type* t = btf__type_by_id(vmlinux, id);
    const struct btf_enum* values = btf_enum(t);
    for (int i = 0; i < btf_vlen(t); i++)
      if (std::string(btf__name_by_offset(vmlinux, values[i].name_off)) == "SKB_DROP_REASON_TCP_LISTEN_OVERFLOW") return true;
    return false;
  }
  std::ifstream format(tracefs + "/events/skb/kfree_skb/format");
  std::stringstream text;
  text << format.rdbuf();
  return text.str().find("\"TCP_LISTEN_OVERFLOW\"") != std::string::npos;
}

}  // namespace

KernelGaps KernelGapsOf(const btf* vmlinux, const std::string& tracefs, const std::vector<std::string>& pretend_missing) {
  KernelGaps gaps;
  bool pretended = std::find(pretend_missing.begin(), pretend_missing.end(), "tcp_send_reset.no_socket") !=
                   pretend_missing.end();
  gaps.send_reset_needs_socket = pretended || SendResetNeedsSocket(vmlinux, tracefs);
  gaps.names_refused_handshakes = NamesRefusedHandshakes(vmlinux, tracefs);
  return gaps;
}

std::vector<HookSpec> HookSpecs(socktrace_bpf* skel, const KernelGaps& gaps) {
  auto& p = skel->progs;
  std::vector<HookSpec> hooks = {
      {"inet_sock_set_state", "sock", p.btf_inet_sock_set_state, p.tp_inet_sock_set_state, true},
      {"tcp_send_reset", "tcp", p.btf_tcp_send_reset, p.tp_tcp_send_reset, false},
      {"tcp_receive_reset", "tcp", p.btf_tcp_receive_reset, p.tp_tcp_receive_reset, false},
      {"tcp_destroy_sock", "tcp", p.btf_tcp_destroy_sock, p.tp_tcp_destroy_sock, false},
      {"sock_send_length", "sock", p.btf_sock_send_length, p.tp_sock_send_length, false},
      {"sock_recv_length", "sock", p.btf_sock_recv_length, p.tp_sock_recv_length, false},
      {"sys_exit_accept4", "syscalls", nullptr, p.sys_exit_accept4, false},
      {"sys_exit_accept", "syscalls", nullptr, p.sys_exit_accept, false},
      // Owners end with their process; without this an exited owner could be named (see living()).
      {"sched_process_exit", "sched", p.btf_sched_process_exit, p.tp_sched_process_exit, true},
      {"task_rename", "task", p.btf_task_rename, p.tp_task_rename, false},
      {"tcp_retransmit_skb", "tcp", p.btf_tcp_retransmit_skb, p.tp_tcp_retransmit_skb, false},
      // tp_btf only: the classic record has no socket to find the owner by.
      {"inet_sk_error_report", "sock", p.btf_inet_sk_error_report, nullptr, false},
  };
  // Before 6.10 tcp_send_reset fires only for full sockets: an RST answering a segment no socket takes
  // is seen as that segment's drop instead (see on_dropped_skb). Since 6.15 the drops also name the
  // clients a full accept queue refused (see on_refused_ack), wanted whatever tcp_send_reset does.
  HookSpec drops{"kfree_skb", "skb", p.btf_kfree_skb, p.tp_kfree_skb, false};
  drops.fallback_for = "tcp_send_reset";
  drops.primary_gap = gaps.send_reset_needs_socket ? "RSTs sent without a socket" : nullptr;
  drops.own_use = gaps.names_refused_handshakes ? "clients refused by a full accept queue (attached while queues overflow)" : nullptr;
  hooks.push_back(drops);
  // Kernels without sock_{send,recv}_length (before 6.3): errors caught at the syscalls' exits instead.
  const struct {
    const char* name;
    bpf_program* prog;
    const char* primary;
  } syscall_fallbacks[] = {
      {"sys_enter_write", p.sys_enter_write, "sock_send_length"},
      {"sys_exit_write", p.sys_exit_write, "sock_send_length"},
      {"sys_enter_writev", p.sys_enter_writev, "sock_send_length"},
      {"sys_exit_writev", p.sys_exit_writev, "sock_send_length"},
      {"sys_enter_sendto", p.sys_enter_sendto, "sock_send_length"},
      {"sys_exit_sendto", p.sys_exit_sendto, "sock_send_length"},
      {"sys_enter_sendmsg", p.sys_enter_sendmsg, "sock_send_length"},
      {"sys_exit_sendmsg", p.sys_exit_sendmsg, "sock_send_length"},
      {"sys_enter_sendmmsg", p.sys_enter_sendmmsg, "sock_send_length"},
      {"sys_exit_sendmmsg", p.sys_exit_sendmmsg, "sock_send_length"},
      {"sys_enter_read", p.sys_enter_read, "sock_recv_length"},
      {"sys_exit_read", p.sys_exit_read, "sock_recv_length"},
      {"sys_enter_readv", p.sys_enter_readv, "sock_recv_length"},
      {"sys_exit_readv", p.sys_exit_readv, "sock_recv_length"},
      {"sys_enter_recvfrom", p.sys_enter_recvfrom, "sock_recv_length"},
      {"sys_exit_recvfrom", p.sys_exit_recvfrom, "sock_recv_length"},
      {"sys_enter_recvmsg", p.sys_enter_recvmsg, "sock_recv_length"},
      {"sys_exit_recvmsg", p.sys_exit_recvmsg, "sock_recv_length"},
      {"sys_enter_recvmmsg", p.sys_enter_recvmmsg, "sock_recv_length"},
      {"sys_exit_recvmmsg", p.sys_exit_recvmmsg, "sock_recv_length"},
  };
  for (const auto& f : syscall_fallbacks) {
    HookSpec spec{f.name, "syscalls", nullptr, f.prog, false};
    spec.fallback_for = f.primary;
    hooks.push_back(spec);
  }
  return hooks;
}

}  // namespace socktrace
