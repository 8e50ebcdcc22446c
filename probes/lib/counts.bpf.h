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

#endif /* SOCKTRACE_LIB_COUNTS_BPF_H */
