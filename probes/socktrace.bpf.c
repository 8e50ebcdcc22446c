// SPDX-License-Identifier: GPL-2.0
/*
 * socktrace's kernel side: TCP state changes, RSTs and socket errors, each stamped with the process
 * that owns the socket. This file holds every program; what they do lives in lib/, one header per
 * concern (see docs/ARCHITECTURE.md for the table).
 *
 * Why owners are kept: FINs and RSTs are handled in softirq, inside whatever task happens to run (the
 * peer on loopback, ksoftirqd, swapper), so the current task at a state change is not the owner. Owners
 * are learned only where the kernel runs in that owner's own process context (connect, listen, accept's
 * return, send, receive, close) and kept in a table keyed by the socket.
 *
 * Socket hooks exist twice: as tp_btf (typed arguments, socket cookies) and as a classic tracepoint for
 * kernels where tp_btf cannot attach; user space picks one per hook before load (autoload), so one
 * object serves both. The syscall hooks exist only as classic tracepoints.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "socktrace_event.h"
#include "lib/constants.bpf.h"
#include "lib/tunables.bpf.h"
#include "lib/task.bpf.h"
#include "lib/ring.bpf.h"
#include "lib/sock.bpf.h"
#include "lib/owners.bpf.h"
#include "lib/listeners.bpf.h"
#include "lib/stamp.bpf.h"
#include "lib/close_wait.bpf.h"
#include "lib/state_changes.bpf.h"
#include "lib/resets.bpf.h"
#include "lib/errors.bpf.h"
#include "lib/processes.bpf.h"
#include "lib/counts.bpf.h"
#include "lib/syscalls.bpf.h"
#include "lib/accepts.bpf.h"
#include "lib/peer_trouble.bpf.h"
#include "lib/listen_refusals.bpf.h"
#include "lib/compat.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Each socket hook as tp_btf (typed arguments) and as a classic tracepoint (a trace record). */

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(btf_inet_sock_set_state, const struct sock *sk, int oldstate, int newstate)
{
	on_state_change(sk, oldstate, newstate, true);
	return 0;
}

SEC("tracepoint/sock/inet_sock_set_state")
int tp_inet_sock_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	on_state_change((const struct sock *)ctx->skaddr, ctx->oldstate, ctx->newstate, false);
	return 0;
}

/* Raw ctx: the arguments differ by kernel version (see compat.bpf.h). */
SEC("tp_btf/tcp_send_reset")
int btf_tcp_send_reset(unsigned long long *ctx)
{
	on_send_reset((const struct sock *)ctx[0], (const struct sk_buff *)ctx[1], btf_send_reset_reason(ctx), true);
	return 0;
}

SEC("tracepoint/tcp/tcp_send_reset")
int tp_tcp_send_reset(void *ctx)
{
	if (bpf_core_type_exists(struct trace_event_raw_tcp_send_reset)) {
		struct trace_event_raw_tcp_send_reset *tp = ctx;
		int reason = -1;

		if (bpf_core_field_exists(tp->reason))
			reason = BPF_CORE_READ(tp, reason);
		on_send_reset((const struct sock *)tp->skaddr, (const struct sk_buff *)tp->skbaddr, reason, false);
	} else {
		struct trace_event_raw_tcp_event_sk_skb___before_6_10 *tp = ctx;

		on_send_reset((const struct sock *)tp->skaddr, (const struct sk_buff *)tp->skbaddr, -1, false);
	}
	return 0;
}

SEC("tp_btf/kfree_skb")
int btf_kfree_skb(unsigned long long *ctx)
{
	on_dropped_skb((const struct sk_buff *)ctx[0], (unsigned int)ctx[2], true);
	on_refused_ack((const struct sk_buff *)ctx[0], (unsigned int)ctx[2]);
	return 0;
}

