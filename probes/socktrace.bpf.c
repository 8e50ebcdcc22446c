// SPDX-License-Identifier: GPL-2.0
/*
 * socktrace's kernel side: TCP state changes, RSTs and socket errors, each stamped with the process
 * that owns the socket.
 *
 * Why owners are kept here: FINs and RSTs are handled in softirq, inside whatever task happens to run
 * (the peer on loopback, ksoftirqd, swapper), so the current task at a state change is not the owner.
 * We learn each socket's owner only where the kernel runs in that owner's own process context (connect,
 * listen, accept's return, send, receive, close) and remember it in a table keyed by the socket.
 *
 * Every hook exists twice: as tp_btf (typed arguments, socket cookies) and as a classic tracepoint for
 * kernels where tp_btf cannot attach. User space picks one per hook before load (autoload), so one object
 * serves both.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "socktrace_event.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define SOCK_STREAM 1
#define PF_KTHREAD 0x00200000

/* TCP states, as include/net/tcp_states.h numbers them. */
#define ST_TCP_ESTABLISHED 1
#define ST_TCP_SYN_SENT 2
#define ST_TCP_SYN_RECV 3
#define ST_TCP_FIN_WAIT1 4
#define ST_TCP_FIN_WAIT2 5
#define ST_TCP_CLOSING 11
#define ST_TCP_TIME_WAIT 6
#define ST_TCP_CLOSE 7
#define ST_TCP_CLOSE_WAIT 8
#define ST_TCP_LAST_ACK 9
#define ST_TCP_LISTEN 10
#define ST_TCP_NEW_SYN_RECV 12

#define EPIPE 32
#define ENETUNREACH 101
#define ECONNABORTED 103
#define ECONNRESET 104
#define ETIMEDOUT 110
#define ECONNREFUSED 111
#define EHOSTUNREACH 113

/* Set by user space before load (skeleton rodata). */
const volatile unsigned int socktrace_abi = SOCKTRACE_ABI_VERSION;
const volatile unsigned int socktrace_record_size = sizeof(struct socktrace_event);
const volatile unsigned long long id_salt = 0; /* hides kernel addresses in fallback socket ids */
/* Nanoseconds per clock tick (1e9 / sysconf(_SC_CLK_TCK)): process start times in /proc's unit. */
const volatile unsigned long long ns_per_tick = 10000000;

/*
 * Socket owners, keyed by struct sock address, in a two-way set-associative table held in an array.
 * Every connection writes its owner once or twice and clears it at destroy. With a hash map (LRU or
 * not) owner bookkeeping cost ~3.5% of a loopback connection-churn rate, with this table ~1.5%
 * (bench/churn-overhead.mjs): an array slot is found by arithmetic, with no bucket lock or free list. A set whose
 * two ways are both taken by live sockets evicts one; evictions are counted, never silent.
 */
struct owner_slot {
	unsigned long long sk; /* 0: free */
	struct socktrace_owner owner;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1 << 18); /* resized by user space before load: 2 << owner_set_bits */
	__type(key, unsigned int);
	__type(value, struct owner_slot);
} owner_slots SEC(".maps");

/* log2 of the table's sets, set by user space before load. */
const volatile unsigned int owner_set_bits = 17;

/*
 * Sockets in CLOSE_WAIT whose report is deferred (see close_wait_delay_ns), at their owner slot's index.
 * Only CLOSE_WAIT entries write here, so the per-connection path pays nothing for it; the sweep scans
 * this small table, and checks a socket by state and cookie before it reports it (an owner slot can
 * change hands, and socket memory is reused).
 */
struct close_wait {
	unsigned long long sk;    /* the socket's address */
	unsigned long long since; /* bpf_ktime_get_ns() at entry, 0 once it left; | CLOSE_WAIT_REPORTED */
	unsigned long long cookie;
	unsigned int from;        /* the state it entered CLOSE_WAIT from */
	unsigned int _pad;
};

#define CLOSE_WAIT_REPORTED (1ULL << 63)

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1 << 18); /* resized by user space before load: as many as owner_slots */
	__type(key, unsigned int);
	__type(value, struct close_wait);
} close_waits SEC(".maps");

/* Owners keyed by socket cookie, written by user space from its inventory of pre-existing sockets. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, unsigned long long);
	__type(value, struct socktrace_owner);
} seeded_owners SEC(".maps");

/*
 * Owners of sockets the kernel destroyed, keyed by cookie: a TIME_WAIT socket outlives its full socket
 * and keeps its cookie, so an RST it sends can still name the process that closed the connection.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, unsigned long long);
	__type(value, struct socktrace_owner);
} former_owners SEC(".maps");

/*
 * Listening sockets by netns, port, family and address (struct socktrace_listener_group). Not an LRU:
 * a group evicted and made again would forget that it was mixed. A full table refuses new keys, and
 * their queued sockets then have no owner (counted with the owner evictions).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, struct socktrace_listener_key);
	__type(value, struct socktrace_listener_group);
} listeners SEC(".maps");

/*
 * Processes that own sockets, by tgid, while they live (struct socktrace_process). Not an LRU either:
 * an evicted live process would look exited. A full table leaves a new owner out, and its sockets'
 * events then name nobody (counted with the owner evictions) rather than someone else.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, unsigned int);
	__type(value, struct socktrace_process);
} owner_processes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20); /* resized by user space before load */
} events SEC(".maps");

/*
 * What crosses the ring, changeable while running (user space writes these .data/.bss words): event kinds
 * as 1 << kind, and state changes whose old or new state is in emit_states (1 << state). What does not
 * cross is still counted in `transitions`, so a consumer that needs only CLOSE_WAIT and RSTs pays for
 * little else.
 */
volatile unsigned int emit_kinds = 0xffffffff;
volatile unsigned int emit_states = 0xffffffff;
/*
 * Owners end when their socket changes to CLOSE, rather than at tcp_destroy_sock: user space sets this
 * when it does not attach that hook (the daemon, unless it logs destroy events), saving two hook runs
 * per connection. A socket in CLOSE is unhashed, so nothing but its own process's calls touches it
 * again (see stamp_closing_process); nothing learns an owner for it any more.
 */
volatile bool owners_end_at_close = false;
/* Keep the owners of closed connections for their TIME_WAIT sockets' RSTs (costs a map write per close). */
volatile bool remember_closers = true;
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

/* State changes by new state, per CPU: every transition, emitted or not. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 16);
	__type(key, unsigned int);
	__type(value, unsigned long long);
} transitions SEC(".maps");

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

/* ---------- socket facts ---------- */

/*
 * tp_btf arguments are typed kernel pointers: plain loads (which the verifier makes fault-safe) cost far
 * less than the bpf_probe_read_kernel() calls that classic tracepoints need. Every reader takes `btf`,
 * a constant at each call site, so each program keeps only its own kind of read.
 */
