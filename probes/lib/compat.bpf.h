/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel-version differences, one place: each reader names the version that changed what it reads.
 * The oldest kernel socktrace is tested on is 6.1 (scripts/test-on-kernel); CO-RE picks the branch.
 */
#ifndef SOCKTRACE_LIB_COMPAT_BPF_H
#define SOCKTRACE_LIB_COMPAT_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>

#include "socktrace_event.h"
#include "constants.bpf.h"

/* 5.6: sk_protocol stopped being a bitfield; the bitfield readers handle both layouts. */
static __always_inline bool sk_protocol_is_tcp(const struct sock *sk, bool btf)
{
	if (btf)
		return BPF_CORE_READ_BITFIELD(sk, sk_protocol) == IPPROTO_TCP;
	return BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol) == IPPROTO_TCP;
}

/*
 * 6.10: tcp_send_reset became an event of its own, fired with or without a socket, with a reason (a
 * third argument of type enum sk_rst_reason). Before, it was a tcp_event_sk_skb event, fired only with a
 * full socket: that class is no longer in this vmlinux.h, so it is declared here (CO-RE matches it by
 * name without the ___ suffix on kernels that have it).
 */
struct trace_event_raw_tcp_event_sk_skb___before_6_10 {
	struct trace_entry ent;
	const void *skbaddr;
	const void *skaddr;
} __attribute__((preserve_access_index));

/* tp_btf's raw arguments: (sk, skb) everywhere, the reason only since 6.10 (-1 before). */
static __always_inline int btf_send_reset_reason(unsigned long long *ctx)
{
	int reason = -1;

	if (bpf_core_type_exists(enum sk_rst_reason))
		reason = (int)ctx[2];
	return reason;
}

/* 6.10: the RST reason NO_SOCKET exists (SOCKTRACE_REASON_UNKNOWN before). */
static __always_inline unsigned short no_socket_rst_reason(void)
{
	if (bpf_core_enum_value_exists(enum sk_rst_reason, SK_RST_REASON_NO_SOCKET))
		return bpf_core_enum_value(enum sk_rst_reason, SK_RST_REASON_NO_SOCKET);
	return SOCKTRACE_REASON_UNKNOWN;
}

/*
 * 6.18: a socket's drop counter may live in per-NUMA counters (struct numa_drop_counters, pointed to
 * by sk_drop_counters, which UDP and raw sockets set) instead of sk_drops; sk_drops_read() sums
 * whichever the socket uses. TCP listeners keep sk_drops (tcp_listendrop -> sk_drops_inc), and before
 * 6.18 there is only sk_drops: atomic_inc in tcp_listendrop itself.
 */
struct numa_drop_counters___6_18 {
	atomic_t drops0;
	atomic_t drops1;
} __attribute__((preserve_access_index));

struct sock___6_18 {
	struct numa_drop_counters___6_18 *sk_drop_counters;
} __attribute__((preserve_access_index));

/* What the socket dropped since it was made, as sk_drops_read() counts it (ss -m's d<N>). */
static __always_inline unsigned int sock_drops(const struct sock *sk)
{
	if (bpf_core_field_exists(struct sock___6_18, sk_drop_counters)) {
		const struct numa_drop_counters___6_18 *ndc = BPF_CORE_READ((const struct sock___6_18 *)sk, sk_drop_counters);
		if (ndc)
			return (unsigned int)BPF_CORE_READ(ndc, drops0.counter) + (unsigned int)BPF_CORE_READ(ndc, drops1.counter);
	}
	if (bpf_core_field_exists(struct sock, sk_drops))
		return (unsigned int)BPF_CORE_READ(sk, sk_drops.counter);
	return 0; /* no counter this kernel: no listener's grows, and overflows name nobody */
}

/*
 * 6.1's verifier refuses a ring-buffer record (alloc_mem) as a map lookup's key ("R2 type=alloc_mem
 * expected=fp, pkt, pkt_meta, map_key, map_value"): keys are copied to the stack first (lib/match.bpf.h).
 *
 * kfree_skb's raw arguments are (skb, location, reason) since drop reasons came (5.17); 6.11 added
 * rx_sk after them. sched_process_exit gained group_dead in 6.16: socktrace reads signal->live
 * instead, the same on every version (see on_process_exit).
 */

#endif /* SOCKTRACE_LIB_COMPAT_BPF_H */
