"""Lesson 01's Python twin: the same experiments with CPython.

Run it with `python3 lesson.py`, or side by side with the Rust lesson:
`cargo xtask compare 01`. Standard library only, Python 3.8 or later.
"""

import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed

TASKS = range(30, 35)
WORKERS = 2


def fib(n):
    return 1 if n <= 2 else fib(n - 1) + fib(n - 2)


def fib_task(n):
    start = time.perf_counter()
    value = fib(n)
    # time.monotonic() is CLOCK_MONOTONIC on Linux: the same in every process.
    return n, value, os.getpid(), time.perf_counter() - start, time.monotonic()


def section(number, what):
    print()
    print(f"## {number}. {what}")


# Submitted after the others and short: it finishes before fib(34), so the
# completion order differs from the submission order.
LAST_AND_SHORT = 20


def on_pool(executor_class, label):
    with executor_class(WORKERS) as pool:
        start = time.perf_counter()
        futures = [pool.submit(fib_task, n) for n in [*TASKS, LAST_AND_SHORT]]
        pids, order = set(), []
        for future in as_completed(futures):
            n, value, pid, _, finished_at = future.result()
            pids.add(pid)
            order.append(finished_at)
            print(f"fib({n}) = {value}  pid={pid}")
        took = time.perf_counter() - start
    in_order = all(b + 0.010 >= a for a, b in zip(order, order[1:]))
    print(f"results in the order the tasks finished: {str(in_order).lower()}")
    print(f"{label}: {took:.3f} s, in {len(pids)} distinct pid(s)")
    return took


def in_order_makespan(times, workers):
    free_at = [0.0] * workers
    for t in times:
        i = free_at.index(min(free_at))
        free_at[i] += t
    return max(free_at)


def ping_pong(start_peer, trips):
    """Round trips over two pipes; start_peer runs echo(read_fd, write_fd)."""
    a_read, b_write = os.pipe()
    b_read, a_write = os.pipe()
    peer = start_peer(b_read, b_write, trips)
    start = time.perf_counter()
    for _ in range(trips):
        os.write(a_write, b"x")
        os.read(a_read, 1)
    took = time.perf_counter() - start
    peer.join()
    for fd in (a_read, b_write, b_read, a_write):
        os.close(fd)
    return took / trips


def echo(read_fd, write_fd, trips):
    for _ in range(trips):
        os.write(write_fd, os.read(read_fd, 1))


def main():
    import multiprocessing as mp

    mp.set_start_method("fork", force=True)  # Said outright: Python 3.14 defaults to forkserver.
    print("Lesson 01 (Python twin): threads vs processes")
    print(f"This process: pid={os.getpid()}")

    section(1, "The baseline: fib(30..34) one after another")
    start = time.perf_counter()
    serial = [fib_task(n) for n in TASKS]
    serial_took = time.perf_counter() - start
    for n, value, _, took, _ in serial:
        print(f"fib({n}) = {value}  took {took:.3f} s")
    print(f"serial: {serial_took:.3f} s")

    section(2, "fib(30..34) and a short fib(20) on a ThreadPoolExecutor(2)")
    threads_took = on_pool(ThreadPoolExecutor, "thread pool")

    section(3, "fib(30..34) and a short fib(20) on a ProcessPoolExecutor(2)")
    processes_took = on_pool(ProcessPoolExecutor, "process pool")

    section(4, "Speedups, and the best 2 workers can do here")
    times = [t for *_, t, _ in serial]
    total = sum(times)
    print(f"fib(34) alone is {100 * times[-1] / total:.0f}% of the serial work.")
    print(f"Best speedup for these tasks taken in order by 2 workers: {total / in_order_makespan(times, 2):.2f}x")
    print(f"Thread pool speedup over serial:  {total / threads_took:.2f}x")
    print(f"Process pool speedup over serial: {total / processes_took:.2f}x")

    section(5, "Start and join 50 threads, then 50 processes")
    start = time.perf_counter()
    threads = [threading.Thread(target=lambda: None) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    thread_took = time.perf_counter() - start
    start = time.perf_counter()
    procs = [mp.Process(target=lambda: None) for _ in range(50)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    process_took = time.perf_counter() - start
    print(f"50 threads:   {thread_took * 1e3:.1f} ms in all, {thread_took / 50 * 1e6:.0f} µs each")
    print(f"50 processes: {process_took * 1e3:.1f} ms in all, {process_took / 50 * 1e6:.0f} µs each")
    print(f"A process cost {process_took / thread_took:.1f}x a thread here.")

    section(6, "Ping-pong: 2 threads vs 2 processes, 2000 round trips (pinned to one CPU)")
    cpu = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cpu)})

    def start_thread(r, w, n):
        t = threading.Thread(target=echo, args=(r, w, n))
        t.start()
        return t

    def start_process(r, w, n):
        p = mp.Process(target=echo, args=(r, w, n))
        p.start()
        return p

    per_thread = ping_pong(start_thread, 2000)
    per_process = ping_pong(start_process, 2000)
    os.sched_setaffinity(0, cpu)
    print(f"threads:   {per_thread * 1e6:.1f} µs per round trip")
    print(f"processes: {per_process * 1e6:.1f} µs per round trip")

    section(7, "IO-bound work: 10 threads each wait 100 ms")
    with ThreadPoolExecutor(10) as pool:
        start = time.perf_counter()
        list(pool.map(time.sleep, [0.1] * 10))
        took = time.perf_counter() - start
    print(f"10 threads x 100 ms of waiting: {took * 1e3:.1f} ms in all (time.sleep releases the GIL)")
    print(f"overlapped (under 500ms): {str(took < 0.5).lower()}")


if __name__ == "__main__":
    main()
