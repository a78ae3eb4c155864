"""Lesson 01's Python twin: the same experiments with CPython.

Run it with `python3 lesson.py`, or side by side with the Rust lesson:
`cargo xtask compare 01`. Standard library only, Python 3.8 or later.
"""

import os
import sys
import threading
import time

# The trace writer the twins share (lessons/course/python).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "course", "python"))
import course_trace  # noqa: E402
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed

TASKS = range(30, 35)
WORKERS = 2


def fib(n):
    return 1 if n <= 2 else fib(n - 1) + fib(n - 2)


def fib_task(n):
    """A fib task, or (n is None) the 300 ms wait that sections 2 and 3
    submit first."""
    start = time.perf_counter()
    if n is None:
        time.sleep(FIRST_AND_LONG)
        value = None
    else:
        value = fib(n)
    # time.monotonic() is CLOCK_MONOTONIC on Linux: the same in every process.
    return (
        n,
        value,
        os.getpid(),
        time.perf_counter() - start,
        time.monotonic(),
        threading.get_ident(),
    )


def section(number, what):
    print()
    print(f"## {number}. {what}")


# A wait submitted first and a short fib submitted last: one worker takes
# the wait while the other runs every fib, so the completion order differs
# from the submission order by far more than any machine's noise.
FIRST_AND_LONG = 0.3
LAST_AND_SHORT = 20
ORDER_SLACK = 0.1


def on_pool(executor_class, label):
    with executor_class(WORKERS) as pool:
        start = time.perf_counter()
        futures = [pool.submit(fib_task, n) for n in [None, *TASKS, LAST_AND_SHORT]]
        pids, threads, order, spans, thread_rows = set(), set(), [], [], {}
        for future in as_completed(futures):
            n, value, pid, took, finished_at, thread = future.result()
            pids.add(pid)
            threads.add(thread)
            order.append(finished_at)
            if executor_class is ProcessPoolExecutor:
                row = f"pid={pid}"
            else:
                row = f"thread {thread_rows.setdefault(thread, len(thread_rows))}"
            name = "wait 300ms" if n is None else f"fib({n})"
            spans.append((row, name, finished_at - took, finished_at))
            what = "wait 300ms" if n is None else f"fib({n}) = {value}"
            print(f"{what}  pid={pid}")
        took = time.perf_counter() - start
        workers = {p.pid for p in getattr(pool, "_processes", {}).values()}
    course_trace.add(f"a {executor_class.__name__}(2)", spans)
    in_order = all(b + ORDER_SLACK >= a for a, b in zip(order, order[1:]))
    print(f"results in the order the tasks finished: {str(in_order).lower()}")
    if executor_class is ThreadPoolExecutor:
        print(f"both threads took tasks: {str(len(threads) == WORKERS).lower()}")
        print(f"Every task ran in this process (pid={os.getpid()}): {str(pids == {os.getpid()}).lower()}")
    else:
        print(f"Distinct pids that ran tasks: {len(pids)}")
        print(f"All of them pool workers: {str(pids <= workers).lower()}")
        print(f"One of them this process (pid={os.getpid()}): {str(os.getpid() in pids).lower()}")
    print(f"{label}: {took:.3f} s (the 300 ms wait included)")
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
    course_trace.start()
    print("Lesson 01 (Python twin): threads vs processes")
    print(f"This process: pid={os.getpid()}")

    section(1, "The baseline: fib(30..34) one after another")
    start = time.perf_counter()
    serial = [fib_task(n) for n in TASKS]
    serial_took = time.perf_counter() - start
    for n, value, _, took, _, _ in serial:
        print(f"fib({n}) = {value}  took {took:.3f} s")
    print(f"serial: {serial_took:.3f} s")

    section(2, "A 300 ms wait, fib(30..34) and a short fib(20) on a ThreadPoolExecutor(2)")
    on_pool(ThreadPoolExecutor, "thread pool")

    section(3, "The same tasks on a ProcessPoolExecutor(2)")
    on_pool(ProcessPoolExecutor, "process pool")

    section(4, "Speedups, and the best 2 workers can do here")
    # The fastest of 3 runs of each, taking turns, as the Rust lesson does.
    fastest = [float("inf")] * 3
    for _ in range(3):
        start = time.perf_counter()
        for n in TASKS:
            fib(n)
        runs = [time.perf_counter() - start]
        for executor_class in (ThreadPoolExecutor, ProcessPoolExecutor):
            start = time.perf_counter()
            with executor_class(WORKERS) as pool:
                for future in as_completed([pool.submit(fib, n) for n in TASKS]):
                    future.result()
            runs.append(time.perf_counter() - start)
        fastest = [min(a, b) for a, b in zip(fastest, runs)]
    serial_best, threads_took, processes_took = fastest
    print("Fastest of 3 runs each, taking turns:")
    print(f"  serial {serial_best:.3f} s, thread pool {threads_took:.3f} s, process pool {processes_took:.3f} s")
    times = [t for *_, t, _, _ in serial]
    total = sum(times)
    print(f"fib(34) alone is {100 * times[-1] / total:.0f}% of the serial work (section 1).")
    print(f"Best speedup for these tasks taken in order by 2 workers: {total / in_order_makespan(times, 2):.2f}x")
    print(f"Thread pool speedup over serial:  {serial_best / threads_took:.2f}x")
    print(f"Process pool speedup over serial: {serial_best / processes_took:.2f}x")

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
