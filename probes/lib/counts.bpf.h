/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Counting every socket by owner and state when user space asks (the daemon's gauges).
 */
#ifndef SOCKTRACE_LIB_COUNTS_BPF_H
#define SOCKTRACE_LIB_COUNTS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "socktrace_event.h"
#include "compat.bpf.h"
#include "stamp.bpf.h"

/* ---------- counting every socket by state and owner, when user space asks ---------- */

/*
 * Sockets by owner and state, as the kernel knows them now (struct socktrace_count_key). Filled by
 * count_sockets, which user space runs over each network namespace (a tcp iterator walks the
 * namespace it is created in), read and emptied after each count. What the gauges say then comes from
 * the kernel's own tables at that moment, as `ss` reads them, not from events that a filter may have
 * held back.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct socktrace_count_key);
	__type(value, unsigned long long);
} socket_counts SEC(".maps");

/*
 * Accept queues of listening sockets, filled by the same walk (struct socktrace_listen_queue_key),
 * read and emptied with socket_counts: a full one is where the kernel drops handshakes.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct socktrace_listen_queue_key);
	__type(value, struct socktrace_listen_queue);
} listen_queues SEC(".maps");

/*
 * Adds a listener's accept queue: its length and listen()'s limit, as ss -lnt shows them, and what it
 * dropped (ss -lntm's d<N>): the kernel counts every accept-queue overflow in the listener's own
 * sk_drops as it counts ListenOverflows in the namespace, so user space can tell which listener
 * overflowed between two counts.
 */
static __always_inline void count_listen_queue(const struct sock *sk, const struct socktrace_event *e)
{
	struct socktrace_listen_queue_key key = { .pid = e->owner_pid, .netns = e->netns, .port = e->sport, .family = e->family };
	__builtin_memcpy(key.addr, e->saddr, sizeof(key.addr));
	struct socktrace_listen_queue add = {
		.queue = BPF_CORE_READ(sk, sk_ack_backlog),
		.limit = BPF_CORE_READ(sk, sk_max_ack_backlog),
		.listeners = 1,
		.drops = sock_drops(sk),
	};
	struct socktrace_listen_queue *q = bpf_map_lookup_elem(&listen_queues, &key);
	if (q) {
		q->queue += add.queue;
		q->limit += add.limit;
		q->listeners += 1;
		q->drops += add.drops;
	} else {
		bpf_map_update_elem(&listen_queues, &key, &add, BPF_NOEXIST); /* table full: left out, and the gauge with it */
	}
}

/* Counts one socket the tcp iterator visits (see count_sockets). */
static __always_inline void count_socket(const struct sock *sk)
{
	struct socktrace_event e = {};
	describe_sock(&e, sk, false); /* the owner exactly as an event now would name it */
	/* A request socket (handshake under way) is what ss shows as SYN-RECV. */
	struct socktrace_count_key key = { .pid = e.owner_pid, .state = e.state };
	if (e.state == ST_TCP_LISTEN)
		count_listen_queue(sk, &e);
	/* A timewait socket may stand in for a FIN_WAIT2 one (an orphan's, tcp_time_wait): ss shows that. */
	if (e.state == ST_TCP_TIME_WAIT)
		key.state = BPF_CORE_READ((struct inet_timewait_sock *)sk, tw_substate);
	if (e.state == ST_TCP_NEW_SYN_RECV) {
		key.state = ST_TCP_SYN_RECV;
		key.queued = 1; /* not a file of the listener's process yet */
	} else if (e.state == ST_TCP_TIME_WAIT || waits_in_accept_queue(sk, false)) {
		/* No file: waiting in an accept queue (the listener's, not yet its process's), or nobody's any
		 * more (TIME_WAIT, or orphaned by close() while the connection winds down), as ss -p shows. */
		key.queued = may_come_from_listener(&e) && e.owner_source == SOCKTRACE_OWNER_LISTENER;
		if (!key.queued)
			key.pid = 0;
	}
	unsigned long long one = 1;
	unsigned long long *n = bpf_map_lookup_elem(&socket_counts, &key);
	if (n) {
		*n += 1;
	} else if (bpf_map_update_elem(&socket_counts, &key, &one, BPF_NOEXIST)) {
		key.pid = 0; /* table full: counted, under no owner */
		n = bpf_map_lookup_elem(&socket_counts, &key);
		if (n)
			*n += 1;
	}
}

#endif /* SOCKTRACE_LIB_COUNTS_BPF_H */
