/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Services' answers and clients that give up: how long a request waited for its answer, measured when
 * the exchange ends, from timestamps the kernel keeps on every TCP socket anyway (the last data
 * received, icsk_ack.lrcvtime, and the last data sent, tcp_sock.lsndtime, both in jiffies). No hook of
 * its own and no event per connection: a few reads and a histogram increment in the state-change hook,
 * for sockets a listener made (the service's side).
 *
 * - The service closes (ESTABLISHED -> FIN_WAIT1) or its client does after an answer (ESTABLISHED ->
 *   CLOSE_WAIT, last data out after the last data in): ANSWERED, last byte out minus last byte in.
 * - The client closes with the last request unanswered (ESTABLISHED -> CLOSE_WAIT, nothing sent after
 *   it): GAVE_UP, now minus the request; the request's time is remembered in `unanswered`.
 * - That socket leaves CLOSE_WAIT: LATE (the service answered after all: its write drew the client's
 *   RST, or it closed after writing) or UNANSWERED (it closed without a word; the age is a lower bound
 *   of its latency).
 * Exact to a tick (4 ms at HZ=250) for a request and its answer; with keep-alive, for the last request.
 */
#ifndef SOCKTRACE_LIB_EXCHANGES_BPF_H
#define SOCKTRACE_LIB_EXCHANGES_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "socktrace_event.h"
#include "constants.bpf.h"
#include "tunables.bpf.h"
#include "sock.bpf.h"
#include "listeners.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SOCKTRACE_TIMING_KEYS);
	__type(key, struct socktrace_timing_key);
	__type(value, struct socktrace_timing);
} timings SEC(".maps");

/* Service sockets whose client left with a request unanswered: the request's jiffies, by socket address. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1 << 16);
	__type(key, unsigned long long);
	__type(value, unsigned int);
} unanswered SEC(".maps");

/* Entries in `unanswered`: none (the healthy case), and leaving CLOSE_WAIT needs no lookup. */
volatile long unanswered_entries;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SOCKTRACE_TIMING_MISS_SLOTS);
	__type(key, unsigned int);
	__type(value, unsigned long long);
} timing_misses SEC(".maps");

static const struct socktrace_timing no_timing = {};

static __always_inline void timing_missed(unsigned int slot)
{
	unsigned long long *n = bpf_map_lookup_elem(&timing_misses, &slot);
	if (n)
		*n += 1;
}

/* floor(log2(v)) for v > 0, without loops. */
static __always_inline unsigned int log2_u32(unsigned int v)
{
	unsigned int r, shift;

	r = (v > 0xFFFF) << 4;
	v >>= r;
	shift = (v > 0xFF) << 3;
	v >>= shift;
	r |= shift;
	shift = (v > 0xF) << 2;
	v >>= shift;
	r |= shift;
	shift = (v > 0x3) << 1;
	v >>= shift;
	r |= shift;
	r |= (v >> 1);
	return r;
}

/* The bucket of a time in ticks (src/core/exchange-timings.ts mirrors it). */
static __always_inline unsigned int timing_bucket(unsigned int ticks)
{
	const unsigned int sub = 1u << SOCKTRACE_TIMING_SUB_BITS;
	if (ticks < sub)
		return ticks;
	unsigned int e = log2_u32(ticks);
	unsigned int idx = sub + (e - SOCKTRACE_TIMING_SUB_BITS) * sub + ((ticks >> (e - SOCKTRACE_TIMING_SUB_BITS)) & (sub - 1));
	return idx < SOCKTRACE_TIMING_BUCKETS ? idx : SOCKTRACE_TIMING_BUCKETS - 1;
}

static __always_inline void count_timing(struct socktrace_timing_key *key, unsigned int ticks)
{
	unsigned int idx = timing_bucket(ticks);
	struct socktrace_timing *t = bpf_map_lookup_elem(&timings, key);
	if (!t) { /* first sample of this key (or another CPU's at the same time, or the table is full) */
		bpf_map_update_elem(&timings, key, &no_timing, BPF_NOEXIST);
		t = bpf_map_lookup_elem(&timings, key);
	}
	if (!t) { /* full: the service's clients beyond the table share the all-zero address */
		__builtin_memset(key->peer, 0, sizeof(key->peer));
		t = bpf_map_lookup_elem(&timings, key);
		if (!t) {
			bpf_map_update_elem(&timings, key, &no_timing, BPF_NOEXIST);
			t = bpf_map_lookup_elem(&timings, key);
		}
		timing_missed(t ? SOCKTRACE_TIMING_MISS_PEER : SOCKTRACE_TIMING_MISS_LOST);
		if (!t)
			return;
	}
	asm volatile("" : "+r"(idx)); /* keep the bound check where the verifier sees it */
	if (idx < SOCKTRACE_TIMING_BUCKETS)
		__sync_fetch_and_add(&t->buckets[idx], 1);
}

