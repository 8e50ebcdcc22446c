/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Everything user space sets: before load (skeleton .rodata) or while running (.data/.bss).
 * One place, so what can be tuned and who tunes it reads in one sitting.
 */
#ifndef SOCKTRACE_LIB_TUNABLES_BPF_H
#define SOCKTRACE_LIB_TUNABLES_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "socktrace_event.h"

/* Set by user space before load (skeleton rodata). */
const volatile unsigned int socktrace_abi = SOCKTRACE_ABI_VERSION;
const volatile unsigned int socktrace_record_size = sizeof(struct socktrace_event);
const volatile unsigned long long id_salt = 0; /* hides kernel addresses in fallback socket ids */
/* Nanoseconds per clock tick (1e9 / sysconf(_SC_CLK_TCK)): process start times in /proc's unit. */
const volatile unsigned long long ns_per_tick = 10000000;

/* log2 of the table's sets, set by user space before load. */
const volatile unsigned int owner_set_bits = 17;

/*
 * What crosses the ring, changeable while running (user space writes these .data/.bss words): event kinds
 * as 1 << kind, and state changes whose old or new state is in emit_states (1 << state). What does not
 * cross is still counted in `transitions`, so a consumer that needs only CLOSE_WAIT and RSTs pays for
 * little else.
 */
volatile unsigned int emit_kinds = 0xffffffff;
volatile unsigned int emit_states = 0xffffffff;
/* Which match tables a filtered watch set (SOCKTRACE_MATCH_*; lib/match.bpf.h): set before attach. */
volatile unsigned int match_fields = 0;
/*
 * Owners end when their socket changes to CLOSE, rather than at tcp_destroy_sock: user space sets this
 * when it does not attach that hook (the daemon, unless it logs destroy events), saving two hook runs
 * per connection. A socket in CLOSE is unhashed, so nothing but its own process's calls touches it
 * again (see stamp_closing_process); nothing learns an owner for it any more.
 */
volatile bool owners_end_at_close = false;
/* Keep the owners of closed connections for their TIME_WAIT sockets' RSTs (costs a map write per close). */
volatile bool remember_closers = true;
/* accept()'s exit learns the owner of the socket it returns (tracer.acceptHooks); failures count always. */
const volatile bool learn_accepted = true;
/* Services' answer times and clients that give up, counted in `timings` (lib/exchanges.bpf.h). */
const volatile bool measure_exchanges = true;
/* Bytes one CPU submits before it wakes the reader (0: every submit does); user space sets it to the
 * wakeup threshold divided by the number of CPUs. Below it, the reader's poll timeout picks records up. */
volatile unsigned long long wakeup_bytes_per_cpu = 0;

/*
 * CLOSE_WAIT reports deferred by this long (0: they cross as they happen). Most CLOSE_WAITs last
 * microseconds (the server closes as soon as it reads the FIN); a leak is one that lasts. Deferred,
 * entering CLOSE_WAIT only notes the time in `close_waits`, leaving it clears that, and the sweep
 * (below) reports the sockets still there after the delay, with their exact entry time: the two events
 * per connection that the default daemon needs cross only for sockets that linger. User space sets
 * this after load, and only when the sweep can run.
 */
volatile unsigned long long close_wait_delay_ns = 0;

/*
 * The socket id user space sees: the cookie (the number `ss -e` prints) when the state-change hook is a
 * tp_btf program, so every socket gets its cookie at its first state change. With classic tracepoints
 * nothing generates cookies early, and one generated mid-life would change the id, so the id is then
 * the salted address for the socket's whole life. User space sets cookie_ids before load.
 */
const volatile bool cookie_ids = true;

/*
 * Set by user space when tcp_send_reset fires only for full sockets (before 6.10) and the kfree_skb
 * hook stands in for RSTs sent without one; tcp_send_reset then leaves those to it (no duplicates
 * where both would see one, as when the fallback is forced for a test).
 */
const volatile bool no_socket_rst_from_drops = false;

#endif /* SOCKTRACE_LIB_TUNABLES_BPF_H */
