/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reading a socket (or the packet an RST answers): family, addresses, ports, namespace, cookie, id.
 */
#ifndef SOCKTRACE_LIB_SOCK_BPF_H
#define SOCKTRACE_LIB_SOCK_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "socktrace_event.h"
#include "constants.bpf.h"
#include "tunables.bpf.h"
#include "compat.bpf.h"

/* ---------- socket facts ---------- */

/*
 * tp_btf arguments are typed kernel pointers: plain loads (which the verifier makes fault-safe) cost far
 * less than the bpf_probe_read_kernel() calls that classic tracepoints need. Every reader takes `btf`,
 * a constant at each call site, so each program keeps only its own kind of read.
 */
#define SK_READ(btf, sk, field) ((btf) ? (sk)->field : BPF_CORE_READ(sk, field))

static __always_inline bool sock_is_tcp(const struct sock *sk, bool btf)
{
	unsigned short family = SK_READ(btf, sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return false;
	return sk_protocol_is_tcp(sk, btf);
}

static __always_inline unsigned int sock_netns(const struct sock *sk, bool btf)
{
	if (btf)
		return sk->__sk_common.skc_net.net->ns.inum;
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

/* The kernel's socket cookie, 0 if none was generated yet and this hook cannot generate one. */
static __always_inline unsigned long long sock_cookie(const struct sock *sk, bool btf)
{
	if (btf) { /* a typed load when the cookie exists, the helper (which generates it) when not */
		unsigned long long cookie = sk->__sk_common.skc_cookie.counter;
		return cookie ? cookie : bpf_get_socket_cookie((void *)sk);
	}
	return BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
}

/*
 * The socket's address as a number. A tp_btf argument is a trusted pointer the verifier allows no
 * arithmetic on, and it will not refill a spilled pointer as a scalar either. Stored into a map value
 * (allowed with CAP_PERFMON, which socktrace needs anyway) and loaded back, it is a plain number: two
 * inlined accesses instead of a bpf_probe_read_kernel() call, ~40 ns less on each of the hooks that
 * run for every connection.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, unsigned int);
	__type(value, unsigned long long);
} scratch_addr SEC(".maps");

static __always_inline unsigned long long sock_addr(const struct sock *sk)
{
	unsigned int zero = 0;
	const struct sock **slot = bpf_map_lookup_elem(&scratch_addr, &zero);
	if (!slot)
		return 0;
	*slot = sk;
	return *(volatile unsigned long long *)slot;
}

static __always_inline unsigned long long sock_id(const struct sock *sk, unsigned long long cookie,
						  unsigned int *flags)
{
	if (cookie_ids && cookie)
		return cookie;
	*flags |= SOCKTRACE_FLAG_ID_FALLBACK;
	return (sock_addr(sk) ^ id_salt) | (1ULL << 63);
}

/* The socket's local port, host order. */
static __always_inline unsigned short sock_local_port(const struct sock *sk, bool btf)
{
	unsigned short port = SK_READ(btf, sk, __sk_common.skc_num);
	/* Closing releases the port (inet_num = 0) before the CLOSE state is traced; inet_sport survives.
	 * Only full sockets ever have skc_num 0 here, so the inet_sock cast is safe. */
	if (port == 0) /* rare: a probed read (a typed load past struct sock would not verify) */
		port = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	return port;
}

/* The socket's peer port, host order. */
static __always_inline unsigned short sock_peer_port(const struct sock *sk, bool btf)
{
	return bpf_ntohs(SK_READ(btf, sk, __sk_common.skc_dport));
}

static __always_inline void fill_addrs_from_sock(struct socktrace_event *e, const struct sock *sk, bool btf)
{
	e->family = SK_READ(btf, sk, __sk_common.skc_family);
	e->sport = sock_local_port(sk, btf);
	e->dport = sock_peer_port(sk, btf);
	if (btf) { /* typed loads: no probe-read helper calls on the hot path */
		if (e->family == AF_INET) {
			*(__u32 *)e->saddr = sk->__sk_common.skc_rcv_saddr;
			*(__u32 *)e->daddr = sk->__sk_common.skc_daddr;
		} else {
			for (int i = 0; i < 4; i++) {
				((__u32 *)e->saddr)[i] = sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32[i];
				((__u32 *)e->daddr)[i] = sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[i];
			}
		}
		return;
	}
	/* Explicit sizes: BPF_CORE_READ_INTO on a byte array would copy a single byte. */
	if (e->family == AF_INET) {
		bpf_core_read(e->saddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(e->daddr, 4, &sk->__sk_common.skc_daddr);
	} else {
		bpf_core_read(e->saddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(e->daddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
}

/* A received packet's IP and TCP headers: the one parser of packets (RSTs answer them). */
struct incoming_tcp {
	unsigned char *ip;       /* its network header */
	unsigned char version;   /* 4 or 6 */
	unsigned char protocol;  /* IPv6 extension headers before TCP are not followed */
	struct tcphdr tcp;
};

/* Reads the headers the way the tcp_send_reset tracepoint itself does; false if they cannot be read. */
static __always_inline bool read_incoming_tcp(const struct sk_buff *skb, struct incoming_tcp *in)
{
	unsigned char *head = BPF_CORE_READ(skb, head);
	unsigned short nh = BPF_CORE_READ(skb, network_header);
	unsigned short th = BPF_CORE_READ(skb, transport_header);
	unsigned char first = 0;

	if (!head || bpf_probe_read_kernel(&first, 1, head + nh))
		return false;
	in->ip = head + nh;
	in->version = first >> 4;
	in->protocol = 0;
	if (in->version == 4)
		bpf_probe_read_kernel(&in->protocol, 1, in->ip + offsetof(struct iphdr, protocol));
	else if (in->version == 6)
		bpf_probe_read_kernel(&in->protocol, 1, in->ip + offsetof(struct ipv6hdr, nexthdr));
	else
		return false;
	return !bpf_probe_read_kernel(&in->tcp, sizeof(in->tcp), head + th);
}

/* An RST answering a packet: the RST's local side is the packet's destination. */
static __always_inline void fill_addrs_from_incoming(struct socktrace_event *e, const struct incoming_tcp *in)
{
	if (in->version == 4) {
		e->family = AF_INET;
		bpf_probe_read_kernel(e->daddr, 4, in->ip + offsetof(struct iphdr, saddr));
		bpf_probe_read_kernel(e->saddr, 4, in->ip + offsetof(struct iphdr, daddr));
	} else {
		e->family = AF_INET6;
		bpf_probe_read_kernel(e->daddr, 16, in->ip + offsetof(struct ipv6hdr, saddr));
		bpf_probe_read_kernel(e->saddr, 16, in->ip + offsetof(struct ipv6hdr, daddr));
	}
	e->dport = bpf_ntohs(in->tcp.source);
	e->sport = bpf_ntohs(in->tcp.dest);
}

#endif /* SOCKTRACE_LIB_SOCK_BPF_H */
