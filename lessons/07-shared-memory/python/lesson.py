"""Lesson 07's Python twin: Value, Array, Lock, Semaphore, Barrier and
shared_memory, with CPython.

Run it with `python3 lesson.py`, or side by side with the Rust lesson:
`cargo xtask compare 07`. Standard library only, Python 3.8 or later.
"""

import multiprocessing as mp
import os
import time
from multiprocessing import shared_memory
from multiprocessing.managers import BaseManager

PROCESSES = 4
RACY = 500
INCREMENTS = 2500

counter = 0  # A global: this process's own memory.


def section(number, what):
    print()
    print(f"## {number}. {what}", flush=True)


def add_to_both(v):
    global counter
    counter += 1
    with v.get_lock():
        v.value += 1
    print(f"child pid={os.getpid()}: global = {counter}, Value = {v.value}", flush=True)


def in_processes(target, *args):
    procs = [mp.Process(target=target, args=args + (i,)) for i in range(PROCESSES)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        assert p.exitcode == 0, p.exitcode


def racy(v, _i):
    for _ in range(RACY):
        n = v.value
        time.sleep(0.00005)  # As the Rust lesson: another process may run here.
        v.value = n + 1


def locked(v, _i):
    for _ in range(INCREMENTS):
        with v.get_lock():
            v.value += 1


class Counts:
    """A counter whose add runs in the manager's server (lesson 06)."""

    def __init__(self):
        self.n = 0

    def add(self, delta):
        self.n += delta

    def get(self):
        return self.n


class CountsManager(BaseManager):
    pass


CountsManager.register("Counts", Counts)


def through_manager(counts, _i):
    for _ in range(INCREMENTS):
        counts.add(1)


def fill_slots(a, worker):
    for i in range(4 * worker, 4 * worker + 4):
        a[i] = i * i


def hold_and_wait(lock, taken):
    lock.acquire()
    taken.set()
    time.sleep(30)  # Killed here, holding the lock.


def seat_worker(seats, inside, most, start):
    start.wait(30)
    with seats:
        with inside.get_lock():
            inside.value += 1
            with most.get_lock():
                most.value = max(most.value, inside.value)
        time.sleep(0.1)
        with inside.get_lock():
            inside.value -= 1


def arrive(barrier, times, k):
    time.sleep(0.1 * k)
    times[2 * k] = time.monotonic()
    barrier.wait(30)
    times[2 * k + 1] = time.monotonic()


def attach_and_answer(name):
    memory = shared_memory.SharedMemory(name=name)
    text = bytes(memory.buf[:21]).decode()
    print(f"spawned child pid={os.getpid()}: attached by name, read {text!r}", flush=True)
    memory.buf[32:53] = b"answered by the child"
    memory.close()


def started_together(target, start, times, *args):
    """Runs target(*args) after the barrier, noting when it began and ended."""
    i = args[-1]
    start.wait(30)
    times[2 * i] = time.monotonic()
    target(*args)
    times[2 * i + 1] = time.monotonic()


def timed(target, *args):
    """As the Rust lesson's race(): from the first start to the last end,
    the processes' own start and exit not counted."""
    start = mp.Barrier(PROCESSES)
    times = mp.Array("d", 2 * PROCESSES, lock=False)
    procs = [mp.Process(target=started_together, args=(target, start, times) + args + (i,))
             for i in range(PROCESSES)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        assert p.exitcode == 0, p.exitcode
    return max(times[1::2]) - min(times[0::2])


def main():
    # Said outright: Python 3.14 defaults to forkserver.
    mp.set_start_method("fork", force=True)
    print("Lesson 07 (Python twin): locks, events and shared memory")
    print(f"This process: pid={os.getpid()}")

    section(1, "A global does not cross a fork; a Value does")
    v = mp.Value("q", 0)
    p = mp.Process(target=add_to_both, args=(v,))
    p.start()
    p.join()
    print(f"parent:          global = {counter}, Value = {v.value}")
    print(f"the child's add reached the parent: through the global {counter == 1}, "
          f"through the Value {v.value == 1}")

    section(2, f"{PROCESSES} processes x {RACY} times v.value = v.value + 1")
    count = mp.Value("q", 0)
    in_processes(racy, count)
    racy_total = PROCESSES * RACY
    print(f"count = {count.value}")
    print(f"fewer than {racy_total}: updates were lost: {count.value < racy_total}")

    section(3, "Two exact fixes (Python has no atomics), and what one increment costs")
    total = PROCESSES * INCREMENTS
    under_lock = mp.Value("q", 0)
    took_lock = timed(locked, under_lock)
    with CountsManager() as manager:
        counts = manager.Counts()
        took_manager = timed(through_manager, counts)
        in_server = counts.get()
    for how, n, took in [("the Value's lock held across both", under_lock.value, took_lock),
                         ("the manager's add, in its server", in_server, took_manager)]:
        print(f"{how}: count = {n}, exactly {total}: {n == total}")
        print(f"  {total} increments in {took:.3f} s: {took * 1e9 / total:.0f} ns each")
    print(f"one through the manager cost {took_manager / took_lock:.0f}x one under the lock; "
          f"over 5x: {took_manager / took_lock > 5}")
    print("(the Rust lesson's ratio is over 20x: there the lock costs tens of ns, here µs,")
    print("since each `with` and `+= 1` runs in the interpreter; the round trip costs alike)")

    section(4, "Workers fill their own slots of one array, with no lock")
    squares = mp.Array("q", 16, lock=False)
    in_processes(fill_slots, squares)
    print(f"after join: {list(squares)}")
    print(f"every slot holds its square: {all(s == i * i for i, s in enumerate(squares))}")

    section(5, "A process dies holding the lock: every later acquire fails")
    lock = mp.Lock()
    taken = mp.Event()
    holder = mp.Process(target=hold_and_wait, args=(lock, taken))
    holder.start()
    taken.wait(10)
    holder.kill()
    holder.join()
    print(f"killed the holder: exitcode {holder.exitcode}")
    for attempt in (1, 2):
        print(f"acquire(timeout=1), try {attempt}: {lock.acquire(timeout=1)}")
    print("CPython's Lock is a semaphore that no one releases once its holder is gone:")
    print("it stays taken for good.")

    section(6, "A Semaphore(2) over 5 workers, then a Barrier that lets 4 go together")
    seats = mp.Semaphore(2)
    inside, most = mp.Value("i", 0), mp.Value("i", 0)
    start = mp.Barrier(5)
    workers = [mp.Process(target=seat_worker, args=(seats, inside, most, start)) for _ in range(5)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    print(f"5 workers, 2 seats, 100 ms each: the most inside at once was {most.value}")
    print(f"never more than the seats, and the seats were all used: {most.value == 2}")
    barrier = mp.Barrier(4)
    times = mp.Array("d", 8, lock=False)
    arriving = [mp.Process(target=arrive, args=(barrier, times, k)) for k in range(4)]
    for a in arriving:
        a.start()
    for a in arriving:
        a.join()
    came = max(times[0::2]) - min(times[0::2])
    left = max(times[1::2]) - min(times[1::2])
    print(f"arrivals spread over {came * 1000:.0f} ms; 200 ms or more: {came >= 0.2}")
    print(f"departures within {left * 1000:.1f} ms; within 100 ms: {left < 0.1}")

    section(7, "SharedMemory: a program started afresh finds it by its name")
    memory = shared_memory.SharedMemory(create=True, size=64)
    memory.buf[:21] = b"written by the parent"
    print(f"name: {memory.name}")
    child = mp.get_context("spawn").Process(target=attach_and_answer, args=(memory.name,))
    child.start()
    child.join()
    print(f"spawned child's exitcode: {child.exitcode}")
    print(f"the parent reads: {bytes(memory.buf[32:53]).decode()!r}")
    path = f"/dev/shm/{memory.name}"
    print(f"{path} exists while it lives: {os.path.exists(path)}")
    memory.close()
    memory.unlink()
    print(f"after unlink(): {os.path.exists(path)}")
    print("Without unlink(), the resource tracker (another process) removes it when this")
    print("process ends, with a warning; if the tracker is killed too, it stays until reboot.")

    section(8, "What cannot go into shared memory, and why")
    print("Value(ctypes.c_char_p, b'...') stores a pointer into one process's heap:")
    print("another process that reads it reads its own memory at that address.")


if __name__ == "__main__":
    main()
