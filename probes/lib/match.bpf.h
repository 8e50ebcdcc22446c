/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A filtered watch's match (--port, --pid, --comm, --peer), applied before a record crosses the ring:
 * on a busy host a watch of one port then costs the kernel a few lookups per event, and user space
 * nothing, instead of decoding every event to throw most away.
 */
#ifndef SOCKTRACE_LIB_MATCH_BPF_H
#define SOCKTRACE_LIB_MATCH_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "socktrace_event.h"
#include "constants.bpf.h"
#include "tunables.bpf.h"
#include "sock.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SOCKTRACE_MATCH_ENTRIES);
	__type(key, unsigned short);
	__type(value, unsigned char);
} match_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SOCKTRACE_MATCH_ENTRIES);
	__type(key, unsigned int);
	__type(value, unsigned char);
} match_pids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SOCKTRACE_MATCH_ENTRIES);
	__type(key, char[SOCKTRACE_COMM_LEN]);
	__type(value, unsigned char);
} match_comms SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, SOCKTRACE_MATCH_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* an LPM trie must not be preallocated */
	__type(key, struct socktrace_peer_prefix);
	__type(value, unsigned char);
} match_peers SEC(".maps");

/*
 * Before a socket's record is even reserved: false when the watch asks for ports and this socket has
 * none of them, so the record would be thrown away (the same ports describe_sock writes). Saves a
 * record's writing for each event of every other socket on a busy host.
 */
static __always_inline bool sock_ports_may_match(const struct sock *sk, bool btf)
{
	if (!(match_fields & SOCKTRACE_MATCH_PORTS))
		return true;
	unsigned short local = sock_local_port(sk, btf), peer = sock_peer_port(sk, btf);
	return bpf_map_lookup_elem(&match_ports, &local) || bpf_map_lookup_elem(&match_ports, &peer);
}

/* Whether the record is one the watch asked for (always, with no match set). */
static __always_inline bool matches(const struct socktrace_event *e)
{
	unsigned int fields = match_fields;

	if (!fields)
		return true;
	if (fields & SOCKTRACE_MATCH_PORTS) {
		unsigned short local = e->sport, peer = e->dport;
		if (!bpf_map_lookup_elem(&match_ports, &local) && !bpf_map_lookup_elem(&match_ports, &peer))
			return false;
	}
	if (fields & SOCKTRACE_MATCH_PIDS) {
		unsigned int pid = e->owner_pid;
		if (!pid || !bpf_map_lookup_elem(&match_pids, &pid))
			return false;
	}
	if (fields & SOCKTRACE_MATCH_COMMS) {
		/* A key on the stack: 6.1's verifier takes no ring record as a map key (see compat.bpf.h). */
		char comm[SOCKTRACE_COMM_LEN];
		bool ended = false;
		/* Zeroed after its NUL, as user space writes the key: stray bytes there must not hide a match. */
		for (int i = 0; i < SOCKTRACE_COMM_LEN; i++) {
			ended = ended || !e->owner_comm[i];
			comm[i] = ended ? 0 : e->owner_comm[i];
		}
		if (!e->owner_pid || !bpf_map_lookup_elem(&match_comms, comm))
			return false;
	}
	if (fields & SOCKTRACE_MATCH_PEERS) {
		struct socktrace_peer_prefix key = { .prefixlen = 128 };
		if (e->family == AF_INET) {
			key.addr[10] = 0xff;
			key.addr[11] = 0xff;
			__builtin_memcpy(&key.addr[12], e->daddr, 4);
		} else {
			__builtin_memcpy(key.addr, e->daddr, 16);
		}
		if (!bpf_map_lookup_elem(&match_peers, &key))
			return false;
	}
	return true;
}

#endif /* SOCKTRACE_LIB_MATCH_BPF_H */
