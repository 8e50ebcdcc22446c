/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Clients whose handshake a full accept queue refused, where the kernel names them: since 6.15 a final
 * ACK refused for a full queue (tcp_check_req → syn_recv_sock) is freed with the drop reason
 * TCP_LISTEN_OVERFLOW. A SYN dropped for a full queue has no reason and no tracepoint: those overflows
 * stay counted only (TcpExt ListenOverflows, the listener's sk_drops; see core/listen-overflows.ts).
 */
#ifndef SOCKTRACE_LIB_LISTEN_REFUSALS_BPF_H
#define SOCKTRACE_LIB_LISTEN_REFUSALS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "socktrace_event.h"
#include "sock.bpf.h"

/*
 * Refused final ACKs since start, per namespace, address and port knocked at, and client address
 * (struct socktrace_refused_ack_key): cumulative, read with the listeners' drop counters when a
 * namespace counted overflows, and differenced by user space. LRU: the clients gone quiet longest make
 * room; one evicted and back starts from 1, which user space takes as new.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct socktrace_refused_ack_key);
	__type(value, unsigned long long);
} refused_acks SEC(".maps");

static __always_inline void on_refused_ack(const struct sk_buff *skb, unsigned int drop_reason)
{
	/* The reason exists since 6.15; before, the check is false and the verifier drops the rest. */
	if (!bpf_core_enum_value_exists(enum skb_drop_reason, SKB_DROP_REASON_TCP_LISTEN_OVERFLOW) ||
	    drop_reason != bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_TCP_LISTEN_OVERFLOW) || !skb)
		return;
	struct incoming_tcp in = {};
	if (!read_incoming_tcp(skb, &in) || in.protocol != IPPROTO_TCP)
		return;
	struct socktrace_refused_ack_key key = {
		.netns = BPF_CORE_READ(skb, dev, nd_net.net, ns.inum),
		.port = bpf_ntohs(in.tcp.dest),
	};
	if (in.version == 4) {
		key.family = AF_INET;
		bpf_probe_read_kernel(key.local, 4, in.ip + offsetof(struct iphdr, daddr));
		bpf_probe_read_kernel(key.peer, 4, in.ip + offsetof(struct iphdr, saddr));
	} else {
		key.family = AF_INET6;
		bpf_probe_read_kernel(key.local, 16, in.ip + offsetof(struct ipv6hdr, daddr));
		bpf_probe_read_kernel(key.peer, 16, in.ip + offsetof(struct ipv6hdr, saddr));
	}
	unsigned long long *n = bpf_map_lookup_elem(&refused_acks, &key);
	if (n) {
		__sync_fetch_and_add(n, 1);
		return;
	}
	unsigned long long one = 1;
	/* Another CPU may have added the key meanwhile: then add to its count. */
	if (bpf_map_update_elem(&refused_acks, &key, &one, BPF_NOEXIST) != 0) {
		n = bpf_map_lookup_elem(&refused_acks, &key);
		if (n)
			__sync_fetch_and_add(n, 1);
	}
}

#endif /* SOCKTRACE_LIB_LISTEN_REFUSALS_BPF_H */
