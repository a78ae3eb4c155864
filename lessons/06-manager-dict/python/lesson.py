"""Lesson 06's Python twin: multiprocessing.Manager, with CPython.

Run it with `python3 lesson.py`, or side by side with the Rust lesson:
`cargo xtask compare 06`. Standard library only, Python 3.8 or later.
"""

import multiprocessing as mp
import os
import time
from multiprocessing.managers import BaseManager

d = None  # The tutorial's global, used by putb.


def section(number, what):
    print()
    print(f"## {number}. {what}", flush=True)


def puta(dd, k, v):
    dd[k] = v


def putb(q, k, v):  # The tutorial's quirk: q is unused, d is the global.
    d[k] = v


def increment_racy(dd):
    for _ in range(500):
        n = dd.get("k", 0)
        time.sleep(0.0002)
        dd["k"] = n + 1


def increment_locked(dd, lock):
    for _ in range(500):
        with lock:
            n = dd.get("k", 0)
            time.sleep(0.0002)
            dd["k"] = n + 1


class Counts:
    """A dict whose add runs in the server: one request, so no update is
    lost (the Rust lesson's DictProxy::add; a DictProxy has no such method)."""

    def __init__(self):
        self.values = {}

    def add(self, key, delta):
        self.values[key] = self.values.get(key, 0) + delta
        return self.values[key]

    def get(self, key):
        return self.values.get(key, 0)


class CountsManager(BaseManager):
    pass


CountsManager.register("Counts", Counts)


def increment_with_add(counts):
    for _ in range(500):
        counts.add("k", 1)


def race(dd, target, *args):
    dd["k"] = 0
    procs = [mp.Process(target=target, args=(dd,) + args) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    return dd["k"]


def main():
    global d
    mp.set_start_method("fork", force=True)  # Said outright: Python 3.14 defaults to forkserver.
    print("Lesson 06 (Python twin): Manager and its dict")
    print(f"This process: pid={os.getpid()}")
    with mp.Manager() as manager:
        section(1, "Two processes write into one manager dict")
        d = manager.dict()
        p0 = mp.Process(target=puta, args=(d, "aa", 12))
        p1 = mp.Process(target=putb, args=(d, "bb", 13))
        p0.start()
        p1.start()
        p0.join()
        p1.join()
        print(f"the parent sees: {sorted(d.items())}")

        section(2, "putb ignores its argument: with spawn, the global is not there")
        other = manager.dict()
        p = mp.get_context("spawn").Process(target=putb, args=(other, "spawned", 14))
        p.start()
        p.join()
        print(f"with spawn: exitcode {p.exitcode}; d = {sorted(d.items())}")

        section(3, "4 processes x 500 times d['k'] += 1")
        counts = manager.dict()
        start = time.perf_counter()
        racy = race(counts, increment_racy)
        print(f"get, then set: k = {racy} ({time.perf_counter() - start:.3f} s)")
        lock = manager.Lock()
        start = time.perf_counter()
        locked = race(counts, increment_locked, lock)
        print(f"with a manager lock: k = {locked} ({time.perf_counter() - start:.3f} s)")
        with CountsManager() as counting:
            counts_in_server = counting.Counts()
            start = time.perf_counter()
            procs = [mp.Process(target=increment_with_add, args=(counts_in_server,)) for _ in range(4)]
            for p in procs:
                p.start()
            for p in procs:
                p.join()
            added = counts_in_server.get("k")
            print(f"with add in the server (a registered method): k = {added} ({time.perf_counter() - start:.3f} s)")

        section(4, "A value you get is a copy")
        lists = manager.dict()
        lists["list"] = [1, 2, 3]
        lists["list"].append(4)
        print(f"after d['list'].append(4): {lists['list']}")
        local = lists["list"]
        local.append(4)
        lists["list"] = local
        print(f"after d['list'] = local: {lists['list']}")

        section(5, "What a manager access costs: 2000 sets and gets")
        timing = manager.dict()
        start = time.perf_counter()
        for i in range(2000):
            timing["k"] = i
            timing["k"]
        through_proxy = time.perf_counter() - start
        plain = {}
        start = time.perf_counter()
        for i in range(2000):
            plain["k"] = i
            plain["k"]
        in_process = time.perf_counter() - start
        print(f"through the proxy: {through_proxy:.3f} s ({4000 / through_proxy:.0f} operations/s)")
        print(f"plain dict:        {in_process:.6f} s ({4000 / in_process:.0f} operations/s)")

        section(6, "The server's life")
        print(f"address: {manager.address}")
    print("after the with block: the manager is shut down")


if __name__ == "__main__":
    main()
