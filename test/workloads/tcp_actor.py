#!/usr/bin/env python3
"""tcp_actor: tiny TCP client/server workloads for socktrace kernel integration tests.

Each subcommand runs as its own process so the tracer sees a real, separate owner
(pid/comm) for every socket. Protocol on stdout, one compact JSON object per line:

  * exactly one READY line, printed as soon as the actor is in position
    (servers: listening; clients: connected / connect issued), always containing
    "ready": true and "pid" (os.getpid(), which equals the pid the parent spawned,
    also through `ip netns exec`, which execs rather than forks);
  * optionally some intermediate lines (documented per subcommand);
  * exactly one final line: {"done": true, ...} and exit status 0,
    or {"error": "..."} and exit status 1 (timeouts, unexpected outcomes,
    bad arguments, SIGTERM or stdin EOF before the work was finished).

Everything is bounded: each socket operation gets a timeout no longer than the time
left, and a SIGALRM watchdog enforces --timeout (default 10 s) over the whole run.
Deliberate waits requested on the command line (--hold, --delay, --wait) extend the
watchdog by their own length, so `--timeout` means "how long to wait for the other
side", and a run can never last longer than timeout + the requested waits.

If stdin is a pipe or socket (as when spawned by test/support/actor.ts), EOF on
stdin means the parent went away, and is treated like SIGTERM. A terminal or
/dev/null on stdin is ignored, so the actor can also be run by hand or with `&`.

Stdlib only; Python >= 3.8.
"""

import argparse
import errno
import json
import os
import selectors
import signal
import socket
import stat
import struct
import sys
import threading
import time

CHUNK = 1024


# ---------------------------------------------------------------------------
# Output protocol


def emit(obj):
    # One compact line per event, flushed at once: the parent reads stdout through
    # a pipe, where Python would otherwise block-buffer.
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


class ActorError(Exception):
    """An expected failure: reported as {"error": ...}, exit status 1."""

    def __init__(self, message, **extra):
        super().__init__(message)
        self.extra = extra


# Timeout and Stop derive from BaseException so that the `except OSError` clauses
# around socket calls can never swallow them.
class Timeout(BaseException):
    pass


