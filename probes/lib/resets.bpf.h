/* SPDX-License-Identifier: GPL-2.0 */
/*
 * RSTs sent (with or without a socket) and received.
 */
#ifndef SOCKTRACE_LIB_RESETS_BPF_H
#define SOCKTRACE_LIB_RESETS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "socktrace_event.h"
#include "stamp.bpf.h"
#include "compat.bpf.h"

static __always_inline void on_send_reset(const struct sock *sk, const struct sk_buff *skb, int reason,
					  bool btf)
{
	if (!wanted(SOCKTRACE_KIND_RST_SENT) || (!sk && no_socket_rst_from_drops))
		return;
	struct socktrace_event *e = reserve_event(SOCKTRACE_KIND_RST_SENT, btf);
	if (!e)
		return;
	e->reason = reason < 0 ? SOCKTRACE_REASON_UNKNOWN : reason;
	/* sk may be a request or timewait socket: describe_sock reads only their common part. */
	if (sk) {
		describe_sock(e, sk, btf);
		stamp_closing_process(e, btf);
	} else {
		e->flags |= SOCKTRACE_FLAG_NO_SOCKET;
		if (skb) /* no socket to ask: the namespace is the receiving device's */
			e->netns = BPF_CORE_READ(skb, dev, nd_net.net, ns.inum);
	}
	/* The packet being answered names the RST's true 4-tuple (a listener's own addresses do not). */
	if (skb)
		fill_addrs_from_incoming_skb(e, skb);
	submit(e);
}

/*
 * A TCP segment for which no socket exists is answered with an RST (unless it is an RST itself) and then
 * freed with the drop reason NO_SOCKET, in tcp_v4_rcv and tcp_v6_rcv alike. Where tcp_send_reset needs a
 * socket, that drop is how an RST sent without one shows. (Segments dropped for NO_SOCKET before the
 * RST is sent, by an IPsec policy check, are reported too; they are rare.)
 */
static __always_inline void on_dropped_skb(const struct sk_buff *skb, unsigned int drop_reason, bool btf)
{
	if (!skb || drop_reason != bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_NO_SOCKET) ||
	    !wanted(SOCKTRACE_KIND_RST_SENT))
		return;
	unsigned char *head = BPF_CORE_READ(skb, head);
	unsigned short nh = BPF_CORE_READ(skb, network_header);
	unsigned short th = BPF_CORE_READ(skb, transport_header);
	unsigned char first = 0, protocol = 0;
	struct tcphdr tcp = {};

	if (!head || bpf_probe_read_kernel(&first, 1, head + nh))
		return;
	/* UDP drops for NO_SOCKET too: only TCP (IPv6 extension headers before TCP are not followed). */
	if (first >> 4 == 4)
		bpf_probe_read_kernel(&protocol, 1, head + nh + offsetof(struct iphdr, protocol));
	else if (first >> 4 == 6)
		bpf_probe_read_kernel(&protocol, 1, head + nh + offsetof(struct ipv6hdr, nexthdr));
	if (protocol != IPPROTO_TCP || bpf_probe_read_kernel(&tcp, sizeof(tcp), head + th) || tcp.rst)
		return;
	struct socktrace_event *e = reserve_event(SOCKTRACE_KIND_RST_SENT, btf);
	if (!e)
		return;
	e->reason = no_socket_rst_reason();
	e->flags |= SOCKTRACE_FLAG_NO_SOCKET | SOCKTRACE_FLAG_FROM_DROP;
	e->netns = BPF_CORE_READ(skb, dev, nd_net.net, ns.inum);
	if (!fill_addrs_from_incoming_skb(e, skb)) {
		bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
		return;
	}
	submit(e);
}

static __always_inline void on_receive_reset(const struct sock *sk, bool btf)
{
	if (!sk || !wanted(SOCKTRACE_KIND_RST_RECEIVED))
		return;
	struct socktrace_event *e = reserve_event(SOCKTRACE_KIND_RST_RECEIVED, btf);
	if (!e)
		return;
	describe_sock(e, sk, btf);
	submit(e);
}

#endif /* SOCKTRACE_LIB_RESETS_BPF_H */
