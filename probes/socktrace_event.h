/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The kernel/user contract for socktrace's event record.
 *
 * Included by the BPF program (probes/socktrace.bpf.c) and by the native addon (native/), and mirrored
 * by the TypeScript decoder (src/backends/native/record-layout.ts). A test compares that mirror with the layout
 * the addon reports, so a change here that is not made there fails CI.
 *
 * Rules: fixed-width fields only, largest first, no hidden padding (the addon static_asserts every
 * offset), and no includes, so both sides can include it as is. Bump SOCKTRACE_ABI_VERSION on any change.
 */
#ifndef SOCKTRACE_EVENT_H
#define SOCKTRACE_EVENT_H

#define SOCKTRACE_ABI_VERSION 9
#define SOCKTRACE_COMM_LEN 16
#define SOCKTRACE_ADDR_LEN 16

/* What happened. */
enum socktrace_kind {
	SOCKTRACE_KIND_STATE_CHANGE = 1, /* sock:inet_sock_set_state */
	SOCKTRACE_KIND_RST_SENT = 2,     /* tcp:tcp_send_reset */
	SOCKTRACE_KIND_RST_RECEIVED = 3, /* tcp:tcp_receive_reset */
	SOCKTRACE_KIND_SEND_ERROR = 4,   /* sock:sock_send_length (or write-family syscall exits) with an error */
	SOCKTRACE_KIND_RECV_ERROR = 5,   /* sock:sock_recv_length (or read-family syscall exits) with an error */
	SOCKTRACE_KIND_DESTROY = 6,      /* tcp:tcp_destroy_sock: the kernel freed the socket */
	SOCKTRACE_KIND_ACCEPT_ERROR = 7, /* accept()/accept4() failed for want of a resource (EMFILE, ENFILE,
	                                  * ENOBUFS, ENOMEM): the listener's socket, the caller as owner */
	SOCKTRACE_KIND_RETRANSMIT = 8,   /* tcp:tcp_retransmit_skb: a segment sent again (state SYN_SENT: a
	                                  * connect's SYN no one answered yet) */
	SOCKTRACE_KIND_CONNECTION_ERROR = 9, /* sock:inet_sk_error_report: the kernel ended a connection with
	                                      * err (ETIMEDOUT: no answer; not what an RST received gives) */
};

/* Where the owner stamped on an event came from. */
enum socktrace_owner_source {
	SOCKTRACE_OWNER_NONE = 0,     /* unknown: no process-context use of this socket was seen */
	SOCKTRACE_OWNER_SOCKET = 1,   /* learned on this socket in its owner's process context */
	SOCKTRACE_OWNER_LISTENER = 2, /* not accepted yet: the owner of the listener whose queue holds it */
	SOCKTRACE_OWNER_SEEDED = 3,   /* from the inventory user space took of sockets opened earlier */
	SOCKTRACE_OWNER_CLOSED = 4,   /* TIME_WAIT: the process that owned the socket until it closed it */
};

/* Bits of socktrace_event.flags. */
#define SOCKTRACE_FLAG_NO_SOCKET 0x1   /* RST sent with no socket: addresses come from the packet */
#define SOCKTRACE_FLAG_ID_FALLBACK 0x2 /* sock_id is not the kernel's socket cookie (classic mode) */
#define SOCKTRACE_FLAG_FROM_SYSCALL 0x4 /* error seen at a syscall exit, fd resolved to its socket */
#define SOCKTRACE_FLAG_DEFERRED 0x8    /* CLOSE_WAIT entry reported by the sweep: ts_ns is when it happened,
                                         * task_pid/task_comm are empty (no task ran it then) */
#define SOCKTRACE_FLAG_FROM_DROP 0x10   /* RST sent with no socket, seen as the kernel dropping the packet it
                                         * answered (kernels whose tcp_send_reset needs a socket, before 6.10) */
#define SOCKTRACE_FLAG_UNANSWERED 0x20  /* connection_error on a connection nothing ever acknowledged: a
                                         * connect that got no answer (whatever state the kernel left it in) */

