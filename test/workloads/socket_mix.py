#!/usr/bin/env python3
"""socket_mix: a randomized mix of connections whose sockets stay, end by RST or end by close, at
varying delays, plus connections left waiting in an accept queue: for comparing socktrace's gauges
with the kernel's own view over time.

Same protocol as tcp_actor.py (whose helpers this uses). Stdlib only. Deterministic for a --seed.
"""

import heapq
import os
import random
import selectors
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tcp_actor as T  # noqa: E402


def cmd_server(a):
    """Accept for --seconds; each connection, at random: stays open forever (a leak: CLOSE_WAIT once the
    client closes), is reset (SO_LINGER 0) or closed after 0.3-2 s. A second listener (--backlog of its
    own) never accepts. Lines: ready (port, queue_port); {"done": true, "accepted": n, "ends": {...}}."""
    rng = random.Random(a.seed)
    lsock = T.listen(a.host, 0, backlog=256)
    queue = T.listen(a.host, 0, backlog=a.backlog)
    lsock.setblocking(False)
    T.emit({"ready": True, "pid": os.getpid(), "port": lsock.getsockname()[1], "queue_port": queue.getsockname()[1]})
    T.extend_deadline(a.seconds + 5)
    sel = selectors.DefaultSelector()
    sel.register(lsock, selectors.EVENT_READ)
    due = []  # (when, n, action, conn)
    kept = []
    ends = {"stay": 0, "rst": 0, "close": 0}
    end = time.monotonic() + a.seconds
    n = 0
    while time.monotonic() < end:
        timeout = max(0.0, min(0.05, (due[0][0] - time.monotonic()) if due else 0.05))
        for _ in sel.select(timeout=timeout):
            try:
                conn, _ = lsock.accept()
            except BlockingIOError:
                continue
            n += 1
            action = rng.choices(["stay", "rst", "close"], weights=[3, 3, 4])[0]
            ends[action] += 1
            if action == "stay":
                kept.append(conn)
            else:
                heapq.heappush(due, (time.monotonic() + rng.uniform(0.3, 2.0), n, action, conn))
        now = time.monotonic()
        while due and due[0][0] <= now:
            _, _, action, conn = heapq.heappop(due)
            if action == "rst":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()
    T.emit({"done": True, "accepted": n, "ends": ends, "kept": len(kept)})
    T.sleep_deliberately(a.hold)


def cmd_clients(a):
    """Connect --rate times a second for --seconds (one in ten to --queue-port); each connection is
    closed after 0.1-1.5 s, or (one in five) held until the server ends it or the run ends.
    Lines: ready; {"done": true, "connected": n}."""
    rng = random.Random(a.seed + 1)
    T.emit({"ready": True, "pid": os.getpid()})
    T.extend_deadline(a.seconds + 5)
    due = []
    held = []
    n = 0
    start = time.monotonic()
    end = start + a.seconds
    while time.monotonic() < end:
        now = time.monotonic()
        if now >= start + n / a.rate:
            port = a.queue_port if rng.random() < 0.1 else a.port
            n += 1
            try:
                s = socket.create_connection((a.host, port), timeout=0.3)
            except OSError:
                s = None  # a full accept queue drops the SYN: nothing to hold
            if s is not None:
                if rng.random() < 0.2:
                    held.append(s)
                else:
                    heapq.heappush(due, (now + rng.uniform(0.1, 1.5), n, s))
        while due and due[0][0] <= time.monotonic():
            heapq.heappop(due)[2].close()
        time.sleep(0.002)
    for _, _, s in due:
        s.close()
    for s in held:
        s.close()
    T.emit({"done": True, "connected": n})


def build_parser():
    p, sub, common = T.workload_parser("socket_mix.py", __doc__)
    common.add_argument("--seconds", type=T.pos_float, default=30.0)
    common.add_argument("--seed", type=int, default=1)

    sp = sub.add_parser("server", parents=[common], help="accept and end connections at random")
    sp.add_argument("--host", default="127.0.0.1")
    sp.add_argument("--backlog", type=T.pos_int, default=8)
    sp.add_argument("--hold", type=T.nonneg_float, default=5.0)
    sp.set_defaults(func=cmd_server)

    sp = sub.add_parser("clients", parents=[common], help="connect at a rate, close at random")
    sp.add_argument("--host", required=True)
    sp.add_argument("--port", type=int, required=True)
    sp.add_argument("--queue-port", type=int, required=True)
    sp.add_argument("--rate", type=T.pos_float, default=20.0)
    sp.set_defaults(func=cmd_clients)
    return p


if __name__ == "__main__":
    sys.exit(T.main(parser=build_parser()))
