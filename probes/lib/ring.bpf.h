/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The ring buffer: reserving a record, submitting it, and counting every record submitted or lost.
 */
#ifndef SOCKTRACE_LIB_RING_BPF_H
#define SOCKTRACE_LIB_RING_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "socktrace_event.h"
#include "tunables.bpf.h"
#include "rules.bpf.h"
#include "task.bpf.h"
#include "match.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20); /* resized by user space before load */
} events SEC(".maps");

/* Lost and submitted records and unannounced bytes, per CPU (struct socktrace_ring_stats). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, unsigned int);
	__type(value, struct socktrace_ring_stats);
} ring_stats SEC(".maps");

/* Adds one to a single-slot per-CPU counter map: each CPU owns its slot, so no atomics are needed. */
static __always_inline void count_on_this_cpu(void *counter_map)
{
	unsigned int zero = 0;
	unsigned long long *n = bpf_map_lookup_elem(counter_map, &zero);
	if (n)
		*n += 1;
}

static __always_inline bool wanted(unsigned char kind)
{
	return emit_kinds & SOCKTRACE_KIND_BIT(kind);
}

/*
 * Counts the record as submitted (see struct socktrace_ring_stats) and batches wakeups: a CPU wakes the reader once it has submitted wakeup_bytes_per_cpu since its last
 * wakeup, so all CPUs together leave at most the wakeup threshold unannounced; otherwise the reader
 * finds the records on its next poll. A per-CPU count is an inlined array access, cheaper than
 * asking the ring how much is waiting (a helper call per event).
 */
static __always_inline void submit(struct socktrace_event *e)
{
	/* A filtered watch's match, now that the record says everything: not wanted, never crosses. */
	if (!matches(e)) {
		bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
		return;
	}
	unsigned int zero = 0;
	struct socktrace_ring_stats *stats = bpf_map_lookup_elem(&ring_stats, &zero);
	unsigned long long flags = BPF_RB_NO_WAKEUP;
	if (!stats) {
		flags = 0;
	} else {
		stats->submitted++;
		if (!wakeup_bytes_per_cpu) {
			flags = 0;
		} else {
			stats->unwoken_bytes += sizeof(struct socktrace_event);
			if (stats->unwoken_bytes >= wakeup_bytes_per_cpu) {
				stats->unwoken_bytes = 0;
				flags = BPF_RB_FORCE_WAKEUP;
			}
		}
	}
	bpf_ringbuf_submit(e, flags);
}

static __always_inline struct socktrace_event *reserve_event(unsigned char kind, bool btf)
{
	struct socktrace_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		unsigned int zero = 0;
		struct socktrace_ring_stats *stats = bpf_map_lookup_elem(&ring_stats, &zero);
		if (stats)
			stats->lost++;
		return 0;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->sock_id = 0;
	e->owner_cgroup = 0;
	e->owner_pid = 0;
	e->owner_uid = 0;
	struct task_struct *task = current_task(btf);
	e->task_pid = task_tgid(task, btf);
	e->netns = 0;
	__builtin_memset(e->saddr, 0, sizeof(e->saddr));
	__builtin_memset(e->daddr, 0, sizeof(e->daddr));
	e->sport = 0;
	e->dport = 0;
	e->family = 0;
	e->kind = kind;
	e->owner_source = SOCKTRACE_OWNER_NONE;
	e->old_state = 0;
	e->state = 0;
	e->reason = SOCKTRACE_REASON_UNKNOWN;
	e->err = 0;
	e->flags = 0;
	__builtin_memset(e->owner_comm, 0, sizeof(e->owner_comm));
	task_comm(task, e->task_comm, btf);
	e->owner_start = 0;
	return e;
}

#endif /* SOCKTRACE_LIB_RING_BPF_H */