#define SOCKTRACE_REASON_UNKNOWN 0xffff

struct socktrace_event {
	unsigned long long ts_ns;        /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	unsigned long long sock_id;      /* socket cookie (as `ss -e` shows it), stable for the socket's life */
	unsigned long long owner_cgroup; /* owner's cgroup v2 id, 0 when unknown */
	unsigned int owner_pid;          /* owner's tgid, 0 when unknown */
	unsigned int owner_uid;
	unsigned int task_pid;           /* tgid of the task that happened to run: context, never the owner */
	unsigned int netns;              /* the socket's network namespace inode */
	unsigned char saddr[SOCKTRACE_ADDR_LEN]; /* local address: IPv4 in the first 4 bytes, or IPv6 */
	unsigned char daddr[SOCKTRACE_ADDR_LEN]; /* peer address */
	unsigned short sport;            /* local port, host order */
	unsigned short dport;            /* peer port, host order */
	unsigned short family;           /* AF_INET or AF_INET6 */
	unsigned char kind;              /* enum socktrace_kind */
	unsigned char owner_source;      /* enum socktrace_owner_source */
	unsigned char old_state;         /* state_change: previous TCP state */
	unsigned char state;             /* state_change: new state; others: state when it happened; 0 unknown */
	unsigned short reason;           /* RST sent: enum sk_rst_reason, SOCKTRACE_REASON_UNKNOWN if absent */
	int err;                         /* send/recv/accept/connection error: positive errno */
	unsigned int flags;              /* SOCKTRACE_FLAG_* */
	char owner_comm[SOCKTRACE_COMM_LEN];
	char task_comm[SOCKTRACE_COMM_LEN];
	unsigned int owner_start;        /* low 32 bits of the owner's start (clock ticks after boot, /proc/<pid>/stat
	                                  * field 22), 0 when unknown: with owner_pid, which process it was */
};

/*
 * The per-socket owner the BPF side keeps (and user space seeds). A process is its pid and its start
 * time together: a pid alone may belong to another process by the time an event names it.
 */
struct socktrace_owner {
	unsigned long long cgroup;
	unsigned long long start;        /* process start, clock ticks after boot (/proc/<pid>/stat field 22) */
	unsigned int pid;                /* tgid */
	unsigned int uid;
	unsigned char source;            /* enum socktrace_owner_source */
	unsigned char _pad[7];
	char comm[SOCKTRACE_COMM_LEN];   /* the process's (thread-group leader's) name when learned */
};

/*
 * A process that owns sockets, while it lives: kept by tgid, removed when its last thread exits, its
 * name updated when it is renamed (exec, prctl). An owner is stamped on an event only if its process is
 * here with the same start time, and the event takes the name from here.
 */
struct socktrace_process {
	unsigned long long start;        /* as socktrace_owner.start */
	char comm[SOCKTRACE_COMM_LEN];
};

/*
 * Listening sockets by what they listen on: a socket waiting in an accept queue belongs to the listener
 * that queued it. Several listeners share a key with SO_REUSEPORT; when they belong to more than one
 * process (`mixed`), the queue holding the socket decides, found through `socks`.
 */
#define SOCKTRACE_LISTENER_SOCKS 4

struct socktrace_listener_key {
	unsigned int netns;
	unsigned short port;             /* host order */
	unsigned short family;           /* AF_INET or AF_INET6: a child has its listener's family */
	unsigned char addr[SOCKTRACE_ADDR_LEN]; /* IPv4 in the first 4 bytes; all zeros: the wildcard */
};

struct socktrace_listener_group {
	struct socktrace_owner owner;    /* the first listener's owner (pid 0: unknown) */
	unsigned long long socks[SOCKTRACE_LISTENER_SOCKS]; /* listening sockets seen starting (0: free) */
	unsigned int count;              /* listening sockets on this key */
	unsigned int mixed;              /* 1: they do not all belong to `owner` */
};

