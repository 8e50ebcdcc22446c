/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Who owns a socket: the owner table, the processes owners belong to while they live, learning
 * owners in process context, seeded owners and the closers of TIME_WAIT sockets.
 */
#ifndef SOCKTRACE_LIB_OWNERS_BPF_H
#define SOCKTRACE_LIB_OWNERS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "socktrace_event.h"
#include "ring.bpf.h"
#include "task.bpf.h"
#include "sock.bpf.h"

/*
 * Socket owners, keyed by struct sock address, in a two-way set-associative table held in an array.
 * Every connection writes its owner once or twice and clears it at destroy. With a hash map (LRU or
 * not) owner bookkeeping cost ~3.5% of a loopback connection-churn rate, with this table ~1.5%
 * (bench/churn-overhead.mjs): an array slot is found by arithmetic, with no bucket lock or free list. A set whose
 * two ways are both taken by live sockets evicts one; evictions are counted, never silent.
 */
struct owner_slot {
	unsigned long long sk; /* 0: free */
	struct socktrace_owner owner;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1 << 18); /* resized by user space before load: 2 << owner_set_bits */
	__type(key, unsigned int);
	__type(value, struct owner_slot);
} owner_slots SEC(".maps");

/* Owners keyed by socket cookie, written by user space from its inventory of pre-existing sockets. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, unsigned long long);
	__type(value, struct socktrace_owner);
} seeded_owners SEC(".maps");

/*
 * Owners of sockets the kernel destroyed, keyed by cookie: a TIME_WAIT socket outlives its full socket
 * and keeps its cookie, so an RST it sends can still name the process that closed the connection.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, unsigned long long);
	__type(value, struct socktrace_owner);
} former_owners SEC(".maps");

/*
 * Processes that own sockets, by tgid, while they live (struct socktrace_process). Not an LRU either:
 * an evicted live process would look exited. A full table leaves a new owner out, and its sockets'
 * events then name nobody (counted with the owner evictions) rather than someone else.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, unsigned int);
	__type(value, struct socktrace_process);
} owner_processes SEC(".maps");

/* Owners displaced from a full set, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, unsigned int);
	__type(value, unsigned long long);
} owner_evictions SEC(".maps");

/* The first way of the socket's set: slab addresses have regular low bits, so hash multiplicatively. */
static __always_inline unsigned int owner_set(unsigned long long addr)
{
	unsigned int bits = owner_set_bits;
	return (unsigned int)((addr * 0x9E3779B97F4A7C15ULL) >> (64 - bits)) << 1;
}

/* The way of the socket's set that holds it, or NULL; its index in *idx. */
static __always_inline struct owner_slot *find_slot_at(unsigned long long addr, unsigned int *idx)
{
	if (!addr) /* 0 marks a free slot */
		return 0;
	*idx = owner_set(addr);
	struct owner_slot *way = bpf_map_lookup_elem(&owner_slots, idx);
	if (way && way->sk == addr)
		return way;
	*idx |= 1;
	way = bpf_map_lookup_elem(&owner_slots, idx);
	if (way && way->sk == addr)
		return way;
	return 0;
}

static __always_inline struct owner_slot *find_slot(unsigned long long addr)
{
	unsigned int idx;
	return find_slot_at(addr, &idx);
}

/* A slot may hold only a CLOSE_WAIT time (pid 0) for a socket no process has touched yet. */
static __always_inline struct socktrace_owner *find_owner(unsigned long long addr)
{
	struct owner_slot *way = find_slot(addr);
	return way && way->owner.pid ? &way->owner : 0;
}

/* Returns the index of the way it took, or -1. */
static __always_inline int store_owner(unsigned long long addr, const struct socktrace_owner *o)
{
	unsigned int idx = owner_set(addr);
	unsigned int idx1 = idx | 1;
	struct owner_slot *way0 = bpf_map_lookup_elem(&owner_slots, &idx);
	struct owner_slot *way1 = bpf_map_lookup_elem(&owner_slots, &idx1);
	struct owner_slot *way;
	if (!way0 || !way1 || !addr)
		return -1;
	if (way0->sk == addr || (way0->sk == 0 && way1->sk != addr)) {
		way = way0;
	} else if (way1->sk == addr || way1->sk == 0) {
		way = way1;
		idx = idx1;
	} else {
		/* Both ways hold live sockets: displace one, chosen by address bits, and count it. */
		count_on_this_cpu(&owner_evictions);
		if ((addr >> 12) & 1) {
			way = way1;
			idx = idx1;
		} else {
			way = way0;
		}
	}
	way->sk = addr;
	way->owner = *o;
	return idx;
}

static __always_inline void forget_owner(unsigned long long addr)
{
	struct owner_slot *way = find_slot(addr); /* store_owner never puts a socket in both ways */
	if (way)
		way->sk = 0;
}

