/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Listening sockets by what they listen on, and the accept queues a socket not accepted yet waits in.
 */
#ifndef SOCKTRACE_LIB_LISTENERS_BPF_H
#define SOCKTRACE_LIB_LISTENERS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "socktrace_event.h"
#include "owners.bpf.h"

/*
 * Listening sockets by netns, port, family and address (struct socktrace_listener_group). Not an LRU:
 * a group evicted and made again would forget that it was mixed. A full table refuses new keys, and
 * their queued sockets then have no owner (counted with the owner evictions).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, struct socktrace_listener_key);
	__type(value, struct socktrace_listener_group);
} listeners SEC(".maps");

/*
 * Ports something listens on (or did), in any namespace: one byte each (a plain store, no bit to lose to
 * a race), set as listeners start (and by user space for those it seeds), never cleared. A cheap first
 * test before the `listeners` lookups of hooks that run for every connection (a client's ephemeral port
 * is rarely one).
 */
volatile unsigned char listening_ports[65536];

/* 6.1's verifier loses a u16's bound through the stack: the index is masked where the compiler keeps it. */
static __always_inline unsigned int port_index(unsigned short port)
{
	unsigned int i = port;
	asm volatile("" : "+r"(i));
	return i & 0xffff;
}

static __always_inline void note_listening_port(unsigned short port)
{
	listening_ports[port_index(port)] = 1;
}

static __always_inline bool port_ever_listened(unsigned short port)
{
	return listening_ports[port_index(port)];
}

/* ---------- listeners and their queues ---------- */

/* What a socket listens on, or (for a socket not accepted yet) what it was queued by. */
static __always_inline void listener_key_of(struct socktrace_listener_key *key, unsigned int netns,
					    unsigned short family, unsigned short port, const unsigned char *addr)
{
	key->netns = netns;
	key->port = port;
	key->family = family;
	__builtin_memcpy(key->addr, addr, SOCKTRACE_ADDR_LEN);
}

/* A socket started listening: join (or start) the group of listeners on its address and port. */
static __always_inline void listener_started(const struct sock *sk, bool btf)
{
	unsigned long long addr = sock_addr(sk);
	struct socktrace_owner *o = find_owner(addr);
	struct socktrace_event where = {};
	struct socktrace_listener_key key;

	fill_addrs_from_sock(&where, sk, btf);
	note_listening_port(where.sport);
	listener_key_of(&key, sock_netns(sk, btf), where.family, where.sport, where.saddr);
	struct socktrace_listener_group *g = bpf_map_lookup_elem(&listeners, &key);
	if (!g) {
		struct socktrace_listener_group fresh = { .count = 1 };
		if (o)
			fresh.owner = *o;
		fresh.owner.source = SOCKTRACE_OWNER_LISTENER;
		fresh.socks[0] = addr;
		if (!bpf_map_update_elem(&listeners, &key, &fresh, BPF_NOEXIST))
			return;
		g = bpf_map_lookup_elem(&listeners, &key); /* another CPU made it first, or the table is full */
		if (!g) {
			count_on_this_cpu(&owner_evictions);
			return;
		}
	}
	/* A listener of another process, or of none we know, makes the group's owner a guess. */
	if (!o || o->pid != g->owner.pid || o->start != g->owner.start)
		g->mixed = 1;
	for (int i = 0; i < SOCKTRACE_LISTENER_SOCKS; i++) {
		if (!g->socks[i]) {
			g->socks[i] = addr;
			break;
		}
	}
	g->count++;
}

/* A listener closed (LISTEN -> CLOSE: only the listener itself leaves LISTEN that way). */
static __always_inline void listener_stopped(const struct sock *sk, bool btf)
{
	unsigned long long addr = sock_addr(sk);
	struct socktrace_event where = {};
	struct socktrace_listener_key key;

	fill_addrs_from_sock(&where, sk, btf);
	listener_key_of(&key, sock_netns(sk, btf), where.family, where.sport, where.saddr);
	struct socktrace_listener_group *g = bpf_map_lookup_elem(&listeners, &key);
	if (!g)
		return;
	if (g->count <= 1) {
		bpf_map_delete_elem(&listeners, &key);
		return;
	}
	g->count--;
	for (int i = 0; i < SOCKTRACE_LISTENER_SOCKS; i++) {
		if (g->socks[i] == addr)
			g->socks[i] = 0;
	}
}

