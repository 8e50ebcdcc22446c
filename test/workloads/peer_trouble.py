#!/usr/bin/env python3
"""peer_trouble: clients of a peer that stops answering.

unanswered-connect: connect with TCP_SYNCNT --syncnt (the kernel sends the SYN --syncnt more times,
then gives up with ETIMEDOUT, ~3 s with 1). stalled-send: connect, say "connected", wait for SIGUSR1
(the test makes the peer unreachable meanwhile), send, wait --seconds while the kernel sends it again,
close.

Same protocol as tcp_actor.py (whose helpers this uses): one ready line with "pid", optional lines, one
final {"done": true, ...} or {"error": ...} line; every run bounded by a watchdog (--timeout).
"""

import os
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tcp_actor as T  # noqa: E402

TCP_SYNCNT = getattr(socket, "TCP_SYNCNT", 7)


def cmd_unanswered_connect(a):
    family, sockaddr = T.resolve(a.host, a.port)
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, TCP_SYNCNT, a.syncnt)
    T.emit({"ready": True, "pid": os.getpid()})
    T.set_phase("connecting to a peer that does not answer")
    started = time.monotonic()
    try:
        s.connect(sockaddr)
        T.emit({"done": True, "connected": True})
    except OSError as e:
        T.emit({"done": True, "connected": False, "errno": T.errno_name(e), "seconds": round(time.monotonic() - started, 2)})
    finally:
        s.close()


def cmd_stalled_send(a):
    go = threading.Event()
    signal.signal(signal.SIGUSR1, lambda *_: go.set())
    s = T.connect(a.host, a.port)
    T.emit({"ready": True, "pid": os.getpid(), "local": T.addr(s.getsockname())})
    T.set_phase("waiting for SIGUSR1")
    while not go.wait(0.05):
        pass
    s.send(b"x" * 1000)
    T.extend_deadline(a.seconds)
    time.sleep(a.seconds)
    s.close()
    T.emit({"done": True})


def build_parser():
    p, sub, common = T.workload_parser("peer_trouble.py", __doc__)
    sp = sub.add_parser("unanswered-connect", parents=[common], help="connect to a peer that never answers")
    sp.add_argument("--host", required=True)
    sp.add_argument("--port", type=int, required=True)
    sp.add_argument("--syncnt", type=T.pos_int, default=1)
    sp.set_defaults(func=cmd_unanswered_connect)
    sp = sub.add_parser("stalled-send", parents=[common], help="send to a peer that stopped answering")
    sp.add_argument("--host", required=True)
    sp.add_argument("--port", type=int, required=True)
    sp.add_argument("--seconds", type=T.pos_float, default=2.0)
    sp.set_defaults(func=cmd_stalled_send)
    return p


if __name__ == "__main__":
    sys.exit(T.main(parser=build_parser()))