#define SK_READ(btf, sk, field) ((btf) ? (sk)->field : BPF_CORE_READ(sk, field))

static __always_inline bool sock_is_tcp(const struct sock *sk, bool btf)
{
	unsigned short family = SK_READ(btf, sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return false;
	/* sk_protocol was a bitfield before 5.6; the bitfield readers handle both layouts. */
	if (btf)
		return BPF_CORE_READ_BITFIELD(sk, sk_protocol) == IPPROTO_TCP;
	return BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol) == IPPROTO_TCP;
}

static __always_inline unsigned int sock_netns(const struct sock *sk, bool btf)
{
	if (btf)
		return sk->__sk_common.skc_net.net->ns.inum;
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

/* The kernel's socket cookie, 0 if none was generated yet and this hook cannot generate one. */
static __always_inline unsigned long long sock_cookie(const struct sock *sk, bool btf)
{
	if (btf) { /* a typed load when the cookie exists, the helper (which generates it) when not */
		unsigned long long cookie = sk->__sk_common.skc_cookie.counter;
		return cookie ? cookie : bpf_get_socket_cookie((void *)sk);
	}
	return BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
}

/*
 * The socket's address as a number. A tp_btf argument is a trusted pointer the verifier allows no
 * arithmetic on, and it will not refill a spilled pointer as a scalar either. Stored into a map value
 * (allowed with CAP_PERFMON, which socktrace needs anyway) and loaded back, it is a plain number: two
 * inlined accesses instead of a bpf_probe_read_kernel() call, ~40 ns less on each of the hooks that
 * run for every connection.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, unsigned int);
	__type(value, unsigned long long);
} scratch_addr SEC(".maps");

static __always_inline unsigned long long sock_addr(const struct sock *sk)
{
	unsigned int zero = 0;
	const struct sock **slot = bpf_map_lookup_elem(&scratch_addr, &zero);
	if (!slot)
		return 0;
	*slot = sk;
	return *(volatile unsigned long long *)slot;
}

/*
 * The socket id user space sees: the cookie (the number `ss -e` prints) when the state-change hook is a
 * tp_btf program, so every socket gets its cookie at its first state change. With classic tracepoints
 * nothing generates cookies early, and one generated mid-life would change the id, so the id is then
 * the salted address for the socket's whole life. User space sets cookie_ids before load.
 */
const volatile bool cookie_ids = true;

static __always_inline unsigned long long sock_id(const struct sock *sk, unsigned long long cookie,
						  unsigned int *flags)
{
	if (cookie_ids && cookie)
		return cookie;
	*flags |= SOCKTRACE_FLAG_ID_FALLBACK;
	return (sock_addr(sk) ^ id_salt) | (1ULL << 63);
}

static __always_inline void fill_addrs_from_sock(struct socktrace_event *e, const struct sock *sk, bool btf)
{
	e->family = SK_READ(btf, sk, __sk_common.skc_family);
	e->sport = SK_READ(btf, sk, __sk_common.skc_num);
	/* Closing releases the port (inet_num = 0) before the CLOSE state is traced; inet_sport survives.
	 * Only full sockets ever have skc_num 0 here, so the inet_sock cast is safe. */
	if (e->sport == 0) /* rare: a probed read (a typed load past struct sock would not verify) */
		e->sport = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	e->dport = bpf_ntohs(SK_READ(btf, sk, __sk_common.skc_dport));
	if (btf) { /* typed loads: no probe-read helper calls on the hot path */
		if (e->family == AF_INET) {
			*(__u32 *)e->saddr = sk->__sk_common.skc_rcv_saddr;
			*(__u32 *)e->daddr = sk->__sk_common.skc_daddr;
		} else {
			for (int i = 0; i < 4; i++) {
				((__u32 *)e->saddr)[i] = sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32[i];
				((__u32 *)e->daddr)[i] = sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[i];
			}
		}
		return;
	}
	/* Explicit sizes: BPF_CORE_READ_INTO on a byte array would copy a single byte. */
	if (e->family == AF_INET) {
		bpf_core_read(e->saddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(e->daddr, 4, &sk->__sk_common.skc_daddr);
	} else {
		bpf_core_read(e->saddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(e->daddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
}

/*
 * An RST answering a packet: the RST's local side is the packet's destination. Reads the IP and TCP
 * headers the way the tcp_send_reset tracepoint itself does.
 */
static __always_inline bool fill_addrs_from_incoming_skb(struct socktrace_event *e, const struct sk_buff *skb)
{
	unsigned char *head = BPF_CORE_READ(skb, head);
	unsigned short nh = BPF_CORE_READ(skb, network_header);
	unsigned short th = BPF_CORE_READ(skb, transport_header);
	unsigned char version = 0;
	struct tcphdr tcp = {};

	if (!head || bpf_probe_read_kernel(&version, 1, head + nh))
		return false;
	version >>= 4;
	if (version == 4) {
		e->family = AF_INET;
		bpf_probe_read_kernel(e->daddr, 4, head + nh + offsetof(struct iphdr, saddr));
		bpf_probe_read_kernel(e->saddr, 4, head + nh + offsetof(struct iphdr, daddr));
	} else if (version == 6) {
		e->family = AF_INET6;
		bpf_probe_read_kernel(e->daddr, 16, head + nh + offsetof(struct ipv6hdr, saddr));
		bpf_probe_read_kernel(e->saddr, 16, head + nh + offsetof(struct ipv6hdr, daddr));
	} else {
		return false;
	}
	if (bpf_probe_read_kernel(&tcp, sizeof(tcp), head + th))
		return false;
	e->dport = bpf_ntohs(tcp.source);
	e->sport = bpf_ntohs(tcp.dest);
	return true;
}

/* ---------- owners ---------- */

/* Owners displaced from a full set, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, unsigned int);
	__type(value, unsigned long long);
} owner_evictions SEC(".maps");

/* The first way of the socket's set: slab addresses have regular low bits, so hash multiplicatively. */
static __always_inline unsigned int owner_set(unsigned long long addr)
{
	unsigned int bits = owner_set_bits;
	return (unsigned int)((addr * 0x9E3779B97F4A7C15ULL) >> (64 - bits)) << 1;
}

/* The way of the socket's set that holds it, or NULL; its index in *idx. */
static __always_inline struct owner_slot *find_slot_at(unsigned long long addr, unsigned int *idx)
{
	if (!addr) /* 0 marks a free slot */
		return 0;
	*idx = owner_set(addr);
	struct owner_slot *way = bpf_map_lookup_elem(&owner_slots, idx);
	if (way && way->sk == addr)
		return way;
	*idx |= 1;
	way = bpf_map_lookup_elem(&owner_slots, idx);
	if (way && way->sk == addr)
		return way;
	return 0;
}

static __always_inline struct owner_slot *find_slot(unsigned long long addr)
{
	unsigned int idx;
	return find_slot_at(addr, &idx);
}

/* A slot may hold only a CLOSE_WAIT time (pid 0) for a socket no process has touched yet. */
static __always_inline struct socktrace_owner *find_owner(unsigned long long addr)
{
	struct owner_slot *way = find_slot(addr);
	return way && way->owner.pid ? &way->owner : 0;
}

/* Returns the index of the way it took, or -1. */
static __always_inline int store_owner(unsigned long long addr, const struct socktrace_owner *o)
{
	unsigned int idx = owner_set(addr);
	unsigned int idx1 = idx | 1;
	struct owner_slot *way0 = bpf_map_lookup_elem(&owner_slots, &idx);
	struct owner_slot *way1 = bpf_map_lookup_elem(&owner_slots, &idx1);
	struct owner_slot *way;
	if (!way0 || !way1 || !addr)
		return -1;
	if (way0->sk == addr || (way0->sk == 0 && way1->sk != addr)) {
		way = way0;
	} else if (way1->sk == addr || way1->sk == 0) {
		way = way1;
		idx = idx1;
	} else {
		/* Both ways hold live sockets: displace one, chosen by address bits, and count it. */
		count_on_this_cpu(&owner_evictions);
		if ((addr >> 12) & 1) {
			way = way1;
			idx = idx1;
		} else {
			way = way0;
		}
	}
	way->sk = addr;
	way->owner = *o;
	return idx;
}

static __always_inline void forget_owner(unsigned long long addr)
{
	struct owner_slot *way = find_slot(addr); /* store_owner never puts a socket in both ways */
	if (way)
		way->sk = 0;
}

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

static __always_inline void owner_from_task(struct socktrace_owner *o, struct task_struct *task, bool btf)
{
	o->pid = task_tgid(task, btf);
	o->start = task_process_start(task, btf);
	o->source = SOCKTRACE_OWNER_SOCKET;
	if (btf) { /* typed loads instead of helper calls: ~80 ns less each on this path (bpf_stats) */
		o->uid = task->cred->uid.val;
		o->cgroup = task->cgroups->dfl_cgrp->kn->id;
	} else {
		o->uid = (unsigned int)bpf_get_current_uid_gid();
		o->cgroup = bpf_get_current_cgroup_id();
	}
	task_process_comm(task, o->comm, btf);
}

/* The owner's process if it still lives (same pid, same start), else NULL: an exited owner names nobody. */
static __always_inline struct socktrace_process *living(const struct socktrace_owner *o)
{
	if (!o || !o->pid)
		return 0;
	unsigned int pid = o->pid;
	struct socktrace_process *p = bpf_map_lookup_elem(&owner_processes, &pid);
	return p && p->start == o->start ? p : 0;
}

/* Makes the owner's process known as living (until its exit, see on_process_exit). */
static __always_inline void note_living(const struct socktrace_owner *o)
{
	if (living(o))
		return;
	unsigned int pid = o->pid;
	struct socktrace_process p = { .start = o->start };
	__builtin_memcpy(p.comm, o->comm, sizeof(p.comm));
	if (bpf_map_update_elem(&owner_processes, &pid, &p, BPF_ANY))
		count_on_this_cpu(&owner_evictions); /* table full: this owner's sockets will name nobody */
}

/* How a process-context hook learns a socket's owner. */
enum learn_mode {
	LEARN_FRESH, /* connect, listen: the socket cannot have an entry yet, nothing to look up */
	LEARN_CHECK, /* send, receive, accept, close: the process using it now owns it (fds pass, fork) */
};

/* Called only from hooks that run in the owner's process context; cheap when nothing changed. */
static __always_inline void learn_owner_of(const struct sock *sk, bool btf, enum learn_mode mode)
{
	unsigned long long addr = sock_addr(sk);
	struct socktrace_owner *known = mode == LEARN_FRESH ? 0 : find_owner(addr);
	struct task_struct *task = current_task(btf);

	if (known && known->pid == task_tgid(task, btf) && known->start == task_process_start(task, btf))
		return;
	if (task_is_kernel_thread(task, btf)) /* in-kernel users (NFS, TLS offload work) own nothing */
		return;
	struct socktrace_owner o = {};
	owner_from_task(&o, task, btf);
	store_owner(addr, &o);
	note_living(&o);
}

/* Send, receive, accept: not for a socket in CLOSE, whose owner entry has ended or is about to. */
static __always_inline void learn_owner(const struct sock *sk, bool btf)
{
	if (SK_READ(btf, sk, __sk_common.skc_state) != ST_TCP_CLOSE)
		learn_owner_of(sk, btf, LEARN_CHECK);
}

/* ---------- listeners and their queues ---------- */

/* What a socket listens on, or (for a socket not accepted yet) what it was queued by. */
static __always_inline void listener_key_of(struct socktrace_listener_key *key, unsigned int netns,
					    unsigned short family, unsigned short port, const unsigned char *addr)
{
	key->netns = netns;
	key->port = port;
	key->family = family;
	__builtin_memcpy(key->addr, addr, SOCKTRACE_ADDR_LEN);
}

/* A socket started listening: join (or start) the group of listeners on its address and port. */
static __always_inline void listener_started(const struct sock *sk, bool btf)
{
	unsigned long long addr = sock_addr(sk);
	struct socktrace_owner *o = find_owner(addr);
	struct socktrace_event where = {};
	struct socktrace_listener_key key;

	fill_addrs_from_sock(&where, sk, btf);
	listener_key_of(&key, sock_netns(sk, btf), where.family, where.sport, where.saddr);
	struct socktrace_listener_group *g = bpf_map_lookup_elem(&listeners, &key);
	if (!g) {
		struct socktrace_listener_group fresh = { .count = 1 };
		if (o)
			fresh.owner = *o;
		fresh.owner.source = SOCKTRACE_OWNER_LISTENER;
		fresh.socks[0] = addr;
		if (!bpf_map_update_elem(&listeners, &key, &fresh, BPF_NOEXIST))
			return;
		g = bpf_map_lookup_elem(&listeners, &key); /* another CPU made it first, or the table is full */
		if (!g) {
			count_on_this_cpu(&owner_evictions);
			return;
		}
	}
	/* A listener of another process, or of none we know, makes the group's owner a guess. */
	if (!o || o->pid != g->owner.pid || o->start != g->owner.start)
		g->mixed = 1;
	for (int i = 0; i < SOCKTRACE_LISTENER_SOCKS; i++) {
		if (!g->socks[i]) {
			g->socks[i] = addr;
			break;
		}
	}
	g->count++;
}

/* A listener closed (LISTEN -> CLOSE: only the listener itself leaves LISTEN that way). */
static __always_inline void listener_stopped(const struct sock *sk, bool btf)
{
	unsigned long long addr = sock_addr(sk);
	struct socktrace_event where = {};
	struct socktrace_listener_key key;

	fill_addrs_from_sock(&where, sk, btf);
	listener_key_of(&key, sock_netns(sk, btf), where.family, where.sport, where.saddr);
	struct socktrace_listener_group *g = bpf_map_lookup_elem(&listeners, &key);
	if (!g)
		return;
	if (g->count <= 1) {
		bpf_map_delete_elem(&listeners, &key);
		return;
	}
	g->count--;
	for (int i = 0; i < SOCKTRACE_LISTENER_SOCKS; i++) {
		if (g->socks[i] == addr)
			g->socks[i] = 0;
	}
}

/* Accept queues are walked this far at most (the kernel's default somaxconn). */
#define ACCEPT_QUEUE_WALK_MAX 4096

struct queue_walk {
	unsigned long long req;   /* the request_sock to look at next, 0 at the end */
	unsigned long long child; /* the socket looked for */
	bool found;
};

static long queue_walk_step(unsigned int i, void *ctx)
{
	struct queue_walk *w = ctx;
	if (!w->req)
		return 1;
	struct request_sock *req = (struct request_sock *)w->req;
	if ((unsigned long long)BPF_CORE_READ(req, sk) == w->child) {
		w->found = true;
		return 1;
	}
	w->req = (unsigned long long)BPF_CORE_READ(req, dl_next);
	return 0;
}

/*
 * Whether the child waits in this listener's accept queue. Read without the queue's lock: a request
 * socket freed under us reads as the end of the queue or another socket, never as this child.
 */
static __always_inline bool in_accept_queue(unsigned long long listener, unsigned long long child)
{
	struct inet_connection_sock *icsk = (struct inet_connection_sock *)listener;
	struct queue_walk w = { .child = child };

	w.req = (unsigned long long)BPF_CORE_READ(icsk, icsk_accept_queue.rskq_accept_head);
	bpf_loop(ACCEPT_QUEUE_WALK_MAX, queue_walk_step, &w, 0);
	return w.found;
}

/* The states a socket a listener made can be in before its process first touches it. */
static __always_inline bool may_come_from_listener(const struct socktrace_event *e)
{
	return e->state == ST_TCP_ESTABLISHED || e->state == ST_TCP_SYN_RECV || e->state == ST_TCP_CLOSE_WAIT;
}

/*
 * A full socket no process holds yet: accept() grafts a struct socket onto it, close() orphans it and
 * leaves these states. So a socket in one of them without one is still in its listener's queue.
 */
static __always_inline bool waits_in_accept_queue(const struct sock *sk, bool btf)
{
	return !(btf ? sk->sk_socket : BPF_CORE_READ(sk, sk_socket));
}

/*
 * The owner of the listener a socket with no owner of its own came from: the group on its address,
 * else the wildcard. A queued socket is the listener's; one accepted but not yet used by its process
 * (the daemon leaves accept's exit unhooked) was almost surely accepted by the listener's process,
 * which the event marks as a guess (via: listener). Where the group's listeners belong to several
 * processes, a queued socket names the one whose queue holds it, an accepted one nobody.
 */
static __always_inline struct socktrace_owner *listener_owner(const struct socktrace_event *e, unsigned long long child,
							       bool queued)
{
	static const unsigned char wildcard[SOCKTRACE_ADDR_LEN] = {};
	struct socktrace_listener_key key;

	listener_key_of(&key, e->netns, e->family, e->sport, e->saddr);
	struct socktrace_listener_group *g = bpf_map_lookup_elem(&listeners, &key);
	if (!g) {
		listener_key_of(&key, e->netns, e->family, e->sport, wildcard);
		g = bpf_map_lookup_elem(&listeners, &key);
	}
	if (!g)
		return 0;
	if (!g->mixed)
		return &g->owner;
	if (!queued)
		return 0;
	for (int i = 0; i < SOCKTRACE_LISTENER_SOCKS; i++) {
		unsigned long long listener = g->socks[i];
		if (listener && in_accept_queue(listener, child))
			return find_owner(listener);
	}
	return 0;
}

/* A request socket (handshake under way) knows its listener. */
static __always_inline struct socktrace_owner *request_owner(const struct sock *sk)
{
	const struct sock *listener = BPF_CORE_READ((struct request_sock *)sk, __req_common.skc_listener);
	struct socktrace_owner *o = listener ? find_owner(sock_addr(listener)) : 0;
	if (!o && listener) {
		unsigned long long cookie = BPF_CORE_READ(listener, __sk_common.skc_cookie.counter);
		o = cookie ? bpf_map_lookup_elem(&seeded_owners, &cookie) : 0;
	}
	return o;
}

/* ---------- stamping events with owners ---------- */

static __always_inline void stamp_from(struct socktrace_event *e, const struct socktrace_owner *o, const char *comm,
				       unsigned char source)
{
	e->owner_pid = o->pid;
	e->owner_uid = o->uid;
	e->owner_cgroup = o->cgroup;
	e->owner_source = source;
	__builtin_memcpy(e->owner_comm, comm, sizeof(e->owner_comm));
}

/*
 * The owner, from the best knowledge there is, each candidate only if its process still lives: the
 * socket's own entry; the inventory's seed (adopted, so later events need one lookup); for TIME_WAIT,
 * the process that closed the connection; for a socket not accepted yet, its listener's owner.
 */
static __always_inline void stamp_owner(struct socktrace_event *e, const struct sock *sk,
					unsigned long long cookie, bool btf)
{
	unsigned long long addr = sock_addr(sk);
	struct socktrace_owner *o = find_owner(addr);
	struct socktrace_process *p = living(o);

	/* A TIME_WAIT socket keeps its full socket's cookie, not its owner (only its closer, below). */
	if (!p && cookie && e->state != ST_TCP_TIME_WAIT) {
		o = bpf_map_lookup_elem(&seeded_owners, &cookie);
		p = living(o);
		if (p && e->state != ST_TCP_CLOSE)
			store_owner(addr, o);
	}
	if (!p && cookie && e->state == ST_TCP_TIME_WAIT) {
		o = bpf_map_lookup_elem(&former_owners, &cookie);
		p = living(o);
	}
	if (p) {
		stamp_from(e, o, p->comm, o->source);
		return;
	}
	if (e->state == ST_TCP_NEW_SYN_RECV)
		o = request_owner(sk);
	else if (may_come_from_listener(e))
		o = listener_owner(e, addr, waits_in_accept_queue(sk, btf));
	else
		return;
	p = living(o);
	if (p)
		stamp_from(e, o, p->comm, SOCKTRACE_OWNER_LISTENER);
}

/*
 * An error returned to a send or receive happened inside the caller's own system call: the caller is
 * its owner, whatever was learned before (the socket may have been passed on, or be in CLOSE, where
 * nothing learns). Kernel threads (in-kernel sockets) keep what stamp_owner found.
 */
static __always_inline void stamp_caller(struct socktrace_event *e, bool btf)
{
	struct task_struct *task = current_task(btf);
	if (task_is_kernel_thread(task, btf))
		return;
	struct socktrace_owner o = {};
	owner_from_task(&o, task, btf);
	stamp_from(e, &o, o.comm, o.source);
}

/*
 * An RST on a socket already in CLOSE, with no owner known: a CLOSE socket is unhashed, so no
 * packet reaches it, and what still happens to it happens inside a call of its own process: close()
 * resetting a connection with unread data (the kernel changes the state to CLOSE first, then sends
 * the RST; packets left in the backlog are answered from release_sock). The running task is that
 * process.
 */
static __always_inline void stamp_closing_process(struct socktrace_event *e, bool btf)
{
	if (e->state == ST_TCP_CLOSE && !e->owner_pid)
		stamp_caller(e, btf);
}

/* ---------- events ---------- */

static __always_inline bool wanted(unsigned char kind)
{
	return emit_kinds & (1u << kind);
}

/*
 * Counts the record as submitted (see struct socktrace_ring_stats) and batches wakeups: a CPU wakes the reader once it has submitted wakeup_bytes_per_cpu since its last
 * wakeup, so all CPUs together leave at most the wakeup threshold unannounced; otherwise the reader
 * finds the records on its next poll. A per-CPU count is an inlined array access, cheaper than
 * asking the ring how much is waiting (a helper call per event).
 */
static __always_inline void submit(void *e)
{
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
	e->_reserved = 0;
	return e;
}

/* Fills everything that comes from a (full, request or timewait) socket, owner included. */
static __always_inline void describe_sock(struct socktrace_event *e, const struct sock *sk, bool btf)
{
	unsigned long long cookie = sock_cookie(sk, btf);

	e->sock_id = sock_id(sk, cookie, &e->flags);
	e->netns = sock_netns(sk, btf);
	if (!e->state)
		e->state = SK_READ(btf, sk, __sk_common.skc_state);
	fill_addrs_from_sock(e, sk, btf);
	stamp_owner(e, sk, cookie, btf);
}

/*
 * A clean active close hands the connection to a TIME_WAIT socket that keeps the cookie but no owner:
 * remember who closed it, so an RST that TIME_WAIT socket sends still names them.
 */
static __always_inline void remember_former_owner(const struct sock *sk, bool btf)
{
	struct socktrace_owner *o = find_owner(sock_addr(sk));
	unsigned long long cookie = o ? sock_cookie(sk, btf) : 0;
	if (!cookie)
		return;
	struct socktrace_owner former = *o;
	former.source = SOCKTRACE_OWNER_CLOSED;
	bpf_map_update_elem(&former_owners, &cookie, &former, BPF_ANY);
}

/*
 * Whether this change into or out of CLOSE_WAIT is the sweep's to report (see close_wait_delay_ns).
 * Entering: deferred when the socket has an owner slot to hold the time (and the change is not wanted
 * for its old state anyway). Leaving: crosses only if the sweep reported the entry; a short CLOSE_WAIT
 * stays in the kernel, counted in `transitions` like every change.
 */
static __always_inline bool close_wait_left_to_sweep(const struct sock *sk, int oldstate, int newstate,
						     bool old_state_wanted, bool btf)
{
	unsigned long long addr = sock_addr(sk);
	unsigned int idx = 0;
	struct close_wait *cw;

	if (newstate == ST_TCP_CLOSE_WAIT) {
		if (!close_wait_delay_ns || old_state_wanted)
			return false;
		if (!find_slot_at(addr, &idx)) { /* not accepted yet, say: an owner slot with no owner (pid 0) */
			struct socktrace_owner nobody = {};
			int taken = store_owner(addr, &nobody);
			if (taken < 0)
				return false;
			idx = taken;
		}
		cw = bpf_map_lookup_elem(&close_waits, &idx);
		if (!cw)
			return false;
		cw->sk = addr;
		cw->cookie = sock_cookie(sk, btf);
		cw->from = oldstate;
		cw->since = bpf_ktime_get_ns();
		return true;
	}
	if (!find_slot_at(addr, &idx))
		return false;
	cw = bpf_map_lookup_elem(&close_waits, &idx);
	if (!cw || cw->sk != addr || !cw->since)
		return false; /* its entry crossed as it happened */
	unsigned long long since = cw->since;
	cw->since = 0;
	return !(since & CLOSE_WAIT_REPORTED);
}

/*
 * With owners_end_at_close: the owner entry ends at the change to CLOSE, after the change's own event
 * took it. A socket accepted from a listener (LISTEN -> SYN_RECV is its first change) starts with
 * none, whatever an earlier socket at the same address left.
 */
static __always_inline void owner_ends_with(const struct sock *sk, int oldstate, int newstate)
{
	if (owners_end_at_close && (newstate == ST_TCP_CLOSE || oldstate == ST_TCP_LISTEN))
		forget_owner(sock_addr(sk));
}

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

	unsigned int slot = newstate & 15;
	unsigned long long *count = bpf_map_lookup_elem(&transitions, &slot);
	if (count)
		*count += 1;
	/* A new connection's first step is LISTEN -> SYN_RECV on the child: not a listener's own change. */
	unsigned int old_bit = oldstate == ST_TCP_LISTEN && newstate != ST_TCP_CLOSE ? 0 : 1u << (oldstate & 31);
	unsigned int states = emit_states;
	if ((newstate == ST_TCP_CLOSE_WAIT || oldstate == ST_TCP_CLOSE_WAIT) &&
	    close_wait_left_to_sweep(sk, oldstate, newstate, states & old_bit, btf))
		states &= ~(1u << ST_TCP_CLOSE_WAIT);
	if (!wanted(SOCKTRACE_KIND_STATE_CHANGE) || !(states & (old_bit | (1u << (newstate & 31))))) {
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

/*
 * Set by user space when tcp_send_reset fires only for full sockets (before 6.10) and the kfree_skb
 * hook stands in for RSTs sent without one; tcp_send_reset then leaves those to it (no duplicates
 * where both would see one, as when the fallback is forced for a test).
 */
const volatile bool no_socket_rst_from_drops = false;

static __always_inline void on_send_reset(const struct sock *sk, const struct sk_buff *skb, int reason,
					  bool btf)
{
	if (!wanted(SOCKTRACE_KIND_RST_SENT) || (!sk && no_socket_rst_from_drops))
		return;
	struct socktrace_event *e = reserve_event(SOCKTRACE_KIND_RST_SENT, btf);
	if (!e)
		return;
	e->reason = reason < 0 ? SOCKTRACE_REASON_UNKNOWN : reason;
	/* sk may be a request or timewait socket: describe_sock reads only their common part. */
	if (sk) {
		describe_sock(e, sk, btf);
		stamp_closing_process(e, btf);
	} else {
		e->flags |= SOCKTRACE_FLAG_NO_SOCKET;
		if (skb) /* no socket to ask: the namespace is the receiving device's */
			e->netns = BPF_CORE_READ(skb, dev, nd_net.net, ns.inum);
	}
	/* The packet being answered names the RST's true 4-tuple (a listener's own addresses do not). */
	if (skb)
		fill_addrs_from_incoming_skb(e, skb);
	submit(e);
}

/*
 * A TCP segment for which no socket exists is answered with an RST (unless it is an RST itself) and then
 * freed with the drop reason NO_SOCKET, in tcp_v4_rcv and tcp_v6_rcv alike. Where tcp_send_reset needs a
 * socket, that drop is how an RST sent without one shows. (Segments dropped for NO_SOCKET before the
 * RST is sent, by an IPsec policy check, are reported too; they are rare.)
 */
static __always_inline void on_dropped_skb(const struct sk_buff *skb, unsigned int drop_reason, bool btf)
{
	if (!skb || drop_reason != bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_NO_SOCKET) ||
	    !wanted(SOCKTRACE_KIND_RST_SENT))
		return;
	unsigned char *head = BPF_CORE_READ(skb, head);
	unsigned short nh = BPF_CORE_READ(skb, network_header);
	unsigned short th = BPF_CORE_READ(skb, transport_header);
	unsigned char first = 0, protocol = 0;
	struct tcphdr tcp = {};

	if (!head || bpf_probe_read_kernel(&first, 1, head + nh))
		return;
	/* UDP drops for NO_SOCKET too: only TCP (IPv6 extension headers before TCP are not followed). */
	if (first >> 4 == 4)
		bpf_probe_read_kernel(&protocol, 1, head + nh + offsetof(struct iphdr, protocol));
	else if (first >> 4 == 6)
		bpf_probe_read_kernel(&protocol, 1, head + nh + offsetof(struct ipv6hdr, nexthdr));
	if (protocol != IPPROTO_TCP || bpf_probe_read_kernel(&tcp, sizeof(tcp), head + th) || tcp.rst)
		return;
	struct socktrace_event *e = reserve_event(SOCKTRACE_KIND_RST_SENT, btf);
	if (!e)
		return;
	e->reason = SOCKTRACE_REASON_UNKNOWN;
	if (bpf_core_enum_value_exists(enum sk_rst_reason, SK_RST_REASON_NO_SOCKET))
		e->reason = bpf_core_enum_value(enum sk_rst_reason, SK_RST_REASON_NO_SOCKET);
	e->flags |= SOCKTRACE_FLAG_NO_SOCKET | SOCKTRACE_FLAG_FROM_DROP;
	e->netns = BPF_CORE_READ(skb, dev, nd_net.net, ns.inum);
	if (!fill_addrs_from_incoming_skb(e, skb)) {
		bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
		return;
	}
	submit(e);
}

static __always_inline void on_receive_reset(const struct sock *sk, bool btf)
{
	if (!sk || !wanted(SOCKTRACE_KIND_RST_RECEIVED))
		return;
	struct socktrace_event *e = reserve_event(SOCKTRACE_KIND_RST_RECEIVED, btf);
	if (!e)
		return;
	describe_sock(e, sk, btf);
	submit(e);
}

static __always_inline void on_destroy(const struct sock *sk, bool btf)
{
	if (!sk)
		return;
	struct socktrace_event *e = wanted(SOCKTRACE_KIND_DESTROY) ? reserve_event(SOCKTRACE_KIND_DESTROY, btf) : 0;
	if (e) {
		describe_sock(e, sk, btf);
		submit(e);
	}
	forget_owner(sock_addr(sk));
}

/* Errors an application sees when its connection broke; EAGAIN and friends are normal life. */
static __always_inline bool is_connection_error(int err)
{
	return err == EPIPE || err == ECONNRESET || err == ETIMEDOUT || err == ECONNREFUSED ||
	       err == ECONNABORTED || err == EHOSTUNREACH || err == ENETUNREACH;
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

/* ---------- tp_btf programs ---------- */

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(btf_inet_sock_set_state, const struct sock *sk, int oldstate, int newstate)
{
	on_state_change(sk, oldstate, newstate, true);
	return 0;
}

/* Raw ctx: the third argument (reason) exists only since 6.10, so it is read only when its type does. */
SEC("tp_btf/tcp_send_reset")
int btf_tcp_send_reset(unsigned long long *ctx)
{
	const struct sock *sk = (const struct sock *)ctx[0];
	const struct sk_buff *skb = (const struct sk_buff *)ctx[1];
	int reason = -1;

	if (bpf_core_type_exists(enum sk_rst_reason))
		reason = (int)ctx[2];
	on_send_reset(sk, skb, reason, true);
	return 0;
}

/* Raw ctx: (skb, location, reason) on every kernel with drop reasons (5.17+); later ones add rx_sk. */
SEC("tp_btf/kfree_skb")
int btf_kfree_skb(unsigned long long *ctx)
{
	on_dropped_skb((const struct sk_buff *)ctx[0], (unsigned int)ctx[2], true);
	return 0;
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(btf_tcp_receive_reset, struct sock *sk)
{
	on_receive_reset(sk, true);
	return 0;
}

SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(btf_tcp_destroy_sock, struct sock *sk)
{
	on_destroy(sk, true);
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(btf_sock_send_length, struct sock *sk, int ret, int flags)
{
	on_msg_length(sk, ret, SOCKTRACE_KIND_SEND_ERROR, true);
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(btf_sock_recv_length, struct sock *sk, int ret, int flags)
{
	on_msg_length(sk, ret, SOCKTRACE_KIND_RECV_ERROR, true);
	return 0;
}

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

SEC("tp_btf/sched_process_exit")
int BPF_PROG(btf_sched_process_exit, struct task_struct *task)
{
	on_process_exit(task, true);
	return 0;
}

/* The tracepoint runs before the new name is copied in: the name comes from its argument. */
SEC("tp_btf/task_rename")
int BPF_PROG(btf_task_rename, struct task_struct *task, const char *comm)
{
	if (task->pid == task->tgid)
		on_rename(task->pid, comm);
	return 0;
}

/*
 * The CLOSE_WAIT sweep, run by user space every close_wait_delay (BPF_PROG_TEST_RUN, never attached)
 * over close_waits[args[0], args[1]). Each socket in CLOSE_WAIT for longer than the delay and not yet
 * reported becomes the state_change record it would have been, stamped with its entry time and owner,
 * and is marked so that its exit crosses too. It goes by the socket's address, so every network
 * namespace is covered. The socket is read with probe reads and checked (still CLOSE_WAIT, same cookie)
 * before and after: socket memory is reused only after an RCU grace period, and we run inside one. A
 * full ring leaves it unmarked (the reserve failure is counted as lost): the next sweep tries again.
 *
 * One race is left: a socket leaving CLOSE_WAIT on another CPU in the few instructions between the
 * last check and the mark crosses no exit, so the core shows it in CLOSE_WAIT until its next inventory
 * (tracer.reconcileSeconds) corrects that.
 */
struct sweep_range {
	unsigned int first;
	unsigned long long now;
};

static __always_inline bool still_close_waiting(const struct sock *sk, unsigned long long cookie)
{
	return BPF_CORE_READ(sk, __sk_common.skc_state) == ST_TCP_CLOSE_WAIT &&
	       BPF_CORE_READ(sk, __sk_common.skc_cookie.counter) == cookie;
}

static long sweep_one(unsigned int i, void *ctx)
{
	struct sweep_range *range = ctx;
	unsigned int idx = range->first + i;
	struct close_wait *cw = bpf_map_lookup_elem(&close_waits, &idx);
	if (!cw)
		return 1; /* past the table's end */
	unsigned long long since = cw->since;
	if (!since || (since & CLOSE_WAIT_REPORTED) || range->now - since < close_wait_delay_ns)
		return 0;
	const struct sock *sk = (const struct sock *)cw->sk;
	unsigned long long cookie = cw->cookie;
	if (!still_close_waiting(sk, cookie)) {
		/* Gone without our seeing it leave (its owner slot went to another socket): forget it,
		 * unless a new entry was written meanwhile. */
		if (cw->since == since)
			cw->since = 0;
		return 0;
	}
	struct socktrace_event *e = reserve_event(SOCKTRACE_KIND_STATE_CHANGE, false);
	if (!e)
		return 1; /* ring full: the rest wait for the next sweep */
	e->ts_ns = since;
	e->task_pid = 0; /* no task ran this change now: the sweep's caller is not its context */
	__builtin_memset(e->task_comm, 0, sizeof(e->task_comm));
	e->flags |= SOCKTRACE_FLAG_DEFERRED;
	e->old_state = cw->from;
	e->state = ST_TCP_CLOSE_WAIT;
	describe_sock(e, sk, false);
	if (cw->since != since || !still_close_waiting(sk, cookie)) {
		bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
		return 0;
	}
	cw->since = since | CLOSE_WAIT_REPORTED;
	submit(e);
	return 0;
}

SEC("raw_tp")
int sweep_close_waits(struct bpf_raw_tracepoint_args *ctx)
{
	struct sweep_range range = { .first = (unsigned int)ctx->args[0], .now = bpf_ktime_get_ns() };
	unsigned int count = (unsigned int)(ctx->args[1] - ctx->args[0]);
	if (close_wait_delay_ns)
		bpf_loop(count, sweep_one, &range, 0);
	return 0;
}

/* ---------- counting every socket by state and owner, when user space asks ---------- */

/*
 * Sockets by owner and state, as the kernel knows them now (struct socktrace_count_key). Filled by
 * count_sockets, which user space runs over each network namespace (a tcp iterator walks the
 * namespace it is created in), read and emptied after each count. What the gauges say then comes from
 * the kernel's own tables at that moment, as `ss` reads them, not from events that a filter may have
 * held back.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct socktrace_count_key);
	__type(value, unsigned long long);
} socket_counts SEC(".maps");

SEC("iter/tcp")
int count_sockets(struct bpf_iter__tcp *ctx)
{
	const struct sock *sk = (const struct sock *)ctx->sk_common;
	if (!sk)
		return 0;
	struct socktrace_event e = {};
	describe_sock(&e, sk, false); /* the owner exactly as an event now would name it */
	/* A request socket (handshake under way) is what ss shows as SYN-RECV. */
	struct socktrace_count_key key = { .pid = e.owner_pid, .state = e.state };
	/* A timewait socket may stand in for a FIN_WAIT2 one (an orphan's, tcp_time_wait): ss shows that. */
	if (e.state == ST_TCP_TIME_WAIT)
		key.state = BPF_CORE_READ((struct inet_timewait_sock *)sk, tw_substate);
	if (e.state == ST_TCP_NEW_SYN_RECV) {
		key.state = ST_TCP_SYN_RECV;
		key.queued = 1; /* not a file of the listener's process yet */
	} else if (e.state == ST_TCP_TIME_WAIT || waits_in_accept_queue(sk, false)) {
		/* No file: waiting in an accept queue (the listener's, not yet its process's), or nobody's any
		 * more (TIME_WAIT, or orphaned by close() while the connection winds down), as ss -p shows. */
		key.queued = may_come_from_listener(&e) && e.owner_source == SOCKTRACE_OWNER_LISTENER;
		if (!key.queued)
			key.pid = 0;
	}
	unsigned long long one = 1;
	unsigned long long *n = bpf_map_lookup_elem(&socket_counts, &key);
	if (n) {
		*n += 1;
	} else if (bpf_map_update_elem(&socket_counts, &key, &one, BPF_NOEXIST)) {
		key.pid = 0; /* table full: counted, under no owner */
		n = bpf_map_lookup_elem(&socket_counts, &key);
		if (n)
			*n += 1;
	}
	return 0;
}

/* ---------- classic tracepoint programs (same handlers, arguments from the trace record) ---------- */

SEC("tracepoint/sock/inet_sock_set_state")
int tp_inet_sock_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	on_state_change((const struct sock *)ctx->skaddr, ctx->oldstate, ctx->newstate, false);
	return 0;
}

/* sched_process_exit is always the exiting task's own: the current task. */
SEC("tracepoint/sched/sched_process_exit")
int tp_sched_process_exit(void *ctx)
{
	on_process_exit((struct task_struct *)bpf_get_current_task(), false);
	return 0;
}

/* Keyed by tgid, owner_processes holds only leaders' pids: a thread's rename finds nothing there. */
SEC("tracepoint/task/task_rename")
int tp_task_rename(struct trace_event_raw_task_rename *ctx)
{
	on_rename(ctx->pid, ctx->newcomm);
	return 0;
}

/*
 * Since 6.10 tcp_send_reset is an event of its own (with the reason); before, it shared the
 * tcp_event_sk_skb class (no longer in this vmlinux.h, so declared here; CO-RE matches it by name
 * without the ___ suffix on kernels that have it).
 */
struct trace_event_raw_tcp_event_sk_skb___before_6_10 {
	struct trace_entry ent;
	const void *skbaddr;
	const void *skaddr;
} __attribute__((preserve_access_index));

SEC("tracepoint/tcp/tcp_send_reset")
int tp_tcp_send_reset(void *ctx)
{
	if (bpf_core_type_exists(struct trace_event_raw_tcp_send_reset)) {
		struct trace_event_raw_tcp_send_reset *tp = ctx;
		int reason = -1;

		if (bpf_core_field_exists(tp->reason))
			reason = BPF_CORE_READ(tp, reason);
		on_send_reset((const struct sock *)tp->skaddr, (const struct sk_buff *)tp->skbaddr, reason, false);
	} else {
		struct trace_event_raw_tcp_event_sk_skb___before_6_10 *tp = ctx;

		on_send_reset((const struct sock *)tp->skaddr, (const struct sk_buff *)tp->skbaddr, -1, false);
	}
	return 0;
}

SEC("tracepoint/skb/kfree_skb")
int tp_kfree_skb(struct trace_event_raw_kfree_skb *ctx)
{
	on_dropped_skb((const struct sk_buff *)ctx->skbaddr, ctx->reason, false);
	return 0;
}

SEC("tracepoint/tcp/tcp_receive_reset")
int tp_tcp_receive_reset(struct trace_event_raw_tcp_event_sk *ctx)
{
	on_receive_reset((const struct sock *)ctx->skaddr, false);
	return 0;
}

SEC("tracepoint/tcp/tcp_destroy_sock")
int tp_tcp_destroy_sock(struct trace_event_raw_tcp_event_sk *ctx)
{
	on_destroy((const struct sock *)ctx->skaddr, false);
	return 0;
}

SEC("tracepoint/sock/sock_send_length")
int tp_sock_send_length(struct trace_event_raw_sock_msg_length *ctx)
{
	on_msg_length((const struct sock *)ctx->sk, ctx->ret, SOCKTRACE_KIND_SEND_ERROR, false);
	return 0;
}

SEC("tracepoint/sock/sock_recv_length")
int tp_sock_recv_length(struct trace_event_raw_sock_msg_length *ctx)
{
	on_msg_length((const struct sock *)ctx->sk, ctx->ret, SOCKTRACE_KIND_RECV_ERROR, false);
	return 0;
}

/* ---------- accept: the one place a server's new socket meets its owner ---------- */

/* The layout of syscalls:sys_exit_* records (see /sys/kernel/tracing/events/syscalls/.../format). */
struct syscall_exit_record {
	unsigned long long common;
	int nr;
	long ret;
};

/* fd -> struct sock of the current task; NULL unless it is a socket. */
static __always_inline const struct sock *sock_of_fd(long fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *file = 0;

	if (fd < 0 || !fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return 0;
	struct socket *sock = BPF_CORE_READ(file, private_data);
	/* A socket's file points at the socket and back: a cheap test that private_data is one. */
	if (!sock || BPF_CORE_READ(sock, file) != file || BPF_CORE_READ(sock, type) != SOCK_STREAM)
		return 0;
	return BPF_CORE_READ(sock, sk);
}

static __always_inline void learn_owner_of_fd(long fd)
{
	const struct sock *sk = sock_of_fd(fd);
	if (sk && sock_is_tcp(sk, false))
		learn_owner(sk, false);
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int sys_exit_accept4(struct syscall_exit_record *ctx)
{
	learn_owner_of_fd(ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int sys_exit_accept(struct syscall_exit_record *ctx)
{
	learn_owner_of_fd(ctx->ret);
	return 0;
}

/* ---------- errors at syscall exits: the fallback where sock_{send,recv}_length do not exist ---------- */

/* syscalls:sys_enter_* records: the first argument is the fd for every syscall hooked here. */
struct syscall_enter_record {
	unsigned long long common;
	int nr;
	unsigned long args[6];
};

/* fd of the send/receive syscall each thread is in, from its entry to its exit. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, unsigned int);
	__type(value, int);
} syscall_fds SEC(".maps");

static __always_inline void remember_fd(unsigned long fd)
{
	unsigned int tid = (unsigned int)bpf_get_current_pid_tgid();
	int value = (int)fd;
	bpf_map_update_elem(&syscall_fds, &tid, &value, BPF_ANY);
}

static __always_inline void on_syscall_exit(long ret, unsigned char kind)
{
	unsigned int tid = (unsigned int)bpf_get_current_pid_tgid();
	int *fd = bpf_map_lookup_elem(&syscall_fds, &tid);
	if (!fd)
		return;
	int saved = *fd;
	bpf_map_delete_elem(&syscall_fds, &tid);
	if (ret >= 0 || !is_connection_error(-ret) || !wanted(kind))
		return;
	/* The fd is still open at exit, so it still names the socket that failed. */
	const struct sock *sk = sock_of_fd(saved);
	if (!sk || !sock_is_tcp(sk, false))
		return;
	learn_owner(sk, false);
	struct socktrace_event *e = reserve_event(kind, false);
	if (!e)
		return;
	e->err = -ret;
	e->flags |= SOCKTRACE_FLAG_FROM_SYSCALL;
	describe_sock(e, sk, false);
	stamp_caller(e, false);
	submit(e);
}

#define SYSCALL_ERROR_HOOKS(name, kind)                                        \
	SEC("tracepoint/syscalls/sys_enter_" #name)                            \
	int sys_enter_##name(struct syscall_enter_record *ctx)                 \
	{                                                                      \
		remember_fd(ctx->args[0]);                                     \
		return 0;                                                      \
	}                                                                      \
	SEC("tracepoint/syscalls/sys_exit_" #name)                             \
	int sys_exit_##name(struct syscall_exit_record *ctx)                   \
	{                                                                      \
		on_syscall_exit(ctx->ret, kind);                               \
		return 0;                                                      \
	}

SYSCALL_ERROR_HOOKS(write, SOCKTRACE_KIND_SEND_ERROR)
SYSCALL_ERROR_HOOKS(writev, SOCKTRACE_KIND_SEND_ERROR)
SYSCALL_ERROR_HOOKS(sendto, SOCKTRACE_KIND_SEND_ERROR)
SYSCALL_ERROR_HOOKS(sendmsg, SOCKTRACE_KIND_SEND_ERROR)
SYSCALL_ERROR_HOOKS(sendmmsg, SOCKTRACE_KIND_SEND_ERROR)
SYSCALL_ERROR_HOOKS(read, SOCKTRACE_KIND_RECV_ERROR)
SYSCALL_ERROR_HOOKS(readv, SOCKTRACE_KIND_RECV_ERROR)
SYSCALL_ERROR_HOOKS(recvfrom, SOCKTRACE_KIND_RECV_ERROR)
SYSCALL_ERROR_HOOKS(recvmsg, SOCKTRACE_KIND_RECV_ERROR)
SYSCALL_ERROR_HOOKS(recvmmsg, SOCKTRACE_KIND_RECV_ERROR)
