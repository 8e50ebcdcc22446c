/* SPDX-License-Identifier: GPL-2.0 */
/*
 * System call hooks: accept's return (owners of accepted sockets), and errors at send/receive
 * syscalls' exits where sock_{send,recv}_length do not exist (before 6.3).
 */
#ifndef SOCKTRACE_LIB_SYSCALLS_BPF_H
#define SOCKTRACE_LIB_SYSCALLS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "socktrace_event.h"
#include "errors.bpf.h"

/* ---------- accept: the one place a server's new socket meets its owner ---------- */

/* The layout of syscalls:sys_exit_* records (see /sys/kernel/tracing/events/syscalls/.../format). */
struct syscall_exit_record {
	unsigned long long common;
	int nr;
	long ret;
};

/* fd -> struct sock of the current task; NULL unless it is a socket. */
static __always_inline const struct sock *sock_of_fd(long fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *file = 0;

	if (fd < 0 || !fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return 0;
	struct socket *sock = BPF_CORE_READ(file, private_data);
	/* A socket's file points at the socket and back: a cheap test that private_data is one. */
	if (!sock || BPF_CORE_READ(sock, file) != file || BPF_CORE_READ(sock, type) != SOCK_STREAM)
		return 0;
	return BPF_CORE_READ(sock, sk);
}

static __always_inline void learn_owner_of_fd(long fd)
{
	const struct sock *sk = sock_of_fd(fd);
	if (sk && sock_is_tcp(sk, false))
		learn_owner(sk, false);
}

/* An error a syscall returned on a socket: the caller saw it, so the caller is its owner. */
static __always_inline void report_syscall_error(unsigned char kind, const struct sock *sk, int err)
{
	struct socktrace_event *e = reserve_event(kind, false);
	if (!e)
		return;
	e->err = err;
	e->flags |= SOCKTRACE_FLAG_FROM_SYSCALL;
	describe_sock(e, sk, false);
	stamp_caller(e, false);
	submit(e);
}

/* ---------- errors at syscall exits: the fallback where sock_{send,recv}_length do not exist ---------- */

/* syscalls:sys_enter_* records: the first argument is the fd for every syscall hooked here. */
struct syscall_enter_record {
	unsigned long long common;
	int nr;
	unsigned long args[6];
};

/* fd of the send/receive syscall each thread is in, from its entry to its exit. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, unsigned int);
	__type(value, int);
} syscall_fds SEC(".maps");

static __always_inline void remember_fd(unsigned long fd)
{
	unsigned int tid = (unsigned int)bpf_get_current_pid_tgid();
	int value = (int)fd;
	bpf_map_update_elem(&syscall_fds, &tid, &value, BPF_ANY);
}

static __always_inline void on_syscall_exit(long ret, unsigned char kind)
{
	unsigned int tid = (unsigned int)bpf_get_current_pid_tgid();
	int *fd = bpf_map_lookup_elem(&syscall_fds, &tid);
	if (!fd)
		return;
	int saved = *fd;
	bpf_map_delete_elem(&syscall_fds, &tid);
	if (ret < 0 && (!is_connection_error(-ret) || !wanted(kind)))
		return;
	/* The fd is still open at exit, so it still names the socket used (or that failed). */
	const struct sock *sk = sock_of_fd(saved);
	if (!sk || !sock_is_tcp(sk, false))
		return;
	/* A send or receive, failed or not, is the caller using the socket, as sock_{send,recv}_length
	 * learn it: the cost of resolving the fd at every such syscall's exit is paid only before 6.3. */
	learn_owner(sk, false);
	if (ret >= 0)
		return;
	report_syscall_error(kind, sk, -ret);
}

#endif /* SOCKTRACE_LIB_SYSCALLS_BPF_H */
