/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Numbers the kernel's headers define as macros, which vmlinux.h (BTF) cannot carry.
 */
#ifndef SOCKTRACE_LIB_CONSTANTS_BPF_H
#define SOCKTRACE_LIB_CONSTANTS_BPF_H

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

#define ENOMEM 12
#define ENFILE 23
#define EMFILE 24
#define EPIPE 32
#define ENETUNREACH 101
#define ECONNABORTED 103
#define ECONNRESET 104
#define ENOBUFS 105
#define ETIMEDOUT 110
#define ECONNREFUSED 111
#define EHOSTUNREACH 113

#endif /* SOCKTRACE_LIB_CONSTANTS_BPF_H */
