"""The Python column of `cargo xtask bench`: CPython's multiprocessing on the
same figures as bench/src/main.rs, with the same arguments.

    python3 bench.py FIGURE COUNT

prints the seconds one operation took (for fib-threads and fib-procs: the
speedup over running the tasks one after another). Standard library only.
"""

import multiprocessing as mp
import os
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing.managers import BaseManager


def nothing(*_):
    pass


def identity(x):
    return x


def fib(n):
    return 1 if n <= 2 else fib(n - 1) + fib(n - 2)


def per(start, count):
    return (time.perf_counter() - start) / max(count, 1)


def fork_or_spawn(method, count):
    ctx = mp.get_context(method)
    start = time.perf_counter()
    for _ in range(count):
        p = ctx.Process(target=nothing)
        p.start()
        p.join()
    return per(start, count)


def thread(count):
    start = time.perf_counter()
    for _ in range(count):
        t = threading.Thread(target=nothing)
        t.start()
        t.join()
    return per(start, count)


def echo(conn, other):
    other.close()  # Else this process's copy keeps end of stream away.
    try:
        while True:
            conn.send(conn.recv())
    except EOFError:
        pass


def pipe_rtt(count):
    here, there = mp.Pipe()
    child = mp.Process(target=echo, args=(there, here))
    child.start()
    there.close()
    start = time.perf_counter()
    for n in range(count):
        here.send(n)
        here.recv()
    result = per(start, count)
    here.close()
    child.join()
    return result


def send_many(conn, count, size):
    payload = bytes(size)
    for _ in range(count):
        if size <= 4:
            conn.send(size)
        else:
            conn.send_bytes(payload)
    conn.close()


def pipe_one_way(count, size):
    reader, writer = mp.Pipe(duplex=False)
    child = mp.Process(target=send_many, args=(writer, count, size))
    child.start()
    writer.close()
    start = time.perf_counter()
    for _ in range(count):
        if size <= 4:
            reader.recv()
        else:
            reader.recv_bytes()
    result = per(start, count)
    child.join()
    return result


def put_many(q, count):
    for n in range(count):
        q.put(n)


def queue(count, maxsize, manager=False):
    if manager:
        m = mp.Manager()
        q = m.Queue(maxsize)
    else:
        m = None
        q = mp.Queue(maxsize)
    child = mp.Process(target=put_many, args=(q, count))
    child.start()
    start = time.perf_counter()
    for _ in range(count):
        q.get()
    result = per(start, count)
    child.join()
    if m is not None:
        m.shutdown()
    return result


