// A storm of EPIPE errors for socktrace's benchmarks: one loopback connection whose sending side is
// shut down, then send() on it as fast as it can (or at a paced rate) for a given time. Each send fails
// in the kernel's tcp_sendmsg with EPIPE, which socktrace reports as a send_error owned by this process.
//
// usage: error-storm <seconds> [errors-per-second] [ipv4|ipv6]
// It prints {"pid":N} once the connection is set up and waits for one byte on stdin before the storm,
// so a tracer can be started (and filtered to this pid) in between; then one JSON line of results. The
// count is the errors the kernel returned, each checked to be EPIPE: anything else ends the run.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "loopback.h"

static void die(const char* what) {
  fprintf(stderr, "error-storm: %s: %s\n", what, strerror(errno));
  exit(1);
}

int main(int argc, char** argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 10;
  double rate = argc > 2 ? atof(argv[2]) : 0; /* 0: as fast as possible */
  int v6 = argc > 3 && strcmp(argv[3], "ipv6") == 0;
  if (seconds <= 0 || seconds > 600) {
    fprintf(stderr, "error-storm: seconds must be in (0, 600]\n");
    return 2;
  }
  if (rate < 0 || rate > 100e6) {
    fprintf(stderr, "error-storm: errors-per-second must be in [0, 100000000] (0: unlimited)\n");
    return 2;
  }
  struct sockaddr_storage addr;
  socklen_t len;
  int family = loopback_address(v6, &addr, &len);
  int listener = socket(family, SOCK_STREAM, 0);
  if (listener < 0) die("socket");
  if (bind(listener, (struct sockaddr*)&addr, len) < 0) die("bind");
  if (listen(listener, 1) < 0) die("listen");
  if (getsockname(listener, (struct sockaddr*)&addr, &len) < 0) die("getsockname");
  int client = socket(family, SOCK_STREAM, 0);
  if (client < 0) die("socket");
  if (connect(client, (struct sockaddr*)&addr, len) < 0) die("connect");
  int server = accept(listener, NULL, NULL);
  if (server < 0) die("accept");
  // The server side stays open (no RST, no CLOSE_WAIT churn): only the client's own sends fail.
  if (shutdown(client, SHUT_WR) < 0) die("shutdown");

  printf("{\"pid\":%d}\n", (int)getpid());
  fflush(stdout);
  char go;
  if (read(0, &go, 1) != 1) {
    fprintf(stderr, "error-storm: stdin closed before the start byte\n");
    return 1;
  }

  long errors = 0;
  int burst = rate > 0 && rate < 64000 ? (int)(rate / 1000) : 64;
  if (burst < 1) burst = 1;
  double start = now(), end = start + seconds, t = start;
  while (t < end) {
    if (rate > 0) { /* paced: wait until this batch is due */
      double due = start + errors / rate;
      if (due > t) {
        double wait = due - t;
        struct timespec ts = {(time_t)wait, (long)((wait - (time_t)wait) * 1e9)};
        nanosleep(&ts, NULL);
      }
    }
    // Up to 64 sends between clock reads (the clock is not free), fewer at low rates so that the
    // pacing stays fine-grained: one send a millisecond or less between reads.
    for (int i = 0; i < burst; i++) {
      if (send(client, "x", 1, MSG_NOSIGNAL) >= 0) {
        fprintf(stderr, "error-storm: a send succeeded on a shut-down socket\n");
        return 1;
      }
      if (errno != EPIPE) die("send (expected EPIPE)");
      errors++;
    }
    t = now();
  }
  double took = t - start;
  printf("{\"errors\":%ld,\"seconds\":%.3f,\"rate\":%.1f}\n", errors, took, errors / took);
  close(client);
  close(server);
  close(listener);
  return 0;
}
