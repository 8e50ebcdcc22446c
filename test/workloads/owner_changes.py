#!/usr/bin/env python3
"""owner_changes: workloads where a socket's owner is not the process that opened it, or not obvious.

Sockets handed over SCM_RIGHTS or inherited through fork + exec, the opener exiting; a connection made
by a named thread of a process that renames itself; listeners that never accept (SO_REUSEPORT groups of
several processes, one port on two addresses, a backlog left full); a service at its fd limit; many
short connections, so the kernel reuses socket memory between one side's sockets and the other's.
Both backends' owner tests (test/kernel/owner-truth.test.ts, bpftrace-owner-truth.test.ts) run these.

Same protocol as tcp_actor.py (whose helpers this uses): one ready line with "pid", optional lines, one
final {"done": true, ...} or {"error": ...} line; every run bounded by a watchdog (--timeout).
Stdlib only; Python >= 3.9 (socket.send_fds).
"""

import ctypes
import errno
import os
import resource
import selectors
import signal
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tcp_actor as T  # noqa: E402

PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15
_libc = ctypes.CDLL(None, use_errno=True)


def set_thread_name(name):
    """prctl(PR_SET_NAME): names the calling thread (the process, when called from the main thread)."""
    if _libc.prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()), 0, 0, 0) != 0:
        raise T.ActorError("prctl(PR_SET_NAME) failed: errno %d" % ctypes.get_errno())


def wait_signal(signum):
    """An event set by the signal, to wait on with a bounded loop."""
    flag = threading.Event()
    signal.signal(signum, lambda *_: flag.set())
    return flag


def wait_readable(sock, phase):
    T.set_phase(phase)
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ)
    if not sel.select(timeout=T.remaining()):
        raise T.ActorError("no FIN or RST while %s" % phase)
    sel.close()


def outlive_peer(sock, index):
    """After the peer's FIN or RST: read it; after a FIN, write late twice (an RST answers the first,
    EPIPE fails the second); after an RST (the read fails), write once (EPIPE). Returns the line to emit."""
    local = T.addr(sock.getsockname())
    sock.settimeout(T.remaining())
    try:
        data = sock.recv(65536)
    except OSError as e:
        return {"ended": index, "local": local, "how": "rst", "errno": T.errno_name(e), "send_errno": write_fails(sock)}
    if data:
        raise T.ActorError("unexpected data from the peer", local=local)
    time.sleep(0.2)
    sock.send(b"late\n")  # reaches the peer's closed socket, which answers with an RST
    time.sleep(0.3)
    return {"ended": index, "local": local, "how": "fin", "errno": write_fails(sock)}


def write_fails(sock):
    """The errno of a write that must fail (the connection was reset)."""
    try:
        sock.send(b"late\n")
    except OSError as e:
        return T.errno_name(e)
    raise T.ActorError("a write after the peer's RST succeeded", local=T.addr(sock.getsockname()))


def cmd_peer_server(a):
    """Accept --count connections, greet those in --greet ("hello\\n"), then end each as --ends says:
    fin (close) or rst (SO_LINGER 0), after --delay seconds or, with --until-signal, on SIGUSR1.
    Lines: ready; {"accepted": [[addr, port], ...]}; {"done": true, "peers": [...]}."""
    go = wait_signal(signal.SIGUSR1) if a.until_signal else None
    lsock = T.listen(a.host, a.port)
    T.server_ready(lsock)
    ends = a.ends.split(",")
    greet = {int(i) for i in a.greet.split(",") if i}
    conns, peers = [], []
    for i in range(a.count):
        conn, peer = T.accept_one(lsock)
        conns.append(conn)
        peers.append(peer)
        if i in greet:
            conn.sendall(b"hello\n")
    T.emit({"accepted": peers})
    if go is not None:
        T.set_phase("waiting for SIGUSR1")
        while not go.wait(0.05):
            pass
    else:
        T.sleep_deliberately(a.delay)
    for i, conn in enumerate(conns):
        if ends[i % len(ends)] == "rst":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()
    T.emit({"done": True, "peers": peers})


