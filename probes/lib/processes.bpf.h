/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Processes: owners end when their process does, and carry the name it has now.
 */
#ifndef SOCKTRACE_LIB_PROCESSES_BPF_H
#define SOCKTRACE_LIB_PROCESSES_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "socktrace_event.h"
#include "owners.bpf.h"

/* ---------- processes: owners end when their process does, and carry its current name ---------- */

/* The last thread of a process is exiting (signal->live reached 0 just before this tracepoint). */
static __always_inline void on_process_exit(struct task_struct *task, bool btf)
{
	int live = btf ? task->signal->live.counter : BPF_CORE_READ(task, signal, live.counter);
	if (live)
		return;
	unsigned int tgid = btf ? task->tgid : BPF_CORE_READ(task, tgid);
	bpf_map_delete_elem(&owner_processes, &tgid);
}

/* exec and prctl(PR_SET_NAME) rename a task; only the leader's name is the process's. */
static __always_inline void on_rename(unsigned int pid, const char *comm)
{
	struct socktrace_process *p = bpf_map_lookup_elem(&owner_processes, &pid);
	if (p)
		bpf_probe_read_kernel_str(p->comm, sizeof(p->comm), comm);
}

#endif /* SOCKTRACE_LIB_PROCESSES_BPF_H */
