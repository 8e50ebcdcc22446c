/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Errors returned to an application's send or receive: the caller owns them.
 */
#ifndef SOCKTRACE_LIB_ERRORS_BPF_H
#define SOCKTRACE_LIB_ERRORS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "socktrace_event.h"
#include "stamp.bpf.h"
#include "rules.bpf.h"

/* The errors socktrace reports (see rules.bpf.h). */
static __always_inline bool is_connection_error(int err)
{
	return SOCKTRACE_CONNECTION_ERROR(err);
}

/* sock_sendmsg/sock_recvmsg: always the caller's process context, so also where owners are learned. */
static __always_inline void on_msg_length(const struct sock *sk, int ret, unsigned char kind, bool btf)
{
	if (!sk || !sock_is_tcp(sk, btf))
		return;
	learn_owner(sk, btf);
	if (ret >= 0 || !is_connection_error(-ret) || !wanted(kind))
		return;
	struct socktrace_event *e = reserve_event(kind, btf);
	if (!e)
		return;
	e->err = -ret;
	describe_sock(e, sk, btf);
	stamp_caller(e, btf);
	submit(e);
}

#endif /* SOCKTRACE_LIB_ERRORS_BPF_H */