def cmd_handoff_scm(a):
    """A child (the opener) connects --count times, hands every socket to this process over SCM_RIGHTS
    and exits. The first --greeted sockets are then read (the peer's greeting), the others left alone
    until the peer ends them; after each end, what outlive_peer does.
    Lines: {"ready": true, "pid", "opener": pid, "locals": [...]}; {"greeted": n};
    {"ended": i, "local", "how": "fin"|"rst", "errno"} per socket ("send_errno" too after an RST);
    {"done": true}."""
    here, there = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    opener = os.fork()
    if opener == 0:
        try:
            here.close()
            socks = [T.connect(a.host, a.port) for _ in range(a.count)]
            socket.send_fds(there, [b"x"], [s.fileno() for s in socks])
        finally:
            os._exit(0)
    there.close()
    T.set_phase("receiving the sockets")
    here.settimeout(T.remaining())
    _, fds, _, _ = socket.recv_fds(here, 16, a.count)
    os.waitpid(opener, 0)  # the opener is gone before anything else happens
    if len(fds) != a.count:
        raise T.ActorError("received %d of %d sockets" % (len(fds), a.count))
    socks = [socket.socket(fileno=fd) for fd in fds]
    T.emit({"ready": True, "pid": os.getpid(), "opener": opener, "locals": [T.addr(s.getsockname()) for s in socks]})
    for s in socks[: a.greeted]:
        s.settimeout(T.remaining())
        if s.recv(6) != b"hello\n":
            raise T.ActorError("no greeting")
    T.emit({"greeted": a.greeted})
    for i, s in enumerate(socks):
        wait_readable(s, "waiting for the peer to end socket %d" % i)
        T.emit(outlive_peer(s, i))
    T.emit({"done": True})


def cmd_handoff_exec(a):
    """Connect, then fork a child that execs this script's hold-fd with the socket, wait until it holds
    it, and exit: the child (another program now) is the socket's only holder.
    Lines: {"ready": true, "pid", "local"}; the child's lines (see hold-fd); {"done": true, "child"}."""
    s = T.connect(a.host, a.port)
    T.emit({"ready": True, "pid": os.getpid(), "local": T.addr(s.getsockname())})
    s.set_inheritable(True)
    held_r, held_w = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(held_r)
        argv = [sys.executable, os.path.abspath(__file__), "hold-fd", "--fd", str(s.fileno()),
                "--told", str(held_w), "--timeout", str(a.timeout)]
        os.set_inheritable(held_w, True)
        # Its own life is bounded by its watchdog: the test's stdin pipe ends when this parent does.
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.execv(sys.executable, argv)
    os.close(held_w)
    T.set_phase("waiting for the child to hold the socket")
    os.read(held_r, 1)
    T.emit({"done": True, "child": child})


def cmd_hold_fd(a):
    """The exec'd child of handoff-exec: holds the inherited socket, then outlives its peer.
    Lines: {"holding": true, "child": pid, "local"}; {"ended": 0, ...}; {"held": true}."""
    s = socket.socket(fileno=a.fd)
    T.emit({"holding": True, "child": os.getpid(), "local": T.addr(s.getsockname())})
    os.write(a.told, b"x")
    os.close(a.told)
    wait_readable(s, "waiting for the peer to end the socket")
    T.emit(outlive_peer(s, 0))
    T.emit({"held": True})


def cmd_thread_connect(a):
    """Name the process --name, connect from a thread named --thread-name, and once the peer ends the
    connection (with --rename-first: at once) rename the process to --rename before outliving it (see
    outlive_peer).
    Lines: {"ready": true, "pid", "comm" (--name), "local", "peer"}; {"renamed": name}; {"ended": 0, ...};
    {"done": true}."""
    set_thread_name(a.name)
    box = {}

    def worker():
        try:
            set_thread_name(a.thread_name)
            box["sock"] = T.connect(a.host, a.port)
        except BaseException as e:  # reported by the main thread
            box["error"] = e

    t = threading.Thread(target=worker)
    t.start()
    t.join(T.remaining())
    if "sock" not in box:
        raise T.ActorError("the thread did not connect: %s" % box.get("error"))
    s = box["sock"]
    T.emit({"ready": True, "pid": os.getpid(), "comm": a.name, "local": T.addr(s.getsockname()),
            "peer": T.addr(s.getpeername())})

    def rename():
        set_thread_name(a.rename)
        T.emit({"renamed": a.rename})

    if a.rename_first:
        rename()
    wait_readable(s, "waiting for the peer to end the connection")
    if not a.rename_first:
        rename()
    T.emit(outlive_peer(s, 0))
    T.emit({"done": True})