/*
 * What user space seeds the kernel's owner maps with (native/owner_seeding.cc writes them): the owner
 * of a socket that existed before the tracer started, by cookie; for a listener also what it listens on.
 * src/inventory/seed-owners.ts builds them; test/unit/record-layout.test.ts holds its mirror equal.
 */
struct socktrace_seed {
	unsigned long long cookie;       /* 0: a shared listener's further holder, for its group only */
	unsigned long long start;        /* the owner process's start, clock ticks after boot */
	unsigned int pid;
	unsigned int uid;
	unsigned int netns;              /* listeners only, as the rest of what they listen on: */
	unsigned short port;
	unsigned short family;           /* AF_INET or AF_INET6; 0 for a socket that is not a listener */
	unsigned char addr[SOCKTRACE_ADDR_LEN];
	char comm[SOCKTRACE_COMM_LEN];
};

/* The CLOSE_WAIT sweep's arguments: user space test-runs it over close_waits[first, end). */
#define SOCKTRACE_SWEEP_ARG_FIRST 0
#define SOCKTRACE_SWEEP_ARG_END 1
/*
 * close_waits is counted in chunks of 1 << SOCKTRACE_CLOSE_WAIT_CHUNK_SHIFT entries: the program keeps,
 * in the global close_wait_pending[SOCKTRACE_CLOSE_WAIT_CHUNKS], how many entries of each await the
 * sweep, and user space sweeps only those chunks (and the whole table every SOCKTRACE_SWEEP_FULL_EVERY
 * sweeps, in case a race left a count short).
 */
#define SOCKTRACE_CLOSE_WAIT_CHUNK_SHIFT 12
#define SOCKTRACE_CLOSE_WAIT_CHUNKS 4096
#define SOCKTRACE_SWEEP_FULL_EVERY 10

/* State changes are counted per new state (transitions), one slot per TCP state number. */
#define SOCKTRACE_TRANSITION_SLOTS 16

/* Sockets counted by owner (0: none known) and state, on user space's request (count_sockets). */
struct socktrace_count_key {
	unsigned int pid;
	unsigned short state;            /* TCP state; request sockets count as SYN_RECV */
	unsigned short queued;           /* 1: not a file of the process yet (handshake, accept queue) */
};

/*
 * A listening socket's accept queue, counted with the sockets (count_sockets): keyed by owner (0: none
 * known), namespace, port, family and address; summed over the listening sockets that share a key (SO_REUSEPORT).
 */
struct socktrace_listen_queue_key {
	unsigned int pid;
	unsigned int netns;
	unsigned short port;             /* host order */
	unsigned short family;           /* AF_INET or AF_INET6 */
	unsigned char addr[SOCKTRACE_ADDR_LEN]; /* local address: IPv4 in the first 4 bytes, or IPv6 */
};

struct socktrace_listen_queue {
	unsigned int queue;              /* sk_ack_backlog: connections waiting for accept() (ss -lnt Recv-Q) */
	unsigned int limit;              /* sk_max_ack_backlog: listen()'s backlog, capped (ss -lnt Send-Q) */
	unsigned int listeners;          /* listening sockets summed here */
	unsigned int drops;              /* sk_drops: what the listeners dropped since listen(), every accept-queue
	                                  * overflow included (tcp_listendrop); summed modulo 2^32 */
};

/*
 * What a filtered watch asks for (--port, --pid, --comm, --peer), matched in the kernel before an event
 * crosses: match_fields says which tables apply (SOCKTRACE_MATCH_*); values of one table are
 * alternatives, tables all must match, as in user space (which filters again, whatever the kernel did).
 */
#define SOCKTRACE_MATCH_PORTS 0x1      /* match_ports: the local or the peer port */
#define SOCKTRACE_MATCH_PIDS 0x2       /* match_pids: the owner's pid */
#define SOCKTRACE_MATCH_COMMS 0x4      /* match_comms: the owner's name, 16 bytes NUL-padded */
#define SOCKTRACE_MATCH_PEERS 0x8      /* match_peers: the peer's address, by prefix */
#define SOCKTRACE_MATCH_ENTRIES 64     /* values per table; more and user space filters that field alone */

