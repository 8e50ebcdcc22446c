/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel-version differences, each naming the version that introduced it.
 */
#ifndef SOCKTRACE_LIB_COMPAT_BPF_H
#define SOCKTRACE_LIB_COMPAT_BPF_H

#include "vmlinux.h"

/*
 * Since 6.10 tcp_send_reset is an event of its own (with the reason); before, it shared the
 * tcp_event_sk_skb class (no longer in this vmlinux.h, so declared here; CO-RE matches it by name
 * without the ___ suffix on kernels that have it).
 */
struct trace_event_raw_tcp_event_sk_skb___before_6_10 {
	struct trace_entry ent;
	const void *skbaddr;
	const void *skaddr;
} __attribute__((preserve_access_index));

#endif /* SOCKTRACE_LIB_COMPAT_BPF_H */
