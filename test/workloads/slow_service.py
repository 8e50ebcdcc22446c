#!/usr/bin/env python3
"""slow_service: a service slower than its clients' patience.

slow-service: listen (--backlog, at RLIMIT_NOFILE --nofile), and for each connection read a request line,
take --latency seconds, answer (even if the client has gone: the late write meets an RST), then close,
unless --leak: then a connection whose client left is never closed (CLOSE_WAIT). Out of descriptors, its
accept() is retried every 10 ms. Lines: ready {"pid", "port"}; {"done": true, "answered": n,
"late": k, "median_latency": s} after --hold seconds (or at SIGUSR1) (its own measure, request read to answer sent).
impatient-clients: --count clients, one every --interval seconds, each connects (blocking; --syncnt SYNs
sent again at most), sends a request line and waits --wait seconds for the answer before it closes. Lines: ready {"pid"}; {"done": true,
"gave_up": k, "answered": n, "connect_failed": m, "median_wait": s} (request sent to close, for those that gave up).

Same protocol as tcp_actor.py (whose helpers this uses); every run bounded by a watchdog (--timeout).
"""

import ctypes
import errno
import os
import resource
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tcp_actor as T  # noqa: E402


def cmd_slow_service(a):
    # Threads that end need libgcc_s (pthread_exit unwinds); loaded now, while a descriptor is free.
    ctypes.CDLL("libgcc_s.so.1")
    if a.nofile:
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (a.nofile, hard))
    lsock = T.listen(a.host, a.port, backlog=a.backlog)
    T.emit({"ready": True, "pid": os.getpid(), "port": lsock.getsockname()[1]})
    counts = {"answered": 0, "late": 0}
    latencies = []  # request read to answer sent, as this service measured them
    lock = threading.Lock()
    held = []

    def serve(conn):
        try:
            conn.recv(1024)
            began = time.monotonic()
            time.sleep(a.latency)
            try:
                conn.send(b"ANSWER\n", socket.MSG_NOSIGNAL)
                with lock:
                    counts["answered"] += 1
                    latencies.append(time.monotonic() - began)
                time.sleep(0.2)  # the client's RST (if it left) arrives; a second write would fail
                conn.send(b"\n", socket.MSG_NOSIGNAL)
            except OSError:
                with lock:
                    counts["late"] += 1
                if a.leak:
                    held.append(conn)
                    return
        except OSError:
            pass
        conn.close()

    def accept_loop():
        while True:
            try:
                conn, _ = lsock.accept()
            except OSError as e:
                if e.errno in (errno.EMFILE, errno.ENFILE):
                    time.sleep(0.01)  # out of descriptors: retry, as real servers do
                    continue
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept_loop, daemon=True).start()
    T.set_phase("serving")
    T.extend_deadline(a.hold)
    stop = threading.Event()
    signal.signal(signal.SIGUSR1, lambda *_: stop.set())  # ends the hold early
    stop.wait(a.hold)
    with lock:
        T.emit({"done": True, **counts, "median_latency": median(latencies)})


def median(xs):
    s = sorted(xs)
    return round(s[(len(s) - 1) // 2], 4) if s else None


def cmd_impatient_clients(a):
    T.emit({"ready": True, "pid": os.getpid()})
    counts = {"gave_up": 0, "answered": 0, "connect_failed": 0}
    waits = []  # request sent to close, for the clients that gave up, as they measured them
    lock = threading.Lock()

    def one():
        family, sockaddr = T.resolve(a.host, a.port)
        s = socket.socket(family, socket.SOCK_STREAM)
        if a.syncnt:
            s.setsockopt(socket.IPPROTO_TCP, getattr(socket, "TCP_SYNCNT", 7), a.syncnt)
        try:
            s.connect(sockaddr)  # blocking: a SYN no one answers ends in the kernel's ETIMEDOUT
        except OSError:
            s.close()
            with lock:
                counts["connect_failed"] += 1
            return
        s.settimeout(a.wait)
        s.sendall(b"GET\n")
        sent = time.monotonic()
        try:
            got = s.recv(1024)
            key = "answered" if got else "gave_up"
        except socket.timeout:
            key = "gave_up"
        s.close()
        with lock:
            counts[key] += 1
            if key == "gave_up":
                waits.append(time.monotonic() - sent)

    T.set_phase("clients")
    threads = []
    for _ in range(a.count):
        t = threading.Thread(target=one, daemon=True)
        t.start()
        threads.append(t)
        time.sleep(a.interval)
    for t in threads:
        t.join()
    with lock:
        T.emit({"done": True, **counts, "median_wait": median(waits)})


def build_parser():
    p, sub, common = T.workload_parser("slow_service.py", __doc__)
    sp = sub.add_parser("slow-service", parents=[common], help="a service slower than its clients")
    sp.add_argument("--host", default="127.0.0.1")
    sp.add_argument("--port", type=int, default=0)
    sp.add_argument("--latency", type=T.nonneg_float, required=True)
    sp.add_argument("--hold", type=T.pos_float, default=10.0)
    sp.add_argument("--leak", action="store_true")
    sp.add_argument("--nofile", type=T.pos_int, default=0, help="RLIMIT_NOFILE soft limit (0: unchanged)")
    sp.add_argument("--backlog", type=T.pos_int, default=128)
    sp.set_defaults(func=cmd_slow_service)
    sp = sub.add_parser("impatient-clients", parents=[common], help="clients that give up after --wait")
    sp.add_argument("--host", required=True)
    sp.add_argument("--port", type=int, required=True)
    sp.add_argument("--count", type=T.pos_int, default=5)
    sp.add_argument("--wait", type=T.pos_float, default=0.5)
    sp.add_argument("--interval", type=T.nonneg_float, default=0.2)
    sp.add_argument("--syncnt", type=T.pos_int, default=0, help="TCP_SYNCNT (0: the kernel's default)")
    sp.set_defaults(func=cmd_impatient_clients)
    return p


if __name__ == "__main__":
    sys.exit(T.main(parser=build_parser()))
