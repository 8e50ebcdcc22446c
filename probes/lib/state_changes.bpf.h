/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A socket's state changes (learning owners, listeners, closers, the CLOSE_WAIT deferral) and its end.
 */
#ifndef SOCKTRACE_LIB_STATE_CHANGES_BPF_H
#define SOCKTRACE_LIB_STATE_CHANGES_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "socktrace_event.h"
#include "close_wait.bpf.h"
#include "exchanges.bpf.h"
#include "listeners.bpf.h"
#include "rules.bpf.h"

/* State changes by new state, per CPU: every transition, emitted or not. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SOCKTRACE_TRANSITION_SLOTS);
	__type(key, unsigned int);
	__type(value, unsigned long long);
} transitions SEC(".maps");

static __always_inline void on_state_change(const struct sock *sk, int oldstate, int newstate, bool btf)
{
	if (!sk || !sock_is_tcp(sk, btf))
		return;

	/* These transitions only happen inside the owner's own syscalls (connect, listen, close, shutdown). */
	bool process_context = newstate == ST_TCP_SYN_SENT || newstate == ST_TCP_LISTEN ||
			       (oldstate == ST_TCP_ESTABLISHED && newstate == ST_TCP_FIN_WAIT1) ||
			       (oldstate == ST_TCP_CLOSE_WAIT && newstate == ST_TCP_LAST_ACK);
	if (process_context)
		learn_owner_of(sk, btf, oldstate == ST_TCP_CLOSE ? LEARN_FRESH : LEARN_CHECK);

	if (newstate == ST_TCP_LISTEN) {
		listener_started(sk, btf);
	} else if (oldstate == ST_TCP_LISTEN && newstate == ST_TCP_CLOSE) {
		/* Only the listener itself closes this way; its accepted children leave LISTEN for SYN_RECV. */
		listener_stopped(sk, btf);
	} else if (remember_closers && newstate == ST_TCP_CLOSE &&
		   (oldstate == ST_TCP_FIN_WAIT1 || oldstate == ST_TCP_FIN_WAIT2 || oldstate == ST_TCP_CLOSING)) {
		remember_former_owner(sk, btf);
	}

	measure_exchange(sk, oldstate, newstate, btf);

	unsigned int slot = newstate & (SOCKTRACE_TRANSITION_SLOTS - 1);
	unsigned long long *count = bpf_map_lookup_elem(&transitions, &slot);
	if (count)
		*count += 1;
	/* Which of emit_states lets this change cross (see rules.bpf.h). */
	unsigned int old_bit = SOCKTRACE_OLD_STATE_BIT(oldstate, newstate);
	unsigned int states = emit_states;
	if ((newstate == ST_TCP_CLOSE_WAIT || oldstate == ST_TCP_CLOSE_WAIT) &&
	    close_wait_left_to_sweep(sk, oldstate, newstate, states & old_bit, btf))
		states &= ~(1u << ST_TCP_CLOSE_WAIT);
	if (!wanted(SOCKTRACE_KIND_STATE_CHANGE) || !(states & (old_bit | SOCKTRACE_NEW_STATE_BIT(newstate))) ||
	    !sock_ports_may_match(sk, btf)) {
		owner_ends_with(sk, oldstate, newstate);
		return;
	}

	struct socktrace_event *e = reserve_event(SOCKTRACE_KIND_STATE_CHANGE, btf);
	if (e) {
		e->old_state = oldstate;
		e->state = newstate;
		describe_sock(e, sk, btf);
		submit(e);
	}
	owner_ends_with(sk, oldstate, newstate);
}

static __always_inline void on_destroy(const struct sock *sk, bool btf)
{
	if (!sk)
		return;
	struct socktrace_event *e =
		wanted(SOCKTRACE_KIND_DESTROY) && sock_ports_may_match(sk, btf) ? reserve_event(SOCKTRACE_KIND_DESTROY, btf) : 0;
	if (e) {
		describe_sock(e, sk, btf);
		submit(e);
	}
	forget_owner(sock_addr(sk));
}

#endif /* SOCKTRACE_LIB_STATE_CHANGES_BPF_H */
