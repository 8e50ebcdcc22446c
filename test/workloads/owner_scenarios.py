#!/usr/bin/env python3
"""owner_scenarios: workloads where the owner of a socket is not the easy answer, for socktrace's
kernel tests of owner attribution (sockets handed over, listeners sharing a port, renamed processes,
socket memory reused by the kernel).

Same protocol as tcp_actor.py: one compact JSON object per line on stdout; exactly one READY line
({"ready": true, "pid": os.getpid(), ...}); intermediate lines documented per subcommand; exactly one
final line, {"done": true, ...} with exit status 0, or {"error": "..."} with exit status 1. A SIGALRM
watchdog bounds the whole run (--timeout, default 20 s), and every process this one forks is killed
when it ends. EOF on a stdin pipe (the parent went away) or SIGTERM stops it.

Stdlib only; Python >= 3.8.
"""

import argparse
import array
import ctypes
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

PR_SET_NAME = 15
CHILDREN = []  # pids this process forked, killed at the end whatever happens


def emit(obj):
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


class Failure(Exception):
    pass


class Timeout(BaseException):
    pass


class Stop(BaseException):
    pass


def _on_alarm(signum, frame):
    raise Timeout()


def _on_term(signum, frame):
    raise Stop()


def _watch_stdin():
    try:
        mode = os.fstat(0).st_mode
    except OSError:
        return
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
        return

    def reader():
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=reader, name="stdin-watch", daemon=True).start()


def set_thread_name(name):
    """prctl(PR_SET_NAME): names the calling thread (the process, when called by its main thread)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NAME, name.encode(), 0, 0, 0) != 0:
        raise Failure("prctl(PR_SET_NAME) failed: errno %d" % ctypes.get_errno())


def fork_child(body):
    """Runs body() in a child process that exits when it returns (status 0) or raises (status 1).
    The child dies with its parent (PR_SET_PDEATHSIG), and is killed at the end in any case."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
            body()
            code = 0
        except BaseException as e:  # the child must never return into the parent's code
            sys.stderr.write("child %d: %r\n" % (os.getpid(), e))
        finally:
            os._exit(code)
    CHILDREN.append(pid)
    return pid


