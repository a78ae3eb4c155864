"""Lesson 08's Python twin: a manager served over TCP, a server that stops
answering mid-call, a worker killed holding a task, and the same with Redis.

Run it with `python3 lesson.py`, or side by side with the Rust lesson:
`cargo xtask compare 08`. Standard library only, Python 3.8 or later: Redis
is spoken over a plain socket (the RESP protocol), so redis-py is not needed;
without `redis-server` on PATH, sections 5 and 6 are one line. Both "hosts"
are processes of this machine on loopback (the Rust lesson uses network
namespaces as root).
"""

import multiprocessing as mp
import os
import queue
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
from multiprocessing.managers import BaseManager

KEY = b"lesson 08: a key both hosts know"
TASKS = 10
INCREMENTS = 1000


def section(number, what):
    print()
    print(f"## {number}. {what}", flush=True)


class HostA(BaseManager):
    pass


_store = {}
_queue = queue.Queue()


def _the_store():
    return _store


def _the_queue():
    return _queue


# Module-level functions, not lambdas: with the spawn and forkserver start
# methods the server process gets them by pickling.
HostA.register("store", callable=_the_store)
HostA.register("tasks", callable=_the_queue)


def host_b(address, said):
    wrong = HostA(address=address, authkey=b"not the key")
    try:
        wrong.connect()
        refused = False
    except mp.AuthenticationError:
        refused = True
    print(f"host B with a wrong key: refused: {refused}", flush=True)
    right = HostA(address=address, authkey=KEY)
    right.connect()
    store = right.store()
    store.update(greeting=f"hello from host B at {address[0]}")
    print(f"host B with the key: d['greeting'] = {store.get('greeting')!r}", flush=True)
    said.put("done")


def a_manager_between_two_hosts():
    section(1, "A manager on host A, a dict in it used from host B")
    server = HostA(address=("127.0.0.1", 0), authkey=KEY)
    server.start()
    print("hosts: this machine's loopback (the twin makes no namespaces)")
    print(f"host A serves the manager at tcp:{server.address[0]}:{server.address[1]}")
    said = mp.Queue()
    b = mp.Process(target=host_b, args=(server.address, said))
    b.start()
    said.get()
    b.join()
    server.shutdown()


def a_server_stops_answering():
    section(2, "Host A's server stops answering in the middle of a call")
    server = HostA(address=("127.0.0.1", 0), authkey=KEY)
    server.start()
    client = HostA(address=server.address, authkey=KEY)
    client.connect()
    tasks = client.tasks()
    tasks.put(1)
    print(f"host B: q.get(timeout=1) -> {tasks.get(timeout=1)}")
    os.kill(server._process.pid, signal.SIGSTOP)
    print("host A's server is stopped (SIGSTOP)")
    outcome = []
    waiter = threading.Thread(target=lambda: outcome.append(_try_get(tasks)), daemon=True)
    started = time.monotonic()
    waiter.start()
    waiter.join(3)
    print(f"host B: q.get(timeout=1) still waiting after {time.monotonic() - started:.1f} s:"
          f" {waiter.is_alive()}")
    print("(Python's proxy sockets have no timeout of their own: the call's timeout is the")
    print(" server's, and a server that does not answer is waited for as long as it lasts)")
    os.kill(server._process.pid, signal.SIGCONT)
    waiter.join(5)
    print(f"after SIGCONT the call returned: {outcome[:1]}")
    server.shutdown()


def _relay(listener, target, delay):
    """Passes bytes both ways between each client and `target`, each chunk
    `delay` seconds after it arrived (netem's job, in user space)."""
    def pass_on(src, dst):
        pending = queue.Queue()

        def writer():
            while True:
                arrived, chunk = pending.get()
                time.sleep(max(0.0, arrived + delay - time.monotonic()))
                try:
                    if not chunk:
                        dst.shutdown(socket.SHUT_WR)
                        return
                    dst.sendall(chunk)
                except OSError:
                    return
        threading.Thread(target=writer, daemon=True).start()
        while True:
            try:
                chunk = src.recv(65536)
            except OSError:
                chunk = b""
            pending.put((time.monotonic(), chunk))
            if not chunk:
                return
    while True:
        client, _ = listener.accept()
        try:
            server = socket.create_connection(target)
        except OSError:  # host A's manager was shut down
            client.close()
            continue
        for sock in (client, server):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=pass_on, args=(client, server), daemon=True).start()
        threading.Thread(target=pass_on, args=(server, client), daemon=True).start()


def round_trips_dominate():
    section(3, "Round trips dominate: 50 sets against one update of 50 keys, 2 ms away")
    server = HostA(address=("127.0.0.1", 0), authkey=KEY)
    server.start()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    threading.Thread(target=_relay, args=(listener, server.address, 0.002), daemon=True).start()
    print("delay: a relay thread in the path holds each chunk 2 ms each way")
    client = HostA(address=listener.getsockname(), authkey=KEY)
    client.connect()
    store = client.store()
    store.update(warm=0)
    pairs = {f"k{i}": i for i in range(50)}
    started = time.monotonic()
    for key, value in pairs.items():
        store.update({key: value})
    one_by_one = time.monotonic() - started
    started = time.monotonic()
    store.update(pairs)
    batched = time.monotonic() - started
    print(f"50 updates of one key: {one_by_one * 1000:.1f} ms; one update of 50 keys:"
          f" {batched * 1000:.1f} ms")
    server.shutdown()


def _try_get(tasks):
    try:
        return tasks.get(timeout=1)
    except queue.Empty:
        return "queue.Empty"


def _take_and_hold(tasks, tell):
    tell.put(tasks.get())
    time.sleep(60)


