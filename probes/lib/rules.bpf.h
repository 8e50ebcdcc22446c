/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The rules the BPF programs and the bpftrace script both apply: which errors socktrace reports, and
 * which events cross to user space (emit_kinds and emit_states, or the script's $1 and $2). The
 * bpftrace parts call these macros by name and bpftrace-script.ts expands them from this file (with
 * the numbers from constants.bpf.h and socktrace_event.h), so the rules are written here only.
 * Keep each a single expression of its arguments and those numbers.
 */
#ifndef SOCKTRACE_LIB_RULES_BPF_H
#define SOCKTRACE_LIB_RULES_BPF_H

#include "constants.bpf.h"

/* Errors an application sees when its connection broke; EAGAIN and friends are normal life. */
#define SOCKTRACE_CONNECTION_ERROR(err)                                                              \
	((err) == EPIPE || (err) == ECONNRESET || (err) == ETIMEDOUT || (err) == ECONNREFUSED ||   \
	 (err) == ECONNABORTED || (err) == EHOSTUNREACH || (err) == ENETUNREACH)

/* What an RST received ends a connection with (tcp_reset: ECONNREFUSED in SYN_SENT, EPIPE in CLOSE_WAIT,
 * ECONNRESET otherwise): rst_received reports those, connection_error leaves them out. */
#define SOCKTRACE_RESET_ERROR(err) ((err) == ECONNRESET || (err) == EPIPE || (err) == ECONNREFUSED)

/* accept() failing for want of a resource: the connection stays queued. EAGAIN, EINTR: normal life. */
#define SOCKTRACE_ACCEPT_FAILURE(err) ((err) == EMFILE || (err) == ENFILE || (err) == ENOBUFS || (err) == ENOMEM)

/* An event of kind `kind` (enum socktrace_kind) crosses when the kinds mask has this bit. */
#define SOCKTRACE_KIND_BIT(kind) (1u << (kind))

/*
 * A state change crosses when the states mask has its old state's bit or its new state's. A new
 * connection's first step is LISTEN -> SYN_RECV on the child: not a listener's own change, so LISTEN
 * does not count then.
 */
#define SOCKTRACE_OLD_STATE_BIT(old, new) \
	((old) == ST_TCP_LISTEN && (new) != ST_TCP_CLOSE ? 0 : 1u << ((old) & 31))
#define SOCKTRACE_NEW_STATE_BIT(new) (1u << ((new) & 31))

#endif /* SOCKTRACE_LIB_RULES_BPF_H */
