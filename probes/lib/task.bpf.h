/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The running task: its process id, start time and name, read once per program run where it can be.
 */
#ifndef SOCKTRACE_LIB_TASK_BPF_H
#define SOCKTRACE_LIB_TASK_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "socktrace_event.h"
#include "constants.bpf.h"
#include "tunables.bpf.h"

/*
 * The running task, asked for once per program run and handed down: with this CPU's return-thunk
 * mitigation (SRSO "Safe RET") every helper call costs ~40 ns, and bpf_get_current_task_btf() is one.
 * Classic programs (btf false) get NULL here and ask their own helpers.
 */
static __always_inline struct task_struct *current_task(bool btf)
{
	return btf ? bpf_get_current_task_btf() : 0;
}

static __always_inline bool task_is_kernel_thread(struct task_struct *task, bool btf)
{
	if (btf)
		return task->flags & PF_KTHREAD;
	struct task_struct *current = (struct task_struct *)bpf_get_current_task();
	return BPF_CORE_READ(current, flags) & PF_KTHREAD;
}

/* The task's process id (tgid), as bpf_get_current_pid_tgid() >> 32 gives it. */
static __always_inline unsigned int task_tgid(struct task_struct *task, bool btf)
{
	if (btf)
		return task->tgid;
	return bpf_get_current_pid_tgid() >> 32;
}

/* The task's name, as bpf_get_current_comm() gives it (comm is always NUL-terminated). */
static __always_inline void task_comm(struct task_struct *task, char comm[SOCKTRACE_COMM_LEN], bool btf)
{
	if (btf) { /* two typed loads instead of a helper call */
		*(__u64 *)comm = *(__u64 *)task->comm;
		*(__u64 *)(comm + 8) = *(__u64 *)(task->comm + 8);
	} else {
		bpf_get_current_comm(comm, SOCKTRACE_COMM_LEN);
	}
}

/*
 * The process's start time in clock ticks: its identity together with the tgid. The thread-group
 * leader's, which every thread shares (exec from a thread takes the leader's over, too).
 */
static __always_inline unsigned long long task_process_start(struct task_struct *task, bool btf)
{
	if (btf)
		return task->group_leader->start_boottime / ns_per_tick;
	struct task_struct *current = (struct task_struct *)bpf_get_current_task();
	return BPF_CORE_READ(current, group_leader, start_boottime) / ns_per_tick;
}

/* The process's name: its thread-group leader's, not that of the thread that happened to run. */
static __always_inline void task_process_comm(struct task_struct *task, char comm[SOCKTRACE_COMM_LEN], bool btf)
{
	if (btf) {
		struct task_struct *leader = task->group_leader;
		*(__u64 *)comm = *(__u64 *)leader->comm;
		*(__u64 *)(comm + 8) = *(__u64 *)(leader->comm + 8);
	} else {
		struct task_struct *current = (struct task_struct *)bpf_get_current_task();
		struct task_struct *leader = BPF_CORE_READ(current, group_leader);
		bpf_core_read(comm, SOCKTRACE_COMM_LEN, &leader->comm); /* sized: READ_INTO would copy one byte */
	}
}

#endif /* SOCKTRACE_LIB_TASK_BPF_H */
