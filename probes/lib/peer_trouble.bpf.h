/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A peer that does not answer: segments sent again (a connect's SYN while the socket is in SYN_SENT),
 * and the errors the kernel ends a connection with (a connect that timed out, an unreachable host).
 * Both run in timer or softirq context: the owner comes from the owner table, never the current task.
 */
#ifndef SOCKTRACE_LIB_PEER_TROUBLE_BPF_H
#define SOCKTRACE_LIB_PEER_TROUBLE_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "socktrace_event.h"
#include "constants.bpf.h"
#include "stamp.bpf.h"
#include "rules.bpf.h"

static __always_inline void on_retransmit(const struct sock *sk, bool btf)
{
	if (!sk || !wanted(SOCKTRACE_KIND_RETRANSMIT) || !sock_is_tcp(sk, btf))
		return;
	struct socktrace_event *e = reserve_event(SOCKTRACE_KIND_RETRANSMIT, btf);
	if (!e)
		return;
	describe_sock(e, sk, btf);
	submit(e);
}

static __always_inline void on_error_report(const struct sock *sk, int err, bool btf)
{
	if (!sk || err <= 0 || SOCKTRACE_RESET_ERROR(err) || !wanted(SOCKTRACE_KIND_CONNECTION_ERROR) || !sock_is_tcp(sk, btf))
		return;
	struct socktrace_event *e = reserve_event(SOCKTRACE_KIND_CONNECTION_ERROR, btf);
	if (!e)
		return;
	e->err = err;
	/* No round-trip sample ever: nothing acknowledged a segment, not even a SYN. (The state cannot tell:
	 * newer kernels, 6.18 here, report after tcp_done has moved a timed-out connect to CLOSE.) */
	if (BPF_CORE_READ((const struct tcp_sock *)sk, srtt_us) == 0)
		e->flags |= SOCKTRACE_FLAG_UNANSWERED;
	describe_sock(e, sk, btf);
	submit(e);
}

#endif /* SOCKTRACE_LIB_PEER_TROUBLE_BPF_H */