SEC("tracepoint/skb/kfree_skb")
int tp_kfree_skb(struct trace_event_raw_kfree_skb *ctx)
{
	/* Read once: reloading a field at a computed offset from ctx is refused by the verifier. */
	const struct sk_buff *skb = (const struct sk_buff *)ctx->skbaddr;
	unsigned int reason = ctx->reason;

	barrier_var(skb);
	on_dropped_skb(skb, reason, false);
	on_refused_ack(skb, reason);
	return 0;
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(btf_tcp_receive_reset, struct sock *sk)
{
	on_receive_reset(sk, true);
	return 0;
}

SEC("tracepoint/tcp/tcp_receive_reset")
int tp_tcp_receive_reset(struct trace_event_raw_tcp_event_sk *ctx)
{
	on_receive_reset((const struct sock *)ctx->skaddr, false);
	return 0;
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(btf_tcp_retransmit_skb, const struct sock *sk)
{
	on_retransmit(sk, true);
	return 0;
}

/* The record differs by version (6.13 gave it its own, with err), but skaddr has stayed at offset 16. */
struct retransmit_record {
	unsigned long long common;
	const void *skbaddr;
	const void *skaddr;
};

SEC("tracepoint/tcp/tcp_retransmit_skb")
int tp_tcp_retransmit_skb(struct retransmit_record *ctx)
{
	on_retransmit((const struct sock *)ctx->skaddr, false);
	return 0;
}

/* tp_btf only: the classic record carries the error and addresses but not the socket, so no owner. */
SEC("tp_btf/inet_sk_error_report")
int BPF_PROG(btf_inet_sk_error_report, const struct sock *sk)
{
	on_error_report(sk, BPF_CORE_READ(sk, sk_err), true);
	return 0;
}

SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(btf_tcp_destroy_sock, struct sock *sk)
{
	on_destroy(sk, true);
	return 0;
}

SEC("tracepoint/tcp/tcp_destroy_sock")
int tp_tcp_destroy_sock(struct trace_event_raw_tcp_event_sk *ctx)
{
	on_destroy((const struct sock *)ctx->skaddr, false);
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(btf_sock_send_length, struct sock *sk, int ret, int flags)
{
	on_msg_length(sk, ret, SOCKTRACE_KIND_SEND_ERROR, true);
	return 0;
}

SEC("tracepoint/sock/sock_send_length")
int tp_sock_send_length(struct trace_event_raw_sock_msg_length *ctx)
{
	on_msg_length((const struct sock *)ctx->sk, ctx->ret, SOCKTRACE_KIND_SEND_ERROR, false);
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(btf_sock_recv_length, struct sock *sk, int ret, int flags)
{
	on_msg_length(sk, ret, SOCKTRACE_KIND_RECV_ERROR, true);
	return 0;
}

SEC("tracepoint/sock/sock_recv_length")
int tp_sock_recv_length(struct trace_event_raw_sock_msg_length *ctx)
{
	on_msg_length((const struct sock *)ctx->sk, ctx->ret, SOCKTRACE_KIND_RECV_ERROR, false);
	return 0;
}

/* Process hooks, twins too. */

SEC("tp_btf/sched_process_exit")
int BPF_PROG(btf_sched_process_exit, struct task_struct *task)
{
	on_process_exit(task, true);
	return 0;
}

/* sched_process_exit is always the exiting task's own: the current task. */
SEC("tracepoint/sched/sched_process_exit")
int tp_sched_process_exit(void *ctx)
{
	on_process_exit((struct task_struct *)bpf_get_current_task(), false);
	return 0;
}

/* The tracepoint runs before the new name is copied in: the name comes from its argument. */
SEC("tp_btf/task_rename")
int BPF_PROG(btf_task_rename, struct task_struct *task, const char *comm)
{
	if (task->pid == task->tgid)
		on_rename(task->pid, comm);
	return 0;
}

/* Keyed by tgid, owner_processes holds only leaders' pids: a thread's rename finds nothing there. */
SEC("tracepoint/task/task_rename")
int tp_task_rename(struct trace_event_raw_task_rename *ctx)
{
	on_rename(ctx->pid, ctx->newcomm);
	return 0;
}

/* Run by user space, never attached: the CLOSE_WAIT sweep over close_waits[first, end). */
SEC("raw_tp")
int sweep_close_waits(struct bpf_raw_tracepoint_args *ctx)
{
	unsigned long long first = ctx->args[SOCKTRACE_SWEEP_ARG_FIRST], end = ctx->args[SOCKTRACE_SWEEP_ARG_END];
	struct sweep_range range = { .first = (unsigned int)first, .now = bpf_ktime_get_ns() };
	unsigned int count = (unsigned int)(end - first);
	if (close_wait_delay_ns)
		bpf_loop(count, sweep_one, &range, 0);
	return 0;
}

/* Run by user space in each network namespace: every socket counted by owner and state. */
SEC("iter/tcp")
int count_sockets(struct bpf_iter__tcp *ctx)
{
	const struct sock *sk = (const struct sock *)ctx->sk_common;
	if (sk)
		count_socket(sk);
	return 0;
}

/* Syscall hooks: classic tracepoints only. accept's return: owners of accepted sockets, and accepts
 * that fail for want of a resource (accepts.bpf.h). */

SEC("tracepoint/syscalls/sys_exit_accept4")
int sys_exit_accept4(struct syscall_exit_record *ctx)
{
	on_accept_exit(ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int sys_exit_accept(struct syscall_exit_record *ctx)
{
	on_accept_exit(ctx->ret);
	return 0;
}

/* Errors at send/receive syscalls' exits, where sock_{send,recv}_length do not exist (before 6.3). */
#define SYSCALL_ERROR_HOOKS(name, kind)                                        \
	SEC("tracepoint/syscalls/sys_enter_" #name)                            \
	int sys_enter_##name(struct syscall_enter_record *ctx)                 \
	{                                                                      \
		remember_fd(ctx->args[0]);                                     \
		return 0;                                                      \
	}                                                                      \
	SEC("tracepoint/syscalls/sys_exit_" #name)                             \
	int sys_exit_##name(struct syscall_exit_record *ctx)                   \
	{                                                                      \
		on_syscall_exit(ctx->ret, kind);                               \
		return 0;                                                      \
	}

SYSCALL_ERROR_HOOKS(write, SOCKTRACE_KIND_SEND_ERROR)
SYSCALL_ERROR_HOOKS(writev, SOCKTRACE_KIND_SEND_ERROR)
SYSCALL_ERROR_HOOKS(sendto, SOCKTRACE_KIND_SEND_ERROR)
SYSCALL_ERROR_HOOKS(sendmsg, SOCKTRACE_KIND_SEND_ERROR)
SYSCALL_ERROR_HOOKS(sendmmsg, SOCKTRACE_KIND_SEND_ERROR)
SYSCALL_ERROR_HOOKS(read, SOCKTRACE_KIND_RECV_ERROR)
SYSCALL_ERROR_HOOKS(readv, SOCKTRACE_KIND_RECV_ERROR)
SYSCALL_ERROR_HOOKS(recvfrom, SOCKTRACE_KIND_RECV_ERROR)
SYSCALL_ERROR_HOOKS(recvmsg, SOCKTRACE_KIND_RECV_ERROR)
SYSCALL_ERROR_HOOKS(recvmmsg, SOCKTRACE_KIND_RECV_ERROR)