def cmd_queue_listener(a):
    """Listen with --backlog (SO_REUSEPORT with --reuseport) and accept nothing until SIGUSR1; then
    accept everything queued and report whose connections they were. With --then-accept, go on
    accepting (and closing) every connection until SIGTERM: a listener that overflowed in a burst and
    drained.
    Lines: ready (host, port); {"drained": [[addr, port], ...]}; {"done": true}."""
    go = wait_signal(signal.SIGUSR1)
    family, sockaddr = T.resolve(a.host, a.port)
    lsock = socket.socket(family, socket.SOCK_STREAM)
    if a.reuseport:
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    if a.defer_accept:
        # A handshake stays a request until data comes: its final step is then a data segment, which a
        # queue that filled meanwhile refuses (TCP_LISTEN_OVERFLOW, with the client's address).
        lsock.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, a.defer_accept)
    lsock.bind(sockaddr)
    lsock.listen(a.backlog)
    T.server_ready(lsock)
    T.set_phase("waiting for SIGUSR1")
    while not go.wait(0.05):
        pass
    lsock.setblocking(False)
    drained, held = [], []
    while True:
        try:
            conn, peer = lsock.accept()
        except BlockingIOError:
            break
        held.append(conn)
        drained.append(T.addr(peer))
    T.emit({"drained": drained})
    if a.then_accept:
        T.set_phase("accepting until SIGTERM")
        sel = selectors.DefaultSelector()
        sel.register(lsock, selectors.EVENT_READ)
        try:
            while True:
                if sel.select(timeout=0.05):
                    try:
                        conn, _ = lsock.accept()
                        conn.close()
                    except BlockingIOError:
                        pass
        except T.Stop:
            pass
    T.emit({"done": True})


