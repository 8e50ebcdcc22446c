// What socktrace's C benchmark programs share: the loopback address of a family, and the clock.
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* 127.0.0.1 or ::1, port 0 (bind picks one); returns the address family. */
static inline int loopback_address(int v6, struct sockaddr_storage* addr, socklen_t* len) {
  memset(addr, 0, sizeof(*addr));
  if (v6) {
    struct sockaddr_in6* a = (struct sockaddr_in6*)addr;
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_loopback;
    *len = sizeof(*a);
    return AF_INET6;
  }
  struct sockaddr_in* a = (struct sockaddr_in*)addr;
  a->sin_family = AF_INET;
  a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  *len = sizeof(*a);
  return AF_INET;
}

/* CLOCK_MONOTONIC in seconds. */
static inline double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}
