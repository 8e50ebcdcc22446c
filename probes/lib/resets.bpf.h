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
	struct incoming_tcp in = {};
	if (skb && read_incoming_tcp(skb, &in))
		fill_addrs_from_incoming(e, &in);
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
	if (!no_socket_rst_from_drops || !skb ||
	    drop_reason != bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_NO_SOCKET) ||
	    !wanted(SOCKTRACE_KIND_RST_SENT))
		return;
	struct incoming_tcp in = {};

	/* UDP drops for NO_SOCKET too: only TCP, and not an RST itself (no RST answers one). */
	if (!read_incoming_tcp(skb, &in) || in.protocol != IPPROTO_TCP || in.tcp.rst)
		return;
	struct socktrace_event *e = reserve_event(SOCKTRACE_KIND_RST_SENT, btf);
	if (!e)
		return;
	e->reason = no_socket_rst_reason();
	e->flags |= SOCKTRACE_FLAG_NO_SOCKET | SOCKTRACE_FLAG_FROM_DROP;
	e->netns = BPF_CORE_READ(skb, dev, nd_net.net, ns.inum);
	fill_addrs_from_incoming(e, &in);
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