def cmd_fd_limited_server(a):
    """A leaking service at its fd limit: RLIMIT_NOFILE soft --nofile, accept (and never read or
    close) until accept fails with EMFILE, then retry every 10 ms as real servers do, leaving new
    connections in the accept queue (--backlog). Runs until SIGTERM or --hold seconds.
    Lines: ready; {"full": accepted} at the first EMFILE; {"done": true, "accepted": n}."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (a.nofile, hard))
    lsock = T.listen(a.host, a.port, backlog=a.backlog)
    lsock.setblocking(False)
    T.server_ready(lsock)
    held, full = [], False
    T.extend_deadline(a.hold)
    end = time.monotonic() + a.hold
    try:
        while time.monotonic() < end:
            try:
                conn, _ = lsock.accept()
                held.append(conn)
            except BlockingIOError:
                time.sleep(0.01)
            except OSError as e:
                if e.errno != errno.EMFILE:
                    raise
                if not full:
                    full = True
                    T.emit({"full": len(held)})
                time.sleep(0.01)
    except T.Stop:
        pass
    T.emit({"done": True, "accepted": len(held)})


def cmd_many_clients(a):
    """Open --count connections (each sends "GET\\n"), hold them until SIGUSR1, then close them all.
    Lines: {"ready": true, "pid", "locals": [...]}; {"done": true}."""
    go = wait_signal(signal.SIGUSR1)
    socks = [T.connect(a.host, a.port) for _ in range(a.count)]
    for s in socks:
        s.sendall(b"GET\n")
    T.emit({"ready": True, "pid": os.getpid(), "locals": [T.addr(s.getsockname()) for s in socks]})
    T.set_phase("waiting for SIGUSR1")
    while not go.wait(0.05):
        pass
    for s in socks:
        s.close()
    T.emit({"done": True})


def cmd_knocking_clients(a):
    """Start --count connects at once, each given --connect-timeout seconds; a connect that has not
    completed by then is closed (its SYNs went unanswered: the listener's queue was full). With
    --waves N, N such rounds, each connected client sending one byte before the next round starts.
    Hold the rest until SIGUSR1, then close them.
    Lines: {"ready": true, "pid", "connected", "timedOut", "refused"}; {"done": true}."""
    go = wait_signal(signal.SIGUSR1)
    totals = {"connected": [], "timedOut": 0, "refused": 0}
    for _ in range(a.waves):
        connected, timed_out, refused = knock(a)
        if a.waves > 1:
            for s in connected:
                s.send(b"x")
            time.sleep(0.2)
        totals["connected"] += connected
        totals["timedOut"] += timed_out
        totals["refused"] += refused
    connected = totals["connected"]
    T.emit({"ready": True, "pid": os.getpid(), "connected": len(connected), "timedOut": totals["timedOut"], "refused": totals["refused"]})
    T.set_phase("waiting for SIGUSR1")
    while not go.wait(0.05):
        pass
    for s in connected:
        s.close()
    T.emit({"done": True})


def knock(a):
    """One round of --count connects: (the connected sockets, how many timed out, how many were refused)."""
    family, sockaddr = T.resolve(a.host, a.port)
    sel = selectors.DefaultSelector()
    pending = []
    for _ in range(a.count):
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex(sockaddr)
        sel.register(s, selectors.EVENT_WRITE)
        pending.append(s)
    connected, refused = [], 0
    deadline = time.monotonic() + a.connect_timeout
    while pending and time.monotonic() < deadline:
        for key, _ in sel.select(max(0.0, deadline - time.monotonic())):
            s = key.fileobj
            sel.unregister(s)
            pending.remove(s)
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                connected.append(s)
            else:
                refused += 1
                s.close()
    for s in pending:
        sel.unregister(s)
        s.close()
    sel.close()
    return connected, len(pending), refused


def cmd_churn(a):
    """Many short loopback connections between a slow server and impatient clients, so the kernel
    reuses socket memory between a client's socket and a server's.

    This process is the server, named "slowapi" (slow: answers each request --delay seconds late, and
    leaks every --leak-every-th connection in CLOSE_WAIT, never closing it); a forked child named
    "impatient" is the clients' process (connects, sends a request, waits --wait seconds, closes: before
    the answer), --count connections, --parallel at a time.
    Lines: {"ready": true, "pid", "client_pid", "port"};
    {"done": true, "connections": n, "leaked": l, "late_write_errors": e}."""
    lsock = T.listen("127.0.0.1", 0, backlog=128)
    port = lsock.getsockname()[1]
    go_r, go_w = os.pipe()
    client_pid = os.fork()
    if client_pid == 0:
        code = 1
        try:
            _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            os.close(go_w)
            os.read(go_r, 1)
            set_thread_name("impatient")
            open_ = []
            for i in range(a.count):
                c = T.connect("127.0.0.1", port)
                c.sendall(b"GET\n")
                open_.append((time.monotonic() + a.wait, c))
                while len(open_) >= a.parallel or (i == a.count - 1 and open_):
                    due, first = open_.pop(0)
                    time.sleep(max(0.0, due - time.monotonic()))
                    first.close()
            code = 0
        except BaseException as e:  # the child never returns into the parent's code
            sys.stderr.write("clients: %r\n" % (e,))
        finally:
            os._exit(code)
    try:
        os.close(go_r)
        set_thread_name("slowapi")
        T.emit({"ready": True, "pid": os.getpid(), "client_pid": client_pid, "port": port})
        os.write(go_w, b"g")
        T.set_phase("serving the impatient clients")
        accepted, leaked, errors = _serve_slowly(lsock, a)
        T.set_phase("waiting for the clients' process to exit")
        _, status = os.waitpid(client_pid, 0)
        client_pid = 0
        if status != 0:
            raise T.ActorError("the clients' process failed")
        T.emit({"done": True, "connections": accepted, "leaked": len(leaked), "late_write_errors": errors})
        for conn in leaked:
            conn.close()
    finally:
        if client_pid:
            os.kill(client_pid, signal.SIGKILL)
            os.waitpid(client_pid, 0)


def _serve_slowly(lsock, a):
    """churn's server: accept --count connections; answer each request --delay seconds late (twice,
    then close), except every --leak-every-th, kept open. Returns (accepted, leaked sockets, errors)."""
    sel = selectors.DefaultSelector()
    lsock.setblocking(False)
    sel.register(lsock, selectors.EVENT_READ)
    answers = []  # (due, conn), earliest first
    leaked = []
    accepted = answered = errors = 0
    while accepted < a.count or answers:
        timeout = 0.05 if not answers else max(0.0, answers[0][0] - time.monotonic())
        for key, _ in sel.select(timeout):
            if key.fileobj is lsock:
                while True:
                    try:
                        conn, _ = lsock.accept()
                    except BlockingIOError:
                        break
                    accepted += 1
                    conn.setblocking(False)
                    sel.register(conn, selectors.EVENT_READ)
            else:
                conn = key.fileobj
                sel.unregister(conn)
                try:
                    conn.recv(1024)
                except OSError:
                    pass
                answers.append((time.monotonic() + a.delay, conn))
                answers.sort(key=lambda x: x[0])
        now = time.monotonic()
        while answers and answers[0][0] <= now:
            _, conn = answers.pop(0)
            answered += 1
            if answered % a.leak_every == 0:
                leaked.append(conn)  # never closed: CLOSE_WAIT once the client has gone
                continue
            conn.setblocking(True)
            conn.settimeout(1)
            try:
                conn.send(b"200 OK\n", socket.MSG_NOSIGNAL)
                time.sleep(0.002)
                conn.send(b"200 OK\n", socket.MSG_NOSIGNAL)
            except OSError:
                errors += 1
            conn.close()
    return accepted, leaked, errors


def build_parser():
    p, sub, common = T.workload_parser("owner_changes.py", __doc__)

    def command(name, func, help_, host=True):
        sp = sub.add_parser(name, parents=[common], help=help_)
        if host:
            sp.add_argument("--host", default="127.0.0.1")
            sp.add_argument("--port", type=int, default=0)
        sp.set_defaults(func=func)
        return sp

    sp = command("peer-server", cmd_peer_server, "accept, greet, then end each connection by FIN or RST")
    sp.add_argument("--count", type=T.pos_int, default=1)
    sp.add_argument("--greet", default="", help="indexes of the connections to greet, comma-separated")
    sp.add_argument("--ends", default="fin", help="fin or rst per connection, comma-separated, repeating")
    sp.add_argument("--delay", type=T.nonneg_float, default=1.0)
    sp.add_argument("--until-signal", action="store_true")

    sp = command("handoff-scm", cmd_handoff_scm, "sockets opened by a child, handed over SCM_RIGHTS")
    sp.add_argument("--count", type=T.pos_int, default=1)
    sp.add_argument("--greeted", type=int, default=0)

    command("handoff-exec", cmd_handoff_exec, "connect, hand the socket to an exec'd child, exit")

    sp = command("hold-fd", cmd_hold_fd, "(the exec'd child of handoff-exec)", host=False)
    sp.add_argument("--fd", type=int, required=True)
    sp.add_argument("--told", type=int, required=True)

    sp = command("thread-connect", cmd_thread_connect, "connect from a named thread, rename the process")
    sp.add_argument("--name", default="svc-main")
    sp.add_argument("--thread-name", default="conn-worker")
    sp.add_argument("--rename", default="svc-renamed")
    sp.add_argument("--rename-first", action="store_true", help="rename before the peer ends the connection")

    sp = command("many-clients", cmd_many_clients, "hold --count connections until SIGUSR1, then close")
    sp.add_argument("--count", type=T.pos_int, default=1)

    sp = command("knocking-clients", cmd_knocking_clients, "--count connects at once, each with a short timeout")
    sp.add_argument("--count", type=T.pos_int, default=1)
    sp.add_argument("--connect-timeout", type=T.nonneg_float, default=1.0)
    sp.add_argument("--waves", type=T.pos_int, default=1, help="rounds of --count connects, each connected client sending a byte")

    sp = command("queue-listener", cmd_queue_listener, "listen, accept nothing until SIGUSR1")
    sp.add_argument("--backlog", type=T.pos_int, default=16)
    sp.add_argument("--reuseport", action="store_true")
    sp.add_argument("--then-accept", action="store_true", help="after SIGUSR1, keep accepting until SIGTERM")
    sp.add_argument("--defer-accept", type=T.pos_int, default=0, help="TCP_DEFER_ACCEPT seconds: handshakes complete with data")

    sp = command("fd-limited-server", cmd_fd_limited_server, "accept until EMFILE, leak everything")
    sp.add_argument("--nofile", type=T.pos_int, default=32)
    sp.add_argument("--backlog", type=T.pos_int, default=64)
    sp.add_argument("--hold", type=T.nonneg_float, default=20.0)

    sp = command("churn", cmd_churn, "many short connections: a slow server, impatient clients", host=False)
    sp.add_argument("--count", type=T.pos_int, default=300)
    sp.add_argument("--parallel", type=T.pos_int, default=8)
    sp.add_argument("--wait", type=T.nonneg_float, default=0.01)
    sp.add_argument("--delay", type=T.nonneg_float, default=0.05)
    sp.add_argument("--leak-every", type=T.pos_int, default=5)
    return p


if __name__ == "__main__":
    sys.exit(T.main(parser=build_parser()))