/* A peer prefix (LPM trie key): IPv4 as the IPv4-mapped IPv6 address, its prefix length plus 96. */
struct socktrace_peer_prefix {
	unsigned int prefixlen;
	unsigned char addr[SOCKTRACE_ADDR_LEN];
};

/*
 * Handshakes whose final ACK a listener refused because its accept queue was full (drop reason
 * TCP_LISTEN_OVERFLOW, Linux 6.15+): the only overflows whose client the kernel names (a SYN dropped for
 * a full queue is counted, never traced). Counted since socktrace started, per namespace, the address
 * and port the client knocked at, and the client's address (refused_acks, probes/lib/listen_refusals.bpf.h).
 */
struct socktrace_refused_ack_key {
	unsigned int netns;
	unsigned short port;             /* the listener's port, host order */
	unsigned short family;           /* AF_INET or AF_INET6 */
	unsigned char local[SOCKTRACE_ADDR_LEN]; /* the address the client knocked at */
	unsigned char peer[SOCKTRACE_ADDR_LEN];  /* the client's address */
};

/*
 * How long services take to answer, and how long their clients wait before giving up, counted in the
 * kernel (probes/lib/exchanges.bpf.h) from the socket's own timestamps when an exchange ends: no hook
 * of its own, no event per connection. Histograms per service (namespace, local port) and client
 * address, in the kernel's ticks (jiffies; user space converts with the kernel's HZ); user space reads
 * them every second and takes the differences.
 */
enum socktrace_timing_kind {
	SOCKTRACE_TIMING_ANSWERED = 1,  /* request (its last byte in) to answer (its last byte out) */
	SOCKTRACE_TIMING_LATE = 2,      /* the same, for an answer sent after the client had closed */
	SOCKTRACE_TIMING_GAVE_UP = 3,   /* request to the client's FIN, no answer sent: how long it waited */
	SOCKTRACE_TIMING_UNANSWERED = 4, /* request to the service's close, never answered (a lower bound) */
};

/* Ticks 0..7 one bucket each, then 8 buckets per power of two (each within 12.5%), to 2^21 ticks. */
#define SOCKTRACE_TIMING_SUB_BITS 3
#define SOCKTRACE_TIMING_BUCKETS 152
/* Histograms the kernel keeps; past that, a client's samples go to its service's all-zero address. */
#define SOCKTRACE_TIMING_KEYS 4096

struct socktrace_timing_key {
	unsigned int netns;
	unsigned short port;             /* the service's local port, host order */
	unsigned short family;           /* AF_INET or AF_INET6 */
	unsigned char peer[SOCKTRACE_ADDR_LEN]; /* the client's address; all zeros: clients beyond the table */
	unsigned int kind;               /* enum socktrace_timing_kind */
};

struct socktrace_timing {
	unsigned int buckets[SOCKTRACE_TIMING_BUCKETS];
};

/* timing_misses slots: samples the tables had no room for, counted per CPU. */
#define SOCKTRACE_TIMING_MISS_PEER 0   /* counted under the all-zero address instead of the client's */
#define SOCKTRACE_TIMING_MISS_LOST 1   /* not counted at all */
#define SOCKTRACE_TIMING_MISS_LATE 2   /* an unanswered request not remembered: its late answer unmeasured */
#define SOCKTRACE_TIMING_MISS_SLOTS 3

/*
 * The ring's bookkeeping, one per CPU (no atomics: each CPU owns its copy). Every event that passed the
 * filters was either submitted or lost: delivered + lost = submitted + lost, exactly, once the reader
 * has drained the ring. User space sums `lost` and `submitted` over CPUs.
 */
struct socktrace_ring_stats {
	unsigned long long lost;          /* failed ring-buffer reserves */
	unsigned long long submitted;     /* records submitted (what the reader will find) */
	unsigned long long unwoken_bytes; /* submitted since this CPU last woke the reader */
};

#endif /* SOCKTRACE_EVENT_H */