def a_killed_worker_and_the_managers_queue():
    section(4, "A worker killed holding a task: the manager's queue")
    with mp.Manager() as manager:
        tasks = manager.Queue()
        for task in range(1, TASKS + 1):
            tasks.put(task)
        tell = manager.Queue()
        worker = mp.Process(target=_take_and_hold, args=(tasks, tell))
        worker.start()
        held = tell.get()
        worker.kill()
        worker.join()
        rest = []
        while True:
            try:
                rest.append(tasks.get(timeout=0.1))
            except queue.Empty:
                break
        print(f"the killed worker held task {held}; the queue then gave {rest}")
        print(f"task {held} is gone: {held not in rest and len(rest) == TASKS - 1}")


class Redis:
    """Just enough of the RESP protocol for this lesson."""

    def __init__(self, port, password):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.file = self.sock.makefile("rb")
        self.call("AUTH", password)

    def call(self, *args):
        parts = [f"*{len(args)}\r\n".encode()]
        for arg in args:
            data = str(arg).encode()
            parts.append(f"${len(data)}\r\n".encode() + data + b"\r\n")
        self.sock.sendall(b"".join(parts))
        return self._reply()

    def _reply(self):
        line = self.file.readline()[:-2]
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.file.read(n + 2)[:-2]
            return data.decode()
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise RuntimeError(f"unexpected reply {line!r}")


def start_redis():
    if shutil.which("redis-server") is None:
        return None
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    password = secrets.token_hex(16)
    server = subprocess.Popen(["redis-server", "-"], stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server.stdin.write(f"bind 127.0.0.1\nport {port}\nsave \"\"\nappendonly no\n"
                       f"requirepass {password}\n".encode())
    server.stdin.close()
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port)).close()
            return server, port, password
        except OSError:
            if time.monotonic() > deadline:
                server.kill()
                raise
            time.sleep(0.01)


def _redis_worker(port, password, command, tell):
    r = Redis(port, password)
    if command == "BRPOP":
        task = int(r.call("BRPOP", "tasks", 1)[1])
    else:
        task = int(r.call("BLMOVE", "tasks", "processing", "RIGHT", "LEFT", 1))
    r.call("HINCRBY", "runs", task, 1)
    tell.put(task)
    time.sleep(60)


def _run_rest(r, pop):
    while True:
        task = pop()
        if task is None:
            return
        task = int(task)
        r.call("HINCRBY", "runs", task, 1)
        r.call("HSET", "results", task, task * task)
        r.call("LREM", "processing", 1, task)


def at_most_once_and_at_least_once(port, password):
    section(5, "A worker killed holding a task: Redis, BRPOP then BLMOVE")
    r = Redis(port, password)
    for command in ("BRPOP", "BLMOVE"):
        r.call("DEL", "tasks", "processing", "runs", "results")
        for task in range(1, TASKS + 1):
            r.call("LPUSH", "tasks", task)
        tell = mp.Queue()
        worker = mp.Process(target=_redis_worker, args=(port, password, command, tell))
        worker.start()
        held = tell.get()
        worker.kill()
        worker.join()
        returned = 0
        if command == "BLMOVE":
            while r.call("LMOVE", "processing", "tasks", "RIGHT", "RIGHT") is not None:
                returned += 1
            _run_rest(r, lambda: r.call("LMOVE", "tasks", "processing", "RIGHT", "LEFT"))
        else:
            _run_rest(r, lambda: r.call("RPOP", "tasks"))
        results = r.call("HGETALL", "results")
        runs = r.call("HGETALL", "runs")
        runs = dict(zip(runs[::2], runs[1::2]))
        print(f"{command}: the killed worker held task {held}; put back: {returned};"
              f" results: {len(results) // 2} of {TASKS}; task {held} ran"
              f" {runs.get(str(held))} times")


def _lost(port, password):
    r = Redis(port, password)
    for _ in range(INCREMENTS):
        n = int(r.call("HGET", "counts", "n") or 0)
        r.call("HSET", "counts", "n", n + 1)


def _hincrby(port, password):
    r = Redis(port, password)
    for _ in range(INCREMENTS):
        r.call("HINCRBY", "counts", "n", 1)


def _watched(port, password):
    r = Redis(port, password)
    for _ in range(INCREMENTS):
        while True:
            r.call("WATCH", "counts")
            n = int(r.call("HGET", "counts", "n") or 0)
            r.call("MULTI")
            r.call("HSET", "counts", "n", n + 1)
            if r.call("EXEC") is not None:
                break


def the_lost_update_and_two_fixes(port, password):
    section(6, f"2 processes x {INCREMENTS} times n = n + 1 on a Redis hash; HINCRBY; WATCH")
    r = Redis(port, password)
    for name, target in (("HGET then HSET", _lost), ("HINCRBY", _hincrby),
                         ("WATCH/MULTI/EXEC", _watched)):
        r.call("DEL", "counts")
        procs = [mp.Process(target=target, args=(port, password)) for _ in range(2)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        print(f"{name}: n = {r.call('HGET', 'counts', 'n')}")


if __name__ == "__main__":
    print("Lesson 08 (Python twin): beyond one machine")
    a_manager_between_two_hosts()
    a_server_stops_answering()
    round_trips_dominate()
    a_killed_worker_and_the_managers_queue()
    started = start_redis()
    if started is None:
        print("Sections 5 and 6 need Redis: apt-get install redis-server")
    else:
        server, port, password = started
        try:
            at_most_once_and_at_least_once(port, password)
            the_lost_update_and_two_fixes(port, password)
        finally:
            server.kill()
            server.wait()
