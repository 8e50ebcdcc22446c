/* SPDX-License-Identifier: GPL-2.0 */
/*
 * CLOSE_WAIT deferral: entries noted in close_waits, and the sweep that reports those that last.
 */
#ifndef SOCKTRACE_LIB_CLOSE_WAIT_BPF_H
#define SOCKTRACE_LIB_CLOSE_WAIT_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "socktrace_event.h"
#include "stamp.bpf.h"

/*
 * Sockets in CLOSE_WAIT whose report is deferred (see close_wait_delay_ns), at their owner slot's index.
 * Only CLOSE_WAIT entries write here, so the per-connection path pays nothing for it; the sweep scans
 * this small table, and checks a socket by state and cookie before it reports it (an owner slot can
 * change hands, and socket memory is reused).
 */
struct close_wait {
	unsigned long long sk;    /* the socket's address */
	unsigned long long since; /* bpf_ktime_get_ns() at entry, 0 once it left; | CLOSE_WAIT_REPORTED */
	unsigned long long cookie;
	unsigned int from;        /* the state it entered CLOSE_WAIT from */
	unsigned int _pad;
};

#define CLOSE_WAIT_REPORTED (1ULL << 63)

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1 << 18); /* resized by user space before load: as many as owner_slots */
	__type(key, unsigned int);
	__type(value, struct close_wait);
} close_waits SEC(".maps");

/*
 * Entries awaiting the sweep (deferred, not yet reported), per chunk of close_waits: the sweep visits
 * only chunks that hold some, not the whole table (as many entries as owner slots) every second. Atomic
 * adds; a race between CPUs on one entry can leave a count off by one: too high costs a visit, too low
 * is caught by the whole-table sweep user space runs every SOCKTRACE_SWEEP_FULL_EVERY sweeps.
 */
unsigned int close_wait_pending[SOCKTRACE_CLOSE_WAIT_CHUNKS] = {};

static __always_inline void count_pending(unsigned int idx, int delta)
{
	__sync_fetch_and_add(&close_wait_pending[(idx >> SOCKTRACE_CLOSE_WAIT_CHUNK_SHIFT) & (SOCKTRACE_CLOSE_WAIT_CHUNKS - 1)], delta);
}

static __always_inline bool pending(unsigned long long since)
{
	return since && !(since & CLOSE_WAIT_REPORTED);
}

/*
 * Whether this change into or out of CLOSE_WAIT is the sweep's to report (see close_wait_delay_ns).
 * Entering: deferred when the socket has an owner slot to hold the time (and the change is not wanted
 * for its old state anyway). Leaving: crosses only if the sweep reported the entry; a short CLOSE_WAIT
 * stays in the kernel, counted in `transitions` like every change.
 */
static __always_inline bool close_wait_left_to_sweep(const struct sock *sk, int oldstate, int newstate,
						     bool old_state_wanted, bool btf)
{
	unsigned long long addr = sock_addr(sk);
	unsigned int idx = 0;
	struct close_wait *cw;

	if (newstate == ST_TCP_CLOSE_WAIT) {
		if (!close_wait_delay_ns || old_state_wanted)
			return false;
		if (!find_slot_at(addr, &idx)) { /* not accepted yet, say: an owner slot with no owner (pid 0) */
			struct socktrace_owner nobody = {};
			int taken = store_owner(addr, &nobody);
			if (taken < 0)
				return false;
			idx = taken;
		}
		cw = bpf_map_lookup_elem(&close_waits, &idx);
		if (!cw)
			return false;
		bool was_pending = pending(cw->since); /* the slot's former socket's entry, not yet swept */
		cw->sk = addr;
		cw->cookie = sock_cookie(sk, btf);
		cw->from = oldstate;
		cw->since = bpf_ktime_get_ns();
		if (!was_pending)
			count_pending(idx, 1);
		return true;
	}
	if (!find_slot_at(addr, &idx))
		return false;
	cw = bpf_map_lookup_elem(&close_waits, &idx);
	if (!cw || cw->sk != addr || !cw->since)
		return false; /* its entry crossed as it happened */
	unsigned long long since = cw->since;
	cw->since = 0;
	if (since & CLOSE_WAIT_REPORTED)
		return false; /* reported: its exit crosses too */
	count_pending(idx, -1);
	return true;
}

/*
 * The CLOSE_WAIT sweep, run by user space every close_wait_delay (BPF_PROG_TEST_RUN, never attached)
 * over close_waits[args[0], args[1]). Each socket in CLOSE_WAIT for longer than the delay and not yet
 * reported becomes the state_change record it would have been, stamped with its entry time and owner,
 * and is marked so that its exit crosses too. It goes by the socket's address, so every network
 * namespace is covered. The socket is read with probe reads and checked (still CLOSE_WAIT, same cookie)
 * before and after: socket memory is reused only after an RCU grace period, and we run inside one. A
 * full ring leaves it unmarked (the reserve failure is counted as lost): the next sweep tries again.
 *
 * One race is left: a socket leaving CLOSE_WAIT on another CPU in the few instructions between the
 * last check and the mark crosses no exit, so the core shows it in CLOSE_WAIT until its next inventory
 * (tracer.reconcileSeconds) corrects that.
 */
struct sweep_range {
	unsigned int first;
	unsigned long long now;
};

static __always_inline bool still_close_waiting(const struct sock *sk, unsigned long long cookie)
{
	return BPF_CORE_READ(sk, __sk_common.skc_state) == ST_TCP_CLOSE_WAIT &&
	       BPF_CORE_READ(sk, __sk_common.skc_cookie.counter) == cookie;
}

static long sweep_one(unsigned int i, void *ctx)
{
	struct sweep_range *range = ctx;
	unsigned int idx = range->first + i;
	struct close_wait *cw = bpf_map_lookup_elem(&close_waits, &idx);
	if (!cw)
		return 1; /* past the table's end */
	unsigned long long since = cw->since;
	if (!since || (since & CLOSE_WAIT_REPORTED) || range->now - since < close_wait_delay_ns)
		return 0;
	const struct sock *sk = (const struct sock *)cw->sk;
	unsigned long long cookie = cw->cookie;
	if (!still_close_waiting(sk, cookie)) {
		/* Gone without our seeing it leave (its owner slot went to another socket): forget it,
		 * unless a new entry was written meanwhile. */
		if (cw->since == since) {
			cw->since = 0;
			count_pending(idx, -1);
		}
		return 0;
	}
	struct socktrace_event *e = reserve_event(SOCKTRACE_KIND_STATE_CHANGE, false);
	if (!e)
		return 1; /* ring full: the rest wait for the next sweep */
	e->ts_ns = since;
	e->task_pid = 0; /* no task ran this change now: the sweep's caller is not its context */
	__builtin_memset(e->task_comm, 0, sizeof(e->task_comm));
	e->flags |= SOCKTRACE_FLAG_DEFERRED;
	e->old_state = cw->from;
	e->state = ST_TCP_CLOSE_WAIT;
	describe_sock(e, sk, false);
	if (cw->since != since || !still_close_waiting(sk, cookie)) {
		bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
		return 0;
	}
	cw->since = since | CLOSE_WAIT_REPORTED;
	count_pending(idx, -1);
	submit(e);
	return 0;
}

#endif /* SOCKTRACE_LIB_CLOSE_WAIT_BPF_H */
