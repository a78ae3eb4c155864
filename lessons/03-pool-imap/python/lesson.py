"""Lesson 03's Python twin: multiprocessing.Pool, with CPython.

Run it with `python3 lesson.py`, or side by side with the Rust lesson:
`cargo xtask compare 03`. Standard library only, Python 3.8 or later.
"""

import multiprocessing as mp
import os
import signal
import sys
import time

# The trace writer the twins share (lessons/course/python).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "course", "python"))
import course_trace  # noqa: E402

WORKERS = 3


def section(number, what):
    print()
    print(f"## {number}. {what}", flush=True)


def fib(n):
    return 1 if n <= 2 else fib(n - 1) + fib(n - 2)


def print_fib(n):
    value = fib(n)
    print(f"worker pid={os.getpid()}, parent pid={os.getppid()}: run fib {n}: {value}", flush=True)
    return value


def nap(seconds):
    """The tutorial's `do`, with which worker ran it and when (for the
    schedule): (seconds, pid, start, end)."""
    start = time.monotonic()
    time.sleep(seconds)
    print(f"    {seconds} done!", flush=True)
    return seconds, os.getpid(), start, time.monotonic()


def traced(section_name, results):
    """Yields each nap's seconds, and traces them all at the end."""
    spans = []
    for seconds, pid, start, end in results:
        spans.append((f"pid={pid}", str(seconds), start, end))
        yield seconds
    course_trace.add(section_name, spans)


def square_and_pid(x):
    # 30 ms each, as in the Rust lesson: with chunksize 1 the workers take turns.
    time.sleep(0.03)
    return x * x, os.getpid()


def same_worker(items):
    return all(pid == items[0][1] for _, pid in items)


def identity(x):
    return x


def panics_on_three(x):
    if x == 3:
        raise ValueError("I do not like 3")
    return x * 10


def die_by_sigkill(_):
    os.kill(os.getpid(), signal.SIGKILL)


def main():
    mp.set_start_method("fork", force=True)  # Said outright: Python 3.14 defaults to forkserver.
    course_trace.start()
    print("Lesson 03 (Python twin): Pool, apply_async, imap")
    print(f"This process: pid={os.getpid()}")

    section(1, "apply_async: one task, its result later")
    pool = mp.Pool(WORKERS)
    res = pool.apply_async(print_fib, args=(10,))
    pool.close()
    pool.join()
    print(f"res.get() = {res.get()}")

    section(2, "imap: results in the order the tasks were given")
    with mp.Pool(WORKERS) as pool:
        for res in traced("imap on 3 workers", pool.imap(nap, (0.3, 0.5, 0.1))):
            print(f"imap -> {res}", flush=True)

    section(3, "The same imap on 2 workers")
    with mp.Pool(2) as pool:
        for res, _, _, _ in pool.imap(nap, (0.3, 0.5, 0.1)):
            print(f"imap -> {res}", flush=True)
        print("Given as (0.5, 0.3, 0.1), the 0.1 task goes to the first free worker:")
        start = time.perf_counter()
        order = []
        for res in traced("the first free worker", pool.imap_unordered(nap, (0.5, 0.3, 0.1))):
            print(f"imap_unordered -> {res} at {time.perf_counter() - start:.1f} s", flush=True)
            order.append(res)
        print(f"0.1 was done before 0.5 (at 0.4 s, not 0.6 s): {str(order == [0.3, 0.1, 0.5]).lower()}")

    section(4, "imap_unordered: results as they are done")
    with mp.Pool(WORKERS) as pool:
        for res in traced("imap_unordered on 3 workers", pool.imap_unordered(nap, (0.3, 0.5, 0.1))):
            print(f"imap_unordered -> {res}", flush=True)

    section(5, "map and chunksize")
    with mp.Pool(2) as pool:
        one_by_one = pool.map(square_and_pid, range(10), 1)
        in_fours = pool.map(square_and_pid, range(10), 4)
        print("chunksize 1:", [s for s, _ in one_by_one])
        print("chunksize 4:", [s for s, _ in in_fours])
        fours = lambda items: [items[i : i + 4] for i in range(0, len(items), 4)]
        together = all(same_worker(c) for c in fours(in_fours))
        print(f"with chunksize 4, each chunk of 4 items ran in one worker: {str(together).lower()}")
        together = all(same_worker(c) for c in fours(one_by_one))
        print(f"with chunksize 1, each run of 4 items ran in one worker: {str(together).lower()}")
        took = []
        for chunksize in (1, 1000):
            start = time.perf_counter()
            sum(pool.imap(identity, range(20000), chunksize))
            took.append(time.perf_counter() - start)
            print(f"20000 tiny tasks through imap, chunksize {chunksize}: {took[-1]:.3f} s")
        speedup = took[0] / took[1]
        print(f"chunksize 1000 was {speedup:.1f}x faster here; over 3x: {str(speedup > 3).lower()}")

    section(6, "When a task raises, and when a worker dies")
    with mp.Pool(2) as pool:
        for x, res in [(x, pool.apply_async(panics_on_three, (x,))) for x in range(1, 5)]:
            try:
                print(f"task {x}: {res.get()}")
            except ValueError as e:
                print(f"task {x}: raised ValueError({e})")
        before = sorted(w.pid for w in pool._pool)
        doomed = pool.apply_async(die_by_sigkill, (None,))
        try:
            doomed.get(timeout=3)
        except mp.TimeoutError:
            print("the killed worker's task: still waiting after 3 s (Pool never finds out)")
        after = sorted(w.pid for w in pool._pool)
        replaced = len(after) == len(before) and len(set(before) - set(after)) == 1
        # pool._pool is CPython's private list of workers: looked at, not changed.
        print(f"the pool still has {len(after)} workers, one of them new: {str(replaced).lower()}")

    section(7, "join before close")
    pool = mp.Pool(1)
    try:
        pool.join()
    except ValueError as e:
        print(f"join: ValueError({e})")
    pool.close()
    pool.join()
    print("after close, join: ok")

    section(8, "CPU work in one process: threads do not help in CPython")
    from concurrent.futures import ThreadPoolExecutor

    with mp.Pool(2) as pool:
        start = time.perf_counter()
        results = pool.map(fib, range(30, 35), 1)
        processes = time.perf_counter() - start
    with ThreadPoolExecutor(2) as threads:
        start = time.perf_counter()
        list(threads.map(fib, range(30, 35)))
        in_threads = time.perf_counter() - start
    print(f"Pool(2).map(fib, range(30, 35)): {results}")
    print(f"time with 2 processes: {processes:.3f} s; with 2 threads: {in_threads:.3f} s")


if __name__ == "__main__":
    main()