/* Accept queues are walked this far at most (the kernel's default somaxconn). */
#define ACCEPT_QUEUE_WALK_MAX 4096

struct queue_walk {
	unsigned long long req;   /* the request_sock to look at next, 0 at the end */
	unsigned long long child; /* the socket looked for */
	bool found;
};

static long queue_walk_step(unsigned int i, void *ctx)
{
	struct queue_walk *w = ctx;
	if (!w->req)
		return 1;
	struct request_sock *req = (struct request_sock *)w->req;
	if ((unsigned long long)BPF_CORE_READ(req, sk) == w->child) {
		w->found = true;
		return 1;
	}
	w->req = (unsigned long long)BPF_CORE_READ(req, dl_next);
	return 0;
}

/*
 * Whether the child waits in this listener's accept queue. Read without the queue's lock: a request
 * socket freed under us reads as the end of the queue or another socket, never as this child.
 */
static __always_inline bool in_accept_queue(unsigned long long listener, unsigned long long child)
{
	struct inet_connection_sock *icsk = (struct inet_connection_sock *)listener;
	struct queue_walk w = { .child = child };

	w.req = (unsigned long long)BPF_CORE_READ(icsk, icsk_accept_queue.rskq_accept_head);
	bpf_loop(ACCEPT_QUEUE_WALK_MAX, queue_walk_step, &w, 0);
	return w.found;
}

/* The states a socket a listener made can be in before its process first touches it. */
static __always_inline bool may_come_from_listener(const struct socktrace_event *e)
{
	return e->state == ST_TCP_ESTABLISHED || e->state == ST_TCP_SYN_RECV || e->state == ST_TCP_CLOSE_WAIT;
}

/*
 * A full socket no process holds yet: accept() grafts a struct socket onto it, close() orphans it and
 * leaves these states. So a socket in one of them without one is still in its listener's queue.
 */
static __always_inline bool waits_in_accept_queue(const struct sock *sk, bool btf)
{
	return !(btf ? sk->sk_socket : BPF_CORE_READ(sk, sk_socket));
}

/*
 * The owner of the listener a socket with no owner of its own came from: the group on its address,
 * else the wildcard. A queued socket is the listener's; one accepted but not yet used by its process
 * (the daemon leaves accept's exit unhooked) was almost surely accepted by the listener's process,
 * which the event marks as a guess (via: listener). Where the group's listeners belong to several
 * processes, a queued socket names the one whose queue holds it, an accepted one nobody.
 */
static __always_inline struct socktrace_owner *listener_owner(const struct socktrace_event *e, unsigned long long child,
							       bool queued)
{
	static const unsigned char wildcard[SOCKTRACE_ADDR_LEN] = {};
	struct socktrace_listener_key key;

	listener_key_of(&key, e->netns, e->family, e->sport, e->saddr);
	struct socktrace_listener_group *g = bpf_map_lookup_elem(&listeners, &key);
	if (!g) {
		listener_key_of(&key, e->netns, e->family, e->sport, wildcard);
		g = bpf_map_lookup_elem(&listeners, &key);
	}
	if (!g)
		return 0;
	if (!g->mixed)
		return &g->owner;
	if (!queued)
		return 0;
	for (int i = 0; i < SOCKTRACE_LISTENER_SOCKS; i++) {
		unsigned long long listener = g->socks[i];
		if (listener && in_accept_queue(listener, child))
			return find_owner(listener);
	}
	return 0;
}

/* A request socket (handshake under way) knows its listener. */
static __always_inline struct socktrace_owner *request_owner(const struct sock *sk)
{
	const struct sock *listener = BPF_CORE_READ((struct request_sock *)sk, __req_common.skc_listener);
	struct socktrace_owner *o = listener ? find_owner(sock_addr(listener)) : 0;
	if (!o && listener) {
		unsigned long long cookie = BPF_CORE_READ(listener, __sk_common.skc_cookie.counter);
		o = cookie ? bpf_map_lookup_elem(&seeded_owners, &cookie) : 0;
	}
	return o;
}

#endif /* SOCKTRACE_LIB_LISTENERS_BPF_H */
