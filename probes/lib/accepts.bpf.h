/* SPDX-License-Identifier: GPL-2.0 */
/*
 * accept() and accept4() returning: the one place a server's new socket meets its owner, and where a
 * service out of file descriptors shows it. An accept that fails for want of a resource leaves the
 * connection in the queue and the socket layer never runs, so the syscall's exit is the only witness.
 */
#ifndef SOCKTRACE_LIB_ACCEPTS_BPF_H
#define SOCKTRACE_LIB_ACCEPTS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "socktrace_event.h"
#include "rules.bpf.h"
#include "syscalls.bpf.h"

static __always_inline void on_accept_exit(long ret)
{
	if (ret >= 0) {
		if (learn_accepted)
			learn_owner_of_fd(ret);
		return;
	}
	if (!SOCKTRACE_ACCEPT_FAILURE(-ret) || !wanted(SOCKTRACE_KIND_ACCEPT_ERROR))
		return;
	/* The exit record carries only the result: the listener's fd is the first argument, still in the
	 * registers saved at the syscall's entry (bpf_task_pt_regs, 5.15+). */
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	const struct sock *sk = sock_of_fd(PT_REGS_PARM1_CORE_SYSCALL(regs));
	if (!sk || !sock_is_tcp(sk, false))
		return;
	report_syscall_error(SOCKTRACE_KIND_ACCEPT_ERROR, sk, -ret);
}

#endif /* SOCKTRACE_LIB_ACCEPTS_BPF_H */
