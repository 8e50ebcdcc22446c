/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Stamping an event with its socket's facts and its owner: the best knowledge there is, living owners only.
 */
#ifndef SOCKTRACE_LIB_STAMP_BPF_H
#define SOCKTRACE_LIB_STAMP_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "socktrace_event.h"
#include "owners.bpf.h"
#include "listeners.bpf.h"

/* ---------- stamping events with owners ---------- */

static __always_inline void stamp_from(struct socktrace_event *e, const struct socktrace_owner *o, const char *comm,
				       unsigned char source)
{
	e->owner_pid = o->pid;
	e->owner_uid = o->uid;
	e->owner_cgroup = o->cgroup;
	e->owner_start = (unsigned int)o->start;
	e->owner_source = source;
	__builtin_memcpy(e->owner_comm, comm, sizeof(e->owner_comm));
}

/*
 * The owner, from the best knowledge there is, each candidate only if its process still lives: the
 * socket's own entry; the inventory's seed (adopted, so later events need one lookup); for TIME_WAIT,
 * the process that closed the connection; for a socket not accepted yet, its listener's owner.
 */
static __always_inline void stamp_owner(struct socktrace_event *e, const struct sock *sk,
					unsigned long long cookie, bool btf)
{
	unsigned long long addr = sock_addr(sk);
	struct socktrace_owner *o = find_owner(addr);
	struct socktrace_process *p = living(o);

	/* A TIME_WAIT socket keeps its full socket's cookie, not its owner (only its closer, below). */
	if (!p && cookie && e->state != ST_TCP_TIME_WAIT) {
		o = bpf_map_lookup_elem(&seeded_owners, &cookie);
		p = living(o);
		if (p && e->state != ST_TCP_CLOSE)
			store_owner(addr, o);
	}
	if (!p && cookie && e->state == ST_TCP_TIME_WAIT) {
		o = bpf_map_lookup_elem(&former_owners, &cookie);
		p = living(o);
	}
	if (p) {
		stamp_from(e, o, p->comm, o->source);
		return;
	}
	if (e->state == ST_TCP_NEW_SYN_RECV)
		o = request_owner(sk);
	else if (may_come_from_listener(e))
		o = listener_owner(e, addr, waits_in_accept_queue(sk, btf));
	else
		return;
	p = living(o);
	if (p)
		stamp_from(e, o, p->comm, SOCKTRACE_OWNER_LISTENER);
}

/*
 * An error returned to a send or receive happened inside the caller's own system call: the caller is
 * its owner, whatever was learned before (the socket may have been passed on, or be in CLOSE, where
 * nothing learns). Kernel threads (in-kernel sockets) keep what stamp_owner found.
 */
static __always_inline void stamp_caller(struct socktrace_event *e, bool btf)
{
	struct task_struct *task = current_task(btf);
	if (task_is_kernel_thread(task, btf))
		return;
	struct socktrace_owner o = {};
	owner_from_task(&o, task, btf);
	stamp_from(e, &o, o.comm, o.source);
}

/*
 * An RST on a socket already in CLOSE, with no owner known: a CLOSE socket is unhashed, so no
 * packet reaches it, and what still happens to it happens inside a call of its own process: close()
 * resetting a connection with unread data (the kernel changes the state to CLOSE first, then sends
 * the RST; packets left in the backlog are answered from release_sock). The running task is that
 * process.
 */
static __always_inline void stamp_closing_process(struct socktrace_event *e, bool btf)
{
	if (e->state == ST_TCP_CLOSE && !e->owner_pid)
		stamp_caller(e, btf);
}

/* Fills everything that comes from a (full, request or timewait) socket, owner included. */
static __always_inline void describe_sock(struct socktrace_event *e, const struct sock *sk, bool btf)
{
	unsigned long long cookie = sock_cookie(sk, btf);

	e->sock_id = sock_id(sk, cookie, &e->flags);
	e->netns = sock_netns(sk, btf);
	if (!e->state)
		e->state = SK_READ(btf, sk, __sk_common.skc_state);
	fill_addrs_from_sock(e, sk, btf);
	stamp_owner(e, sk, cookie, btf);
}

#endif /* SOCKTRACE_LIB_STAMP_BPF_H */