static __always_inline void owner_from_task(struct socktrace_owner *o, struct task_struct *task, bool btf)
{
	o->pid = task_tgid(task, btf);
	o->start = task_process_start(task, btf);
	o->source = SOCKTRACE_OWNER_SOCKET;
	if (btf) { /* typed loads instead of helper calls: ~80 ns less each on this path (bpf_stats) */
		o->uid = task->cred->uid.val;
		o->cgroup = task->cgroups->dfl_cgrp->kn->id;
	} else {
		o->uid = (unsigned int)bpf_get_current_uid_gid();
		o->cgroup = bpf_get_current_cgroup_id();
	}
	task_process_comm(task, o->comm, btf);
}

/* The owner's process if it still lives (same pid, same start), else NULL: an exited owner names nobody. */
static __always_inline struct socktrace_process *living(const struct socktrace_owner *o)
{
	if (!o || !o->pid)
		return 0;
	unsigned int pid = o->pid;
	struct socktrace_process *p = bpf_map_lookup_elem(&owner_processes, &pid);
	return p && p->start == o->start ? p : 0;
}

/*
 * The process this CPU last made known as living: a process opening many connections is looked up
 * once, not once per connection. It cannot have exited meanwhile, since it is the one running now.
 */
struct last_noted {
	unsigned long long start;
	unsigned int pid;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, unsigned int);
	__type(value, struct last_noted);
} noted_on_cpu SEC(".maps");

/* Makes the owner's process known as living (until its exit, see on_process_exit). */
static __always_inline void note_living(const struct socktrace_owner *o)
{
	unsigned int zero = 0;
	struct last_noted *last = bpf_map_lookup_elem(&noted_on_cpu, &zero);
	if (last && last->pid == o->pid && last->start == o->start)
		return;
	if (!living(o)) {
		unsigned int pid = o->pid;
		struct socktrace_process p = { .start = o->start };
		__builtin_memcpy(p.comm, o->comm, sizeof(p.comm));
		if (bpf_map_update_elem(&owner_processes, &pid, &p, BPF_ANY)) {
			count_on_this_cpu(&owner_evictions); /* table full: this owner's sockets will name nobody */
			return;
		}
	}
	if (last) {
		last->pid = o->pid;
		last->start = o->start;
	}
}

/* How a process-context hook learns a socket's owner. */
enum learn_mode {
	LEARN_FRESH, /* connect, listen: the socket cannot have an entry yet, nothing to look up */
	LEARN_CHECK, /* send, receive, accept, close: the process using it now owns it (fds pass, fork) */
};

/* Called only from hooks that run in the owner's process context; cheap when nothing changed. */
static __always_inline void learn_owner_of(const struct sock *sk, bool btf, enum learn_mode mode)
{
	unsigned long long addr = sock_addr(sk);
	struct socktrace_owner *known = mode == LEARN_FRESH ? 0 : find_owner(addr);
	struct task_struct *task = current_task(btf);

	/* The same pid is taken for the same process (no start-time check on this hot path): a process
	 * that reused an exited owner's pid and was then passed the socket leaves the entry naming the
	 * exited one, so its events name nobody (living() fails), never a wrong process. */
	if (known && known->pid == task_tgid(task, btf))
		return;
	if (task_is_kernel_thread(task, btf)) /* in-kernel users (NFS, TLS offload work) own nothing */
		return;
	struct socktrace_owner o = {};
	owner_from_task(&o, task, btf);
	store_owner(addr, &o);
	note_living(&o);
}

/* Send, receive, accept: not for a socket in CLOSE, whose owner entry has ended or is about to. */
static __always_inline void learn_owner(const struct sock *sk, bool btf)
{
	if (SK_READ(btf, sk, __sk_common.skc_state) != ST_TCP_CLOSE)
		learn_owner_of(sk, btf, LEARN_CHECK);
}

/*
 * A clean active close hands the connection to a TIME_WAIT socket that keeps the cookie but no owner:
 * remember who closed it, so an RST that TIME_WAIT socket sends still names them.
 */
static __always_inline void remember_former_owner(const struct sock *sk, bool btf)
{
	struct socktrace_owner *o = find_owner(sock_addr(sk));
	unsigned long long cookie = o ? sock_cookie(sk, btf) : 0;
	if (!cookie)
		return;
	struct socktrace_owner former = *o;
	former.source = SOCKTRACE_OWNER_CLOSED;
	bpf_map_update_elem(&former_owners, &cookie, &former, BPF_ANY);
}

/*
 * With owners_end_at_close: the owner entry ends at the change to CLOSE, after the change's own event
 * took it. A socket accepted from a listener (LISTEN -> SYN_RECV is its first change) starts with
 * none, whatever an earlier socket at the same address left.
 */
static __always_inline void owner_ends_with(const struct sock *sk, int oldstate, int newstate)
{
	if (owners_end_at_close && (newstate == ST_TCP_CLOSE || oldstate == ST_TCP_LISTEN))
		forget_owner(sock_addr(sk));
}

#endif /* SOCKTRACE_LIB_OWNERS_BPF_H */