def manager_dict(count):
    with mp.Manager() as m:
        d = m.dict()
        start = time.perf_counter()
        for n in range(count // 2):
            d["k"] = n
            d["k"]
        return per(start, count)


class _TcpManager(BaseManager):
    pass


_tcp_dict = {}


def _the_dict():
    return _tcp_dict


_TcpManager.register("the_dict", callable=_the_dict)


def manager_dict_tcp(count):
    """The same set/get through a BaseManager served on loopback TCP and
    reached with connect(), as from another host."""
    server = _TcpManager(address=("127.0.0.1", 0), authkey=b"bench")
    server.start()
    try:
        client = _TcpManager(address=server.address, authkey=b"bench")
        client.connect()
        d = client.the_dict()
        start = time.perf_counter()
        for n in range(count // 2):
            d.update(k=n)
            d.get("k")
        return per(start, count)
    finally:
        server.shutdown()


def imap(count, chunksize, unordered):
    with mp.Pool(2) as pool:
        start = time.perf_counter()
        run = pool.imap_unordered if unordered else pool.imap
        total = sum(run(identity, range(count), chunksize))
        result = per(start, count)
    assert total == count * (count - 1) // 2
    return result


def fib_speedup(executor, count):
    """fib(30..=34) `count` times, serially then on 2 workers. A count of 1
    (`--quick`) runs fib(26..=30) once: the same shape, a tenth of the time
    (CPython needs seconds for fib(34))."""
    rounds, tasks = (count, range(30, 35)) if count > 1 else (1, range(26, 31))
    start = time.perf_counter()
    for _ in range(rounds):
        for n in tasks:
            fib(n)
    serial = time.perf_counter() - start
    with executor(2) as pool:
        start = time.perf_counter()
        for _ in range(rounds):
            list(pool.map(fib, tasks))
        return serial / (time.perf_counter() - start)


def capacity(_count):
    """Two busy loops on two processes against one alone: what the machine
    gives (2.0: two whole CPUs). Each loop is fib(26), about 50 ms, so the
    two forks (a millisecond or two each) weigh little."""
    start = time.perf_counter()
    fib(26)
    alone = time.perf_counter() - start
    start = time.perf_counter()
    workers = [mp.Process(target=fib, args=(26,)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    both = time.perf_counter() - start
    return 2 * alone / both


def put_bytes(q, count, size):
    item = b"\x07" * size
    for _ in range(count):
        q.put(item)


def queue_bytes(count, size):
    q = mp.Queue()
    child = mp.Process(target=put_bytes, args=(q, count, size))
    child.start()
    start = time.perf_counter()
    for _ in range(count):
        assert len(q.get()) == size
    result = per(start, count)
    child.join()
    return result


def spin(micros):
    until = time.perf_counter() + micros / 1e6
    while time.perf_counter() < until:
        pass
    return micros


def pool_sweep(count, parameter):
    workers, micros, chunksize = (int(x) for x in parameter.split(","))
    with mp.Pool(workers) as pool:
        start = time.perf_counter()
        done = sum(1 for _ in pool.imap(spin, [micros] * count, chunksize))
        result = per(start, count)
    assert done == count
    return result


def start_with_memory(method, count, mib):
    """Start and join a child while this process has `mib` MiB written to."""
    ballast = bytearray(mib << 20)
    ballast[::4096] = b"\x01" * len(range(0, len(ballast), 4096))
    result = fork_or_spawn(method, count)
    del ballast
    return result


# One point of a sweep: bench.py SWEEP COUNT PARAMETER.
SWEEPS = {
    "size-pipe": lambda n, p: pipe_one_way(n, max(int(p), 5)),
    "size-queue": lambda n, p: queue_bytes(n, int(p)),
    "pool": pool_sweep,
    "start-fork": lambda n, p: start_with_memory("fork", n, int(p)),
    "start-spawn": lambda n, p: start_with_memory("spawn", n, int(p)),
}


def lock(count):
    """Uncontended acquire and release of a multiprocessing.Lock."""
    lk = mp.Lock()
    start = time.perf_counter()
    for _ in range(count):
        lk.acquire()
        lk.release()
    return per(start, count)


def add_under_lock(value, count):
    for _ in range(count):
        with value.get_lock():
            value.value += 1


def increments(count):
    """Two processes add 1 to one Value under its lock, count // 2 each."""
    value = mp.Value("q", 0)
    start = time.perf_counter()
    procs = [mp.Process(target=add_under_lock, args=(value, count // 2)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    took = per(start, count)
    assert value.value == count // 2 * 2
    return took


FIGURES = {
    "fork": lambda n: fork_or_spawn("fork", n),
    "spawn": lambda n: fork_or_spawn("spawn", n),
    "thread": thread,
    "pipe-rtt": pipe_rtt,
    "pipe-msgs": lambda n: pipe_one_way(n, 4),
    "pipe-mib": lambda n: pipe_one_way(n, 1 << 20),
    "queue": lambda n: queue(n, 0),
    "queue3": lambda n: queue(n, 3),
    "mqueue": lambda n: queue(n, 0, manager=True),
    "mdict": manager_dict,
    "mdict-tcp": manager_dict_tcp,
    "lock": lock,
    "incr2": increments,
    "imap1": lambda n: imap(n, 1, False),
    "imap100": lambda n: imap(n, 100, False),
    "imapu1": lambda n: imap(n, 1, True),
    "imapu100": lambda n: imap(n, 100, True),
    "capacity": capacity,
    "fib-threads": lambda n: fib_speedup(ThreadPoolExecutor, n),
    "fib-procs": lambda n: fib_speedup(ProcessPoolExecutor, n),
}


def main():
    if sys.argv[1:] == ["--list"]:
        print("\n".join(FIGURES))
        return
    if len(sys.argv) == 4 and sys.argv[1] in SWEEPS:
        mp.set_start_method("fork")
        print(repr(SWEEPS[sys.argv[1]](int(sys.argv[2]), sys.argv[3])))
        return
    if len(sys.argv) != 3 or sys.argv[1] not in FIGURES:
        print("usage: bench.py FIGURE COUNT (FIGURE: " + ", ".join(FIGURES) + ")", file=sys.stderr)
        sys.exit(2)
    mp.set_start_method("fork")
    print(repr(FIGURES[sys.argv[1]](int(sys.argv[2]))))


if __name__ == "__main__":
    main()