/*
 * A socket a listener on its port (on the wildcard, most services, looked up first; or on its address)
 * made: a service's side of a connection.
 */
static __always_inline bool is_service_side(const struct socktrace_event *where)
{
	static const unsigned char wildcard[SOCKTRACE_ADDR_LEN] = {};
	struct socktrace_listener_key key;

	listener_key_of(&key, where->netns, where->family, where->sport, wildcard);
	if (bpf_map_lookup_elem(&listeners, &key))
		return true;
	listener_key_of(&key, where->netns, where->family, where->sport, where->saddr);
	return bpf_map_lookup_elem(&listeners, &key) != 0;
}

/* What the kernel knows of the exchange so far. */
struct exchange_clock {
	unsigned long long received; /* data bytes in */
	unsigned long long sent;     /* data bytes out */
	unsigned int last_in;        /* jiffies of the last data in */
	unsigned int last_out;       /* jiffies of the last data out */
};

static __always_inline void read_exchange_clock(const struct sock *sk, struct exchange_clock *c, bool btf)
{
	if (btf) { /* typed loads: the helper gives tcp_sock (past the typed struct sock) a type */
		struct tcp_sock *t = bpf_skc_to_tcp_sock((void *)sk);
		if (!t) {
			__builtin_memset(c, 0, sizeof(*c));
			return;
		}
		c->received = t->bytes_received;
		c->sent = t->bytes_sent;
		c->last_in = t->inet_conn.icsk_ack.lrcvtime;
		c->last_out = t->lsndtime;
		return;
	}
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;
	c->received = BPF_CORE_READ(tp, bytes_received);
	c->sent = BPF_CORE_READ(tp, bytes_sent);
	c->last_in = BPF_CORE_READ(tp, inet_conn.icsk_ack.lrcvtime);
	c->last_out = BPF_CORE_READ(tp, lsndtime);
}

static __always_inline void timing_key_of(struct socktrace_timing_key *key, const struct socktrace_event *where,
					  unsigned int kind)
{
	key->netns = where->netns;
	key->port = where->sport;
	key->family = where->family;
	__builtin_memcpy(key->peer, where->daddr, SOCKTRACE_ADDR_LEN);
	key->kind = kind;
}

static __always_inline void measure_exchange(const struct sock *sk, int oldstate, int newstate, bool btf)
{
	bool ends_established = oldstate == ST_TCP_ESTABLISHED && (newstate == ST_TCP_CLOSE_WAIT || newstate == ST_TCP_FIN_WAIT1);
	if (!measure_exchanges || !(ends_established || oldstate == ST_TCP_CLOSE_WAIT))
		return;
	unsigned long long addr = sock_addr(sk);
	unsigned int request = 0;
	if (!ends_established) { /* leaving CLOSE_WAIT: only the sockets whose client gave up matter */
		if (unanswered_entries <= 0)
			return;
		unsigned int *remembered = bpf_map_lookup_elem(&unanswered, &addr);
		if (!remembered)
			return;
		request = *remembered;
		if (bpf_map_delete_elem(&unanswered, &addr) == 0)
			__sync_fetch_and_sub(&unanswered_entries, 1);
	}

	struct exchange_clock c;
	read_exchange_clock(sk, &c, btf);
	if (ends_established && (!c.received || !port_ever_listened(BPF_CORE_READ(sk, __sk_common.skc_num))))
		return; /* no request, or not a port anything listens on: nothing to time (the cheap tests first) */
	struct socktrace_event where = {};
	struct socktrace_timing_key key = {};
	fill_addrs_from_sock(&where, sk, btf);
	where.netns = sock_netns(sk, btf);
	if (ends_established && !is_service_side(&where))
		return;
	unsigned int now = (unsigned int)bpf_jiffies64();

	if (!ends_established) {
		bool answered_late = (int)(c.last_out - request) > 0;
		timing_key_of(&key, &where, answered_late ? SOCKTRACE_TIMING_LATE : SOCKTRACE_TIMING_UNANSWERED);
		count_timing(&key, answered_late ? c.last_out - request : now - request);
		return;
	}
	if (c.sent && (int)(c.last_out - c.last_in) >= 0) {
		timing_key_of(&key, &where, SOCKTRACE_TIMING_ANSWERED);
		count_timing(&key, c.last_out - c.last_in);
		return;
	}
	timing_key_of(&key, &where, newstate == ST_TCP_CLOSE_WAIT ? SOCKTRACE_TIMING_GAVE_UP : SOCKTRACE_TIMING_UNANSWERED);
	count_timing(&key, now - c.last_in);
	if (newstate == ST_TCP_CLOSE_WAIT) {
		if (bpf_map_update_elem(&unanswered, &addr, &c.last_in, BPF_NOEXIST) == 0)
			__sync_fetch_and_add(&unanswered_entries, 1);
		else
			timing_missed(SOCKTRACE_TIMING_MISS_LATE);
	}
}

#endif /* SOCKTRACE_LIB_EXCHANGES_BPF_H */
