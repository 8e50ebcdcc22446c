// Loopback connection churn for socktrace's benchmarks: a server process that accepts, answers one
// byte and closes first, and a client process that connects, reads to EOF and closes, as fast as they
// can for a given time. Every TCP state is visited, no RST is sent. Prints one JSON line of results.
//
// usage: churn <seconds> [ipv4|ipv6] [connections-per-second] [request]
// With a rate, the client paces itself to it (as far as it can keep up). With `request`, the client
// sends one byte first and the server reads it before it answers: a request and its answer.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "loopback.h"

static void die(const char* what) {
  fprintf(stderr, "churn: %s: %s\n", what, strerror(errno));
  exit(1);
}

int main(int argc, char** argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 5;
  int v6 = argc > 2 && strcmp(argv[2], "ipv6") == 0;
  double rate = argc > 3 ? atof(argv[3]) : 0; /* 0: as fast as possible */
  int request = argc > 4 && strcmp(argv[4], "request") == 0;
  if (seconds <= 0 || seconds > 600) {
    fprintf(stderr, "churn: seconds must be in (0, 600]\n");
    return 2;
  }
  if (rate < 0 || rate > 10e6) {
    fprintf(stderr, "churn: connections-per-second must be in [0, 10000000] (0: unlimited)\n");
    return 2;
  }
  struct sockaddr_storage addr;
  socklen_t len;
  int family = loopback_address(v6, &addr, &len);
  int listener = socket(family, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(listener, (struct sockaddr*)&addr, len) < 0) die("bind");
  if (listen(listener, 1024) < 0) die("listen");
  if (getsockname(listener, (struct sockaddr*)&addr, &len) < 0) die("getsockname");

  char buf[16];
  pid_t server = fork();
  if (server == 0) {
    for (;;) {
      int c = accept(listener, NULL, NULL);
      if (c < 0) continue;
      if (request) (void)!read(c, buf, 1);
      (void)!write(c, "x", 1);
      close(c);
    }
  }
  close(listener);

  long connections = 0, failures = 0;
  double start = now(), end = start + seconds;
  while (now() < end) {
    if (rate > 0) { /* paced: wait until this batch is due */
      double due = start + connections / rate;
      double t = now();
      if (due > t) {
        struct timespec ts = {(time_t)(due - t), (long)(((due - t) - (time_t)(due - t)) * 1e9)};
        nanosleep(&ts, NULL);
        continue;
      }
    }
    for (int i = 0; i < 64; i++) {
      int s = socket(family, SOCK_STREAM, 0);
      if (s < 0) die("socket");
      if (connect(s, (struct sockaddr*)&addr, len) < 0) {
        failures++;
      } else {
        if (request) (void)!write(s, "q", 1);
        while (read(s, buf, sizeof(buf)) > 0) {
        }
        connections++;
      }
      close(s);
    }
  }
  double elapsed = now() - start;
  kill(server, SIGKILL);
  waitpid(server, NULL, 0);
  printf("{\"connections\":%ld,\"failures\":%ld,\"seconds\":%.3f,\"rate\":%.1f}\n", connections, failures, elapsed,
         connections / elapsed);
  return 0;
}
