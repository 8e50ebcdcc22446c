#!/usr/bin/env python3
"""Holds N TCP connections in CLOSE_WAIT on loopback, for socktrace's inventory benchmark.

Pairs of processes: a server that accepts and never closes, and a client that connects and half-closes
each connection (shutdown SHUT_WR: its FIN puts the server's socket in CLOSE_WAIT), keeping its own end
open in FIN_WAIT2. Connections are spread over pairs so no process needs more file descriptors than its
hard RLIMIT_NOFILE allows. Prints {"ready": true, "servers": [pids], "clients": [pids], ...} once all are
in place, then holds until stdin closes or SIGTERM; everything is closed on exit.

usage: close-wait-farm.py N [--per-process 15000]
"""
import argparse
import json
import os
import resource
import signal
import socket
import sys

parser = argparse.ArgumentParser()
parser.add_argument("connections", type=int)
parser.add_argument("--per-process", type=int, default=15000)
args = parser.parse_args()
if not 1 <= args.connections <= 500_000:
    sys.exit("close-wait-farm: connections must be from 1 to 500000")

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
per = min(args.per_process, hard - 64)
if per < 1:
    sys.exit("close-wait-farm: RLIMIT_NOFILE hard limit %d is too low" % hard)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

children = []


def spawn(body):
    pid = os.fork()
    if pid == 0:
        try:
            body()
        finally:
            os._exit(0)
    children.append(pid)
    return pid


servers, clients = [], []
remaining = args.connections
while remaining > 0:
    n = min(per, remaining)
    remaining -= n
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4096)
    port = listener.getsockname()[1]
    ready_r, ready_w = os.pipe()

    def serve(listener=listener, n=n):
        held = [listener.accept()[0] for _ in range(n)]
        signal.pause()

    def connect(port=port, n=n, ready_w=ready_w):
        held = []
        for _ in range(n):
            s = socket.socket()
            s.connect(("127.0.0.1", port))
            s.shutdown(socket.SHUT_WR)
            held.append(s)
        os.write(ready_w, b"x")
        signal.pause()

    servers.append(spawn(serve))
    listener.close()
    clients.append(spawn(connect))
    os.read(ready_r, 1)
    os.close(ready_r)
    os.close(ready_w)

print(json.dumps({"ready": True, "servers": servers, "clients": clients, "connections": args.connections}), flush=True)


def finish(*_):
    for pid in children:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for pid in children:
        os.waitpid(pid, 0)
    os._exit(0)


signal.signal(signal.SIGTERM, finish)
try:
    sys.stdin.read()
finally:
    finish()