def reap(pid, timeout=5.0):
    """Waits for a child to exit (it is then gone, its pid free for reuse)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            CHILDREN.remove(pid)
            return os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status
        time.sleep(0.01)
    raise Failure("child %d did not exit" % pid)


def listener(host, port, reuseport=False, backlog=128):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuseport:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind((host, port))
    s.listen(backlog)
    return s


def endpoint(sockaddr):
    return [sockaddr[0], sockaddr[1]]


def wait_readable(sock, timeout):
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ)
    ready = sel.select(timeout)
    sel.close()
    if not ready:
        raise Failure("nothing to read within %gs" % timeout)


def write_until_error(sock, tries=50):
    """Writes until the kernel refuses; returns the errno name (EPIPE, ECONNRESET, ...)."""
    for _ in range(tries):
        try:
            sock.send(b"late\n", socket.MSG_NOSIGNAL)
        except OSError as e:
            return errno_name(e)
        time.sleep(0.02)
    raise Failure("%d writes succeeded; the peer never reset" % tries)


def errno_name(e):
    import errno

    return errno.errorcode.get(e.errno, str(e.errno))


# ---------------------------------------------------------------------------
# Scenarios


def cmd_churn(a):
    """Many short loopback connections between a slow server and impatient clients, so the kernel
    reuses socket memory between a client's socket and a server's.

    This process is the server (slow: answers each request --delay seconds late, and leaks every
    --leak-every-th connection in CLOSE_WAIT, never closing it); a forked child is the clients'
    process (connects, sends a request, waits --wait seconds, closes: before the answer), --count
    connections, --parallel at a time. Lines: ready {"pid", "client_pid", "port"};
    {"done": true, "connections": N, "leaked": L, "late_write_errors": E}.
    """
    lsock = listener("127.0.0.1", 0)
    port = lsock.getsockname()[1]
    go_r, go_w = os.pipe()

    def clients():
        os.close(go_w)
        os.read(go_r, 1)
        set_thread_name("impatient")
        open_ = []
        for i in range(a.count):
            c = socket.create_connection(("127.0.0.1", port), timeout=5)
            c.sendall(b"GET\n")
            open_.append((time.monotonic() + a.wait, c))
            while len(open_) >= a.parallel or (i == a.count - 1 and open_):
                due, first = open_[0]
                time.sleep(max(0.0, due - time.monotonic()))
                first.close()
                open_.pop(0)

    client_pid = fork_child(clients)
    os.close(go_r)
    set_thread_name("slowapi")
    emit({"ready": True, "pid": os.getpid(), "client_pid": client_pid, "port": port})
    os.write(go_w, b"g")

    sel = selectors.DefaultSelector()
    lsock.setblocking(False)
    sel.register(lsock, selectors.EVENT_READ)
    answers = []  # (due, conn)
    leaked = []
    accepted = 0
    answered = 0
    errors = 0
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
    reap(client_pid, 10)
    emit({"done": True, "connections": accepted, "leaked": len(leaked), "late_write_errors": errors})
    for conn in leaked:
        conn.close()


def cmd_scm_handoff(a):
    """Process A connects twice to a server S and hands both fds to B over a UNIX socket (SCM_RIGHTS),
    then exits and is reaped. B is this process; S is another child.

    Then: B sends a request on the first connection; S reads it and closes (FIN: B's socket goes to
    CLOSE_WAIT); B reads to EOF and writes until it fails (S's closed socket answers with an RST, then
    EPIPE). B never touches the second connection until S aborts it (SO_LINGER 0: an RST), then
    reads it (ECONNRESET) and writes it (EPIPE).
    Lines: ready {"pid" (B), "a_pid", "server_pid", "server_port", "first": [addr, port], "second": [addr, port]};
    {"done": true, "first_errno", "second_recv_errno", "second_send_errno"}.
    """
    ctl_r, ctl_w = os.pipe()  # S -> B: the port
    go_r, go_w = os.pipe()  # B -> S: one byte per step

    def server():
        os.close(ctl_r)
        os.close(go_w)
        s = listener("127.0.0.1", 0)
        os.write(ctl_w, struct.pack("H", s.getsockname()[1]))
        c1, _ = s.accept()
        c2, _ = s.accept()
        c1.recv(64)  # B's request
        c1.close()  # FIN
        os.read(go_r, 1)  # B has seen the EOF and written on the first
        c2.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c2.close()  # RST
        os.read(go_r, 1)  # EOF: B is done

    server_pid = fork_child(server)
    os.close(ctl_w)
    os.close(go_r)
    port = struct.unpack("H", os.read(ctl_r, 2))[0]

    pair_b, pair_a = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)

    def handler_a():
        pair_b.close()
        c1 = socket.create_connection(("127.0.0.1", port), timeout=5)
        c2 = socket.create_connection(("127.0.0.1", port), timeout=5)
        c1.sendall(b"")  # nothing: A only connects
        fds = array.array("i", [c1.fileno(), c2.fileno()])
        pair_a.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds.tobytes())])
        c1.close()
        c2.close()

    a_pid = fork_child(handler_a)
    pair_a.close()
    msg, anc, _, _ = pair_b.recvmsg(1, socket.CMSG_SPACE(2 * 4))
    fds = array.array("i")
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % 4)])
    if len(fds) != 2:
        raise Failure("received %d fds, not 2" % len(fds))
    if reap(a_pid) != 0:
        raise Failure("A failed")
    first = socket.socket(fileno=fds[0])
    second = socket.socket(fileno=fds[1])
    emit({"ready": True, "pid": os.getpid(), "a_pid": a_pid, "server_pid": server_pid, "server_port": port,
          "first": endpoint(first.getsockname()), "second": endpoint(second.getsockname())})

    first.settimeout(5)
    first.sendall(b"GET\n")
    while first.recv(64):
        pass  # to EOF: S closed, our socket is in CLOSE_WAIT
    first_errno = write_until_error(first)
    os.write(go_w, b"1")
    wait_readable(second, 5)
    try:
        second.recv(64)
        raise Failure("a receive on the aborted connection succeeded")
    except OSError as e:
        second_recv = errno_name(e)
    try:
        second.send(b"x", socket.MSG_NOSIGNAL)
        raise Failure("a send on the aborted connection succeeded")
    except OSError as e:
        second_send = errno_name(e)
    emit({"done": True, "first_errno": first_errno, "second_recv_errno": second_recv,
          "second_send_errno": second_send})
    first.close()
    second.close()
    os.close(go_w)
    reap(server_pid)


def cmd_reuseport(a):
    """Two processes (this one and a forked child) listen on one port with SO_REUSEPORT and never
    accept; a third connects --count times and closes each at once, so every queued socket goes to
    CLOSE_WAIT in one of the two accept queues (the kernel picks by hash).
    Lines: ready {"pid", "other_pid", "port", "host"}; {"done": true, "connections": N}.
    """
    _listeners_never_accepting(a, [a.host, a.host], reuseport=True)


def cmd_two_addresses(a):
    """One port on two addresses (127.0.0.1 and 127.0.0.2), each held by its own process (this one on
    the first, a forked child on the second), never accepting; --count connections to each, closed at
    once (queued sockets in CLOSE_WAIT).
    Lines: ready {"pid", "other_pid", "port", "hosts": [first, second]}; {"done": true, "connections": N}.
    """
    _listeners_never_accepting(a, ["127.0.0.1", "127.0.0.2"], reuseport=False)


def _listeners_never_accepting(a, hosts, reuseport):
    mine = listener(hosts[0], 0, reuseport=reuseport)
    port = mine.getsockname()[1]
    ready_r, ready_w = os.pipe()
    hold_r, hold_w = os.pipe()

    def other():
        os.close(ready_r)
        os.close(hold_w)
        s = listener(hosts[1], port, reuseport=reuseport)
        os.write(ready_w, b"r")
        os.read(hold_r, 1)  # EOF: the parent is done
        s.close()

    other_pid = fork_child(other)
    os.close(ready_w)
    os.close(hold_r)
    if os.read(ready_r, 1) != b"r":
        raise Failure("the second listener did not start")

    def clients():
        set_thread_name("clients")
        for host in sorted(set(hosts)):
            for _ in range(a.count):
                c = socket.create_connection((host, port), timeout=5)
                c.close()

    emit({"ready": True, "pid": os.getpid(), "other_pid": other_pid, "port": port, "hosts": hosts})
    client_pid = fork_child(clients)
    if reap(client_pid, 10) != 0:
        raise Failure("the clients failed")
    time.sleep(a.hold)
    emit({"done": True, "connections": a.count * len(set(hosts)), "client_pid": client_pid})
    os.close(hold_w)
    reap(other_pid)
    mine.close()


def cmd_thread_connect(a):
    """A thread renamed with prctl(PR_SET_NAME) (--thread-name) connects to a server S (a forked child)
    and sends a request; then the main thread renames the process (--process-name); then S closes the
    connection (FIN: our socket goes to CLOSE_WAIT) and we read to EOF.
    Lines: ready {"pid", "server_pid", "comm" (the process's name at start)}; {"connected": [addr, port], "peer": [addr, port]};
    {"renamed": name}; {"done": true}.
    """
    ctl_r, ctl_w = os.pipe()
    go_r, go_w = os.pipe()

    def server():
        os.close(ctl_r)
        os.close(go_w)
        s = listener("127.0.0.1", 0)
        os.write(ctl_w, struct.pack("H", s.getsockname()[1]))
        c, _ = s.accept()
        c.recv(64)
        os.read(go_r, 1)
        c.close()
        os.read(go_r, 1)

    server_pid = fork_child(server)
    os.close(ctl_w)
    os.close(go_r)
    port = struct.unpack("H", os.read(ctl_r, 2))[0]
    with open("/proc/self/comm") as f:
        comm = f.read().strip()
    emit({"ready": True, "pid": os.getpid(), "server_pid": server_pid, "comm": comm})

    box = {}

    def worker():
        try:
            set_thread_name(a.thread_name)
            c = socket.create_connection(("127.0.0.1", port), timeout=5)
            c.sendall(b"GET\n")
            box["sock"] = c
        except BaseException as e:
            box["error"] = e

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    if "error" in box:
        raise Failure("the thread failed: %r" % box["error"])
    c = box["sock"]
    emit({"connected": endpoint(c.getsockname()), "peer": endpoint(c.getpeername())})
    set_thread_name(a.process_name)
    emit({"renamed": a.process_name})
    os.write(go_w, b"1")
    c.settimeout(5)
    while c.recv(64):
        pass
    time.sleep(a.hold)
    emit({"done": True})
    c.close()
    os.close(go_w)
    reap(server_pid)


HOLDER = r"""
import json, os, socket, sys, time
fd, go, done = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(fileno=fd)
print(json.dumps({"holder": os.getpid()}), flush=True)
os.read(go, 1)  # the peer has closed: write until the kernel refuses
err = None
for _ in range(50):
    try:
        s.send(b"late\n", socket.MSG_NOSIGNAL)
    except OSError as e:
        err = e.errno
        break
    time.sleep(0.02)
print(json.dumps({"holder_errno": None if err is None else __import__("errno").errorcode[err]}), flush=True)
os.write(done, b"d")
os.read(go, 1)  # EOF: the end
"""


def cmd_pid_reuse(a):
    """A process P connects to this one (the server), forks a child C that execs a new program keeping
    the socket, and exits; then a newcomer N is made to take P's pid (ns_last_pid) and uses TCP itself.
    Then the server closes the connection (C's socket goes to CLOSE_WAIT), and C writes until it fails
    (an RST, then EPIPE). Nothing may name P's pid for C's socket: it is N's by then.
    Lines: ready {"pid", "port"}; {"holder": C} (from C); {"reused": P, "newcomer": N, "local": [addr, port]
    of C's socket}; {"holder_errno": n} (from C); {"done": true, "p_pid", "holder_pid", "newcomer_pid"}.
    """
    ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: C stays ours to end
    lsock = listener("127.0.0.1", 0)
    port = lsock.getsockname()[1]
    emit({"ready": True, "pid": os.getpid(), "port": port})
    go_r, go_w = os.pipe()
    done_r, done_w = os.pipe()
    local_r, local_w = os.pipe()

    def first_owner():
        os.close(go_w)
        os.close(done_r)
        c = socket.create_connection(("127.0.0.1", port), timeout=5)
        os.write(local_w, struct.pack("H", c.getsockname()[1]))
        os.set_inheritable(c.fileno(), True)
        os.set_inheritable(go_r, True)
        os.set_inheritable(done_w, True)
        holder = os.fork()
        if holder == 0:
            os.execv(sys.executable, [sys.executable, "-c", HOLDER, str(c.fileno()), str(go_r), str(done_w)])
        # P exits with the socket still held by C.

    p_pid = fork_child(first_owner)
    os.close(go_r)
    os.close(done_w)
    server_side, _ = lsock.accept()
    local_port = struct.unpack("H", os.read(local_r, 2))[0]
    if reap(p_pid) != 0:
        raise Failure("P failed")

    # The newcomer: the next pid handed out is P's again (retried: other processes take pids too).
    news_r, news_w = os.pipe()
    newcomer = None
    for _ in range(500):
        with open("/proc/sys/kernel/ns_last_pid", "w") as f:
            f.write(str(p_pid - 1))

        def newcomer_body():
            os.close(news_w)
            server_side.close()  # only the server holds its side
            if os.getpid() != p_pid:
                return
            n = socket.create_connection(("127.0.0.1", port), timeout=5)
            n.sendall(b"newcomer\n")
            os.read(news_r, 1)  # EOF: done

        pid = fork_child(newcomer_body)
        if pid == p_pid:
            newcomer = pid
            break
        reap(pid)
    if newcomer is None:
        raise Failure("could not make a process take pid %d again" % p_pid)
    os.close(news_r)
    n_side, _ = lsock.accept()
    n_side.recv(64)  # the newcomer has used its socket: it is an owner under P's pid
    emit({"reused": p_pid, "newcomer": newcomer, "local": ["127.0.0.1", local_port]})

    server_side.close()  # FIN: C's socket goes to CLOSE_WAIT
    time.sleep(a.hold)
    os.write(go_w, b"1")  # C writes until it fails
    if os.read(done_r, 1) != b"d":
        raise Failure("C ended before its writes failed")
    time.sleep(a.hold)
    emit({"done": True, "p_pid": p_pid, "newcomer_pid": newcomer})
    os.close(go_w)
    os.close(news_w)
    n_side.close()
    reap(newcomer)


# ---------------------------------------------------------------------------


class Parser(argparse.ArgumentParser):
    def error(self, message):
        emit({"error": "usage: %s" % message})
        sys.exit(1)


def build_parser():
    p = Parser(prog="owner_scenarios.py", description=__doc__.split("\n")[0])
    p.add_argument("--timeout", type=float, default=20.0, help="watchdog over the whole run (default 20 s)")
    sub = p.add_subparsers(dest="cmd", parser_class=Parser)
    sub.required = True

    sp = sub.add_parser("churn")
    sp.add_argument("--count", type=int, default=300)
    sp.add_argument("--parallel", type=int, default=8)
    sp.add_argument("--wait", type=float, default=0.01)
    sp.add_argument("--delay", type=float, default=0.05)
    sp.add_argument("--leak-every", type=int, default=5)
    sp.set_defaults(func=cmd_churn)

    sp = sub.add_parser("scm-handoff")
    sp.set_defaults(func=cmd_scm_handoff)

    sp = sub.add_parser("reuseport")
    sp.add_argument("--host", default="127.0.0.1")
    sp.add_argument("--count", type=int, default=16)
    sp.add_argument("--hold", type=float, default=0.5)
    sp.set_defaults(func=cmd_reuseport)

    sp = sub.add_parser("two-addresses")
    sp.add_argument("--count", type=int, default=4)
    sp.add_argument("--hold", type=float, default=0.5)
    sp.set_defaults(func=cmd_two_addresses)

    sp = sub.add_parser("pid-reuse")
    sp.add_argument("--hold", type=float, default=0.5)
    sp.set_defaults(func=cmd_pid_reuse)

    sp = sub.add_parser("thread-connect")
    sp.add_argument("--thread-name", default="worker-thread")
    sp.add_argument("--process-name", default="renamed-proc")
    sp.add_argument("--hold", type=float, default=0.3)
    sp.set_defaults(func=cmd_thread_connect)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    _watch_stdin()
    signal.setitimer(signal.ITIMER_REAL, args.timeout)
    code = 1
    try:
        args.func(args)
        code = 0
    except Timeout:
        emit({"error": "timeout after %gs in %s" % (args.timeout, args.cmd), "timeout": True})
    except Stop:
        emit({"error": "stopped in %s" % args.cmd, "stopped": True})
    except (Failure, OSError) as e:
        emit({"error": "%s: %s" % (args.cmd, e)})
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        for pid in list(CHILDREN):
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except OSError:
                pass
    return code


if __name__ == "__main__":
    sys.exit(main())