class Stop(BaseException):
    """SIGTERM, or EOF on a stdin pipe."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


# ---------------------------------------------------------------------------
# Deadline / watchdog / stop handling

PHASE = "starting"  # what we are doing, for the timeout message
_deadline = 0.0
_timeout = 0.0
_stop_reason = "SIGTERM"


def set_phase(phase):
    global PHASE
    PHASE = phase


def _arm():
    # setitimer(0) would disarm the timer, so never pass less than 1 ms.
    signal.setitimer(signal.ITIMER_REAL, max(_deadline - time.monotonic(), 0.001))


def start_watchdog(timeout):
    global _deadline, _timeout
    _timeout = timeout
    _deadline = time.monotonic() + timeout
    _arm()


def extend_deadline(seconds):
    """A deliberate wait of `seconds` must not eat into the time given to the peer."""
    global _deadline
    _deadline += seconds
    _arm()


def remaining():
    return max(_deadline - time.monotonic(), 0.001)


def _on_alarm(signum, frame):
    raise Timeout()


def _on_term(signum, frame):
    raise Stop(_stop_reason)


def _watch_stdin():
    # Only a pipe/socket tells us something when it reaches EOF; a tty or
    # /dev/null (background job in a non-interactive shell) must be ignored.
    try:
        mode = os.fstat(0).st_mode
    except OSError:
        return
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
        return

    def reader():
        global _stop_reason
        try:
            while os.read(0, 4096):
                pass  # input is ignored; only EOF matters
        except OSError:
            pass
        _stop_reason = "stdin"
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=reader, name="stdin-watch", daemon=True).start()


def sleep_deliberately(seconds):
    """Sleep for a requested wait; the watchdog is extended by the same amount."""
    extend_deadline(seconds)
    time.sleep(seconds)


# ---------------------------------------------------------------------------
# Socket helpers


def resolve(host, port):
    """(family, sockaddr) for host/port; IPv4 or IPv6 literal (or a resolvable name)."""
    try:
        infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    except socket.gaierror as e:
        raise ActorError("cannot resolve %r: %s" % (host, e))
    family, _, _, _, sockaddr = infos[0]
    return family, sockaddr


def addr(sockaddr):
    # IPv6 sockaddrs are 4-tuples (addr, port, flowinfo, scope_id); report [addr, port].
    return [sockaddr[0], sockaddr[1]]


def errno_name(exc):
    if isinstance(exc, socket.timeout):
        return "ETIMEDOUT"
    if getattr(exc, "errno", None) is not None:
        return errno.errorcode.get(exc.errno, str(exc.errno))
    return type(exc).__name__


def listen(host, port, backlog=16):
    family, sockaddr = resolve(host, port)
    s = socket.socket(family, socket.SOCK_STREAM)
    # Tests may reuse a fixed port while old connections sit in TIME_WAIT.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        # No dual-stack: a v6 listener on "::" must not accept v4 peers as
        # ::ffff:a.b.c.d, so the addresses the tracer reports are the ones the
        # test asked for.
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    try:
        s.bind(sockaddr)
        s.listen(backlog)
    except OSError as e:
        s.close()
        raise ActorError("cannot listen on [%s]:%s: %s" % (host, port, e), errno=errno_name(e))
    return s


def server_ready(lsock):
    local = lsock.getsockname()
    emit({"ready": True, "pid": os.getpid(), "host": local[0], "port": local[1]})


def accept_one(lsock):
    set_phase("accepting")
    lsock.settimeout(remaining())
    try:
        conn, peer = lsock.accept()
    except OSError as e:
        raise ActorError("accept failed: %s" % e, errno=errno_name(e))
    conn.settimeout(remaining())
    return conn, addr(peer)


def connect(host, port):
    family, sockaddr = resolve(host, port)
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(remaining())
    set_phase("connecting to [%s]:%s" % (host, port))
    try:
        s.connect(sockaddr)
    except OSError as e:
        s.close()
        raise ActorError("connect to [%s]:%s failed: %s" % (host, port, e), errno=errno_name(e))
    return s


# ---------------------------------------------------------------------------
# Subcommands


def cmd_server_leak(a):
    """Accept N connections, read each to EOF, and never close them.

    After the peer's FIN the accepted socket sits in CLOSE_WAIT for as long as we
    hold it: the leak socktrace is meant to attribute to this pid.
    With --fork, a child process then shares every accepted socket for --hold seconds.
    Lines: ready; {"connected": n, "peer": [...]} per accept; {"forked": child_pid} with --fork;
    {"accepted": N, "peers": [...]} once all N saw EOF;
    {"done": true, "accepted": N, "peers": [...], "held": secs, "stopped_by": null|"SIGTERM"|"stdin"}.
    """
    lsock = listen(a.host, a.port, backlog=max(a.count, 16))
    server_ready(lsock)

    # A selector so the clients may connect and close in any order and overlap.
    sel = selectors.DefaultSelector()
    sel.register(lsock, selectors.EVENT_READ)
    lsock.setblocking(False)
    open_socks = []  # keep references: a garbage-collected socket would be closed
    peers = []
    pending = 0  # accepted but not yet at EOF
    set_phase("accepting %d connections and reading them to EOF" % a.count)
    while len(peers) < a.count or pending:
        for key, _ in sel.select(timeout=remaining()):
            if key.fileobj is lsock:
                try:
                    conn, peer = lsock.accept()
                except BlockingIOError:
                    continue
                conn.setblocking(False)
                open_socks.append(conn)
                peers.append(addr(peer))
                pending += 1
                emit({"connected": len(peers), "peer": addr(peer)})
                sel.register(conn, selectors.EVENT_READ)
                if len(peers) == a.count:
                    sel.unregister(lsock)
                    lsock.close()  # only the accepted sockets are "leaked"
            else:
                try:
                    data = key.fileobj.recv(65536)
                except BlockingIOError:
                    continue
                except OSError as e:
                    raise ActorError("recv failed before EOF: %s" % e, errno=errno_name(e))
                if not data:  # peer's FIN: this socket is now in CLOSE_WAIT
                    sel.unregister(key.fileobj)
                    pending -= 1
    sel.close()
    if a.fork:
        # A second process holding the same sockets, as after fork() in a pre-forking server.
        child = os.fork()
        if child == 0:
            try:
                time.sleep(a.hold)
            finally:
                os._exit(0)
        emit({"forked": child})
    emit({"accepted": len(peers), "peers": peers})

    set_phase("holding")
    started = time.monotonic()
    stopped_by = None
    try:
        sleep_deliberately(a.hold)
    except Stop as s:
        stopped_by = s.reason  # ending the hold early is a normal way to finish
    held = round(time.monotonic() - started, 3)
    emit({"done": True, "accepted": len(peers), "peers": peers, "held": held, "stopped_by": stopped_by})
    # open_socks stays referenced until we return; process exit then closes the
    # sockets (CLOSE_WAIT -> LAST_ACK).


def cmd_server_late_write(a):
    """Accept one connection, read the request, wait --delay, then write until it fails.

    The client has closed in the meantime, so our socket is in CLOSE_WAIT. The first
    write succeeds locally and reaches the peer, whose closed socket (by then a
    FIN_WAIT2 timewait minisock) answers with RST (reason TCP_TIMEWAIT_SOCKET). A RST
    received in CLOSE_WAIT sets the socket error to EPIPE, not ECONNRESET (tcp_reset()),
    so the next write normally fails with EPIPE and writes_ok is 1. MSG_NOSIGNAL makes
    that an exception instead of SIGPIPE (CPython also ignores SIGPIPE by default).
    Lines: ready; {"received": nbytes, "peer": [...]};
    {"done": true, "errno": "EPIPE"|"ECONNRESET"|..., "writes_ok": k, "peer": [...]}.
    """
    lsock = listen(a.host, a.port)
    server_ready(lsock)
    conn, peer = accept_one(lsock)
    lsock.close()

    set_phase("reading request")
    try:
        request = conn.recv(CHUNK)  # whatever arrives first, up to 1 KiB
    except OSError as e:
        raise ActorError("recv failed: %s" % e, errno=errno_name(e), peer=peer)
    emit({"received": len(request), "peer": peer})

    set_phase("delaying")
    sleep_deliberately(a.delay)

    set_phase("writing late response")
    payload = b"x" * CHUNK
    writes_ok = 0
    for i in range(a.writes):
        try:
            conn.send(payload, socket.MSG_NOSIGNAL)
        except OSError as e:
            emit({"done": True, "errno": errno_name(e), "writes_ok": writes_ok, "peer": peer})
            return
        writes_ok += 1
        if i + 1 < a.writes:
            time.sleep(a.interval)
    raise ActorError("all %d writes succeeded; the peer never reset" % a.writes, writes_ok=writes_ok, peer=peer)


def cmd_server_abort(a):
    """Accept one connection, read the request, then close with SO_LINGER {1, 0}.

    A zero linger time makes close() send RST instead of FIN. Kernel detail: close()
    then goes through tcp_disconnect(), so the tcp_send_reset tracepoint reports
    reason TCP_STATE with state TCP_CLOSE and no skb (and the MIB counter bumped is
    TCPAbortOnData); TCP_ABORT_ON_LINGER is only for TCP_LINGER2 < 0 in FIN_WAIT2.
    We drain everything readable first: unread data at close would also cause an RST,
    but through the TCP_ABORT_ON_CLOSE path instead.
    Lines: ready; {"done": true, "peer": [...], "received": nbytes}.
    """
    lsock = listen(a.host, a.port)
    server_ready(lsock)
    conn, peer = accept_one(lsock)
    lsock.close()

    set_phase("reading request")
    try:
        received = len(conn.recv(CHUNK))
        # Drain anything else already queued, without waiting. (MSG_DONTWAIT alone is
        # not enough: on a socket with a timeout Python polls and retries on EAGAIN.)
        conn.setblocking(False)
        while True:
            more = conn.recv(65536)
            if not more:
                break
            received += len(more)
    except BlockingIOError:
        pass
    except OSError as e:
        raise ActorError("recv failed: %s" % e, errno=errno_name(e), peer=peer)

    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()
    emit({"done": True, "peer": peer, "received": received})


def cmd_client_impatient(a):
    """Connect, send "GET\\n", wait --wait seconds (less than the server's delay), or with
    --until-signal until SIGUSR1 (so a slow tracer can start first), and close normally.

    Lines: {"ready": true, "pid", "local": [...], "remote": [...]} after connect;
    {"done": true, "local": [...], "remote": [...]} after close().
    """
    go = threading.Event()
    if a.until_signal:
        signal.signal(signal.SIGUSR1, lambda *_: go.set())
    s = connect(a.host, a.port)
    local, remote = addr(s.getsockname()), addr(s.getpeername())
    emit({"ready": True, "pid": os.getpid(), "local": local, "remote": remote})
    set_phase("sending request")
    try:
        s.sendall(b"GET\n")
    except OSError as e:
        raise ActorError("send failed: %s" % e, errno=errno_name(e), local=local)
    if a.until_signal:
        set_phase("waiting for SIGUSR1")
        while not go.wait(0.05):
            pass
    else:
        set_phase("waiting")
        sleep_deliberately(a.wait)
    s.close()  # normal close: FIN, our socket is orphaned in FIN_WAIT_2
    emit({"done": True, "local": local, "remote": remote})


def cmd_client_hold(a):
    """Connect, send "hello\\n", then read until the server resets (RST) or closes (FIN).

    Lines: ready (as client-impatient);
    {"done": true, "error": "ECONNRESET"|null|<errno name>, "local": [...], "received": nbytes}.
    """
    s = connect(a.host, a.port)
    local, remote = addr(s.getsockname()), addr(s.getpeername())
    emit({"ready": True, "pid": os.getpid(), "local": local, "remote": remote})
    error = None
    received = 0
    try:
        set_phase("sending hello")
        s.sendall(b"hello\n")
        set_phase("reading until reset or EOF")
        while True:
            s.settimeout(remaining())
            data = s.recv(65536)
            if not data:
                break  # orderly close by the server
            received += len(data)
    except socket.timeout:
        raise ActorError("server neither reset nor closed", local=local)
    except OSError as e:
        error = errno_name(e)
    s.close()
    emit({"done": True, "error": error, "local": local, "received": received})


def cmd_client_closed_port(a):
    """Connect to a port without a listener; the RST answering our SYN gives ECONNREFUSED.

    The connect is non-blocking so that we can read the local address right after the
    SYN goes out; after a refused blocking connect the kernel has already reset it.
    Lines: {"ready": true, "pid", "local": [...]|null, "remote": [...]} once the SYN is sent;
    {"done": true, "error": "ECONNREFUSED", "local": [...]|null}.
    """
    family, sockaddr = resolve(a.host, a.port)
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setblocking(False)
    set_phase("connecting to [%s]:%s" % (a.host, a.port))
    rc = s.connect_ex(sockaddr)
    local = None
    try:
        sn = s.getsockname()
        if sn[1] != 0:
            local = addr(sn)
    except OSError:
        pass
    emit({"ready": True, "pid": os.getpid(), "local": local, "remote": addr(sockaddr)})

    if rc == errno.EINPROGRESS:
        sel = selectors.DefaultSelector()
        sel.register(s, selectors.EVENT_WRITE)
        if not sel.select(timeout=remaining()):
            raise ActorError("connect neither completed nor failed", local=local)
        sel.close()
        rc = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    s.close()
    if rc == 0:
        raise ActorError("connect succeeded: something listens on [%s]:%s" % (a.host, a.port), local=local)
    emit({"done": True, "error": errno.errorcode.get(rc, str(rc)), "local": local})


def cmd_client_connect_close(a):
    """Connect and immediately close, --count times, one after the other (connection churn).

    Lines: {"ready": true, "pid"} before the first connect;
    {"done": true, "count": N, "locals": [[addr, port], ...]}.
    """
    emit({"ready": True, "pid": os.getpid()})
    locals_ = []
    for _ in range(a.count):
        s = connect(a.host, a.port)
        locals_.append(addr(s.getsockname()))
        s.close()
    emit({"done": True, "count": len(locals_), "locals": locals_})


def cmd_epipe_storm(a):
    """Make a loopback connection, shut down its sending side, wait for SIGUSR1 (so a tracer can
    start first), then send() on it for --seconds.

    Every send fails with EPIPE in the kernel's tcp_sendmsg: an error storm from one process on one
    socket. Lines: ready (before the first send, with "local" and "peer");
    {"done": true, "errors": N} where N counts the sends that failed with EPIPE (anything else is an error).
    """
    lsock = listen(a.host, 0)
    client = connect(a.host, lsock.getsockname()[1])
    server, _ = lsock.accept()
    client.shutdown(socket.SHUT_WR)
    go = threading.Event()
    signal.signal(signal.SIGUSR1, lambda *_: go.set())
    emit({"ready": True, "pid": os.getpid(), "local": addr(client.getsockname()), "peer": addr(client.getpeername())})
    set_phase("waiting for SIGUSR1")
    while not go.wait(0.05):
        pass
    set_phase("storming")
    extend_deadline(a.seconds)
    errors = 0
    start = time.monotonic()
    end = start + a.seconds
    send = client.send
    burst = 256 if a.rate == 0 else max(1, min(256, int(a.rate / 1000)))
    while time.monotonic() < end:
        if a.rate > 0:  # paced: wait until this burst is due
            wait = start + errors / a.rate - time.monotonic()
            if wait > 0:  # read once: a slow CPU can pass the due time between a check and the sleep
                time.sleep(wait)
        for _ in range(burst):
            try:
                send(b"x", socket.MSG_NOSIGNAL)
            except BrokenPipeError:
                errors += 1
                continue
            raise ActorError("a send succeeded on a shut-down socket", errors=errors)
    emit({"done": True, "errors": errors})
    server.close()
    client.close()
    lsock.close()


# ---------------------------------------------------------------------------
# CLI


class Parser(argparse.ArgumentParser):
    # Usage errors also follow the protocol: a JSON error line and exit status 1.
    def error(self, message):
        emit({"error": "usage: %s" % message})
        sys.exit(1)


def nonneg_float(text):
    v = float(text)
    if v < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return v


def pos_float(text):
    v = float(text)
    if v <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return v


def pos_int(text):
    v = int(text)
    if v < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return v


def workload_parser(prog, doc):
    """(parser, subparsers, common): subcommands sharing --timeout, for every workload on this protocol."""
    p = Parser(prog=prog, description=doc.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", metavar="SUBCOMMAND", parser_class=Parser)
    sub.required = True
    common = Parser(add_help=False)
    common.add_argument("--timeout", type=pos_float, default=10.0,
                        help="seconds to wait for the other side, overall (default 10)")
    return p, sub, common


def build_parser():
    p, sub, common = workload_parser("tcp_actor.py", __doc__)

    def server(name, func, help_):
        sp = sub.add_parser(name, parents=[common], help=help_)
        sp.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
        sp.add_argument("--port", type=int, default=0, help="port, 0 = ephemeral (default)")
        sp.set_defaults(func=func)
        return sp

    def client(name, func, help_):
        sp = sub.add_parser(name, parents=[common], help=help_)
        sp.add_argument("--host", required=True, help="server address")
        sp.add_argument("--port", type=int, required=True, help="server port")
        sp.set_defaults(func=func)
        return sp

    sp = server("server-leak", cmd_server_leak, "accept N, read to EOF, never close (CLOSE_WAIT)")
    sp.add_argument("--count", type=pos_int, default=1)
    sp.add_argument("--hold", type=nonneg_float, default=5.0,
                    help="seconds to hold the CLOSE_WAIT sockets (default 5)")
    sp.add_argument("--fork", action="store_true",
                    help="after EOF on all, fork a child that shares the sockets for --hold seconds")

    sp = server("server-late-write", cmd_server_late_write, "write after the peer closed (EPIPE)")
    sp.add_argument("--delay", type=nonneg_float, default=1.0,
                    help="seconds between reading the request and writing (default 1)")
    sp.add_argument("--writes", type=pos_int, default=20, help="max writes of 1 KiB (default 20)")
    sp.add_argument("--interval", type=nonneg_float, default=0.05,
                    help="seconds between writes (default 0.05)")

    server("server-abort", cmd_server_abort, "read the request, then close with RST (SO_LINGER 0)")

    sp = client("client-impatient", cmd_client_impatient, "send GET, wait, close before the reply")
    sp.add_argument("--wait", type=nonneg_float, default=0.2,
                    help="seconds between request and close (default 0.2)")
    sp.add_argument("--until-signal", action="store_true",
                    help="instead of --wait, close on SIGUSR1 (the --timeout watchdog still applies)")

    client("client-hold", cmd_client_hold, "send hello, read until RST or FIN")
    client("client-closed-port", cmd_client_closed_port, "connect to a port with no listener")

    sp = sub.add_parser("epipe-storm", parents=[common], help="send() on a shut-down socket for --seconds (EPIPE each time)")
    sp.add_argument("--host", default="127.0.0.1", help="loopback address to use (default 127.0.0.1)")
    sp.add_argument("--seconds", type=pos_float, default=1.0)
    sp.add_argument("--rate", type=nonneg_float, default=0.0, help="sends per second, 0 = as fast as possible (default)")
    sp.set_defaults(func=cmd_epipe_storm)

    sp = client("client-connect-close", cmd_client_connect_close, "connect and close N times")
    sp.add_argument("--count", type=pos_int, default=1)
    return p


def main(argv=None, parser=None):
    """Runs a subcommand under the protocol: watchdog, stop handling, one final line."""
    args = (parser or build_parser()).parse_args(argv)
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # belt and braces next to MSG_NOSIGNAL
    _watch_stdin()
    start_watchdog(args.timeout)
    try:
        args.func(args)
    except Timeout:
        emit({"error": "timeout after %gs while %s" % (_timeout, PHASE), "timeout": True})
        return 1
    except Stop as s:
        emit({"error": "stopped by %s while %s" % (s.reason, PHASE), "stopped_by": s.reason})
        return 1
    except ActorError as e:
        emit(dict({"error": str(e)}, **e.extra))
        return 1
    except OSError as e:
        emit({"error": "%s while %s" % (e, PHASE), "errno": errno_name(e)})
        return 1
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
