"""Lesson 04's Python twin: multiprocessing.Queue, with CPython.

Run it with `python3 lesson.py`, or side by side with the Rust lesson:
`cargo xtask compare 04`. Standard library only, Python 3.8 or later.
"""

import multiprocessing as mp
import os
import queue as thread_queue
import time

COUNTER = 0


def section(number, what):
    print()
    print(f"## {number}. {what}", flush=True)


def bump():
    global COUNTER
    COUNTER += 1
    print(f"child: COUNTER = {COUNTER}", flush=True)


def send_on(q):
    q.put("hello from the child")
    print("child: put into a queue.Queue returned", flush=True)


def producer(q):
    q.put("a")
    print("producer put: a", flush=True)


def consumer(q):
    time.sleep(0.2)
    print("consumer get:", q.get(), flush=True)


def put_four(q):
    for item in range(1, 5):
        start = time.perf_counter()
        q.put(item)
        waited = time.perf_counter() - start
        print(f"producer: put {item} returned after {waited * 1e3:.1f} ms", flush=True)


def produce(q, p):
    for n in range(1000):
        q.put((p, n))


def consume(q, reports):
    got = []
    while True:
        item = q.get()
        if item is None:
            break
        got.append(item)
    reports.put(got)


def put_big(q, size):
    q.put(b"x" * size)


def put_square(q, x):
    q.put(x * x)


_inherited = None


def keep_queue(q):
    """A Pool initializer: each worker keeps the queue it inherited."""
    global _inherited
    _inherited = q


def put_square_inherited(x):
    _inherited.put(x * x)


def main():
    mp.set_start_method("fork", force=True)  # Said outright: Python 3.14 defaults to forkserver.
    print("Lesson 04 (Python twin): Queue")
    print(f"This process: pid={os.getpid()}")

    section(1, "A global variable does not carry data between processes")
    p = mp.Process(target=bump)
    p.start()
    p.join()
    print(f"parent: COUNTER = {COUNTER}")

    section(2, "A thread queue does not cross a fork")
    q = thread_queue.Queue()
    p = mp.Process(target=send_on, args=(q,))
    p.start()
    p.join()
    try:
        q.get(timeout=0.5)
    except thread_queue.Empty:
        print("parent: get(timeout=0.5) raised queue.Empty")

    section(3, "The tutorial's producer and consumer, on Queue(3)")
    q = mp.Queue(3)
    p0 = mp.Process(target=producer, args=(q,))
    p1 = mp.Process(target=consumer, args=(q,))
    p0.start()
    p1.start()
    p0.join()
    p1.join()

    section(4, "Queue(3) holds 3 items: the 4th put waits for a get")
    q = mp.Queue(3)
    p = mp.Process(target=put_four, args=(q,))
    p.start()
    time.sleep(0.5)
    print(f"parent: 500ms later the queue holds {q.qsize()} items; taking one", flush=True)
    print(f"parent: got {q.get()}", flush=True)
    p.join()
    print(f"parent: then got {[q.get() for _ in range(3)]}")
    for item in range(3):
        q.put(item)
    try:
        q.put_nowait(4)
    except thread_queue.Full:
        print("put_nowait on a full queue: queue.Full")
    for _ in range(3):
        q.get()
    start = time.perf_counter()
    try:
        q.get(timeout=0.3)
    except thread_queue.Empty:
        print(f"get(timeout=0.3) on an empty queue: queue.Empty after {(time.perf_counter() - start) * 1e3:.0f} ms")

    section(5, "4 producers x 1000 items, 2 consumers")
    q = mp.Queue(50)
    reports = mp.Queue()
    consumers = [mp.Process(target=consume, args=(q, reports)) for _ in range(2)]
    producers = [mp.Process(target=produce, args=(q, p)) for p in range(4)]
    for p in consumers + producers:
        p.start()
    for p in producers:
        p.join()
    for _ in consumers:
        q.put(None)
    got = [reports.get(timeout=20) for _ in consumers]
    for p in consumers:
        p.join()
    everything = [item for part in got for item in part]
    print(f"the consumers got {len(everything)} items ({' + '.join(str(len(g)) for g in got)})")
    print(f"both consumers took part: {str(all(got)).lower()}")
    print(f"distinct items: {len(set(everything))} of 4000")
    in_order = all(
        [n for q, n in part if q == p] == sorted(n for q, n in part if q == p)
        for part in got
        for p in range(4)
    )
    print(f"each producer's items in order at each consumer: {str(in_order).lower()}")

    section(6, "Joining a process before taking what it put")
    q = mp.Queue()
    p = mp.Process(target=put_big, args=(q, 2 << 20))
    p.start()
    p.join(timeout=0.5)
    print(f"join(timeout=0.5): the child is still alive: {p.is_alive()} (its feeder thread is blocked)")
    print(f"after get() took the item ({len(q.get()) // 1024} KiB):")
    p.join()
    print(f"join: exitcode {p.exitcode}")

    section(7, "A Queue cannot be a Pool task's argument")
    with mp.Pool(1) as pool:
        try:
            pool.apply_async(put_square, (mp.Queue(), 2)).get(timeout=5)
        except RuntimeError as e:
            print(f"RuntimeError: {e}")
    q = mp.Queue()
    with mp.Pool(2, initializer=keep_queue, initargs=(q,)) as pool:
        pool.map(put_square_inherited, range(4))
        # Leaving `with` terminates the workers, perhaps before their
        # queue's feeder threads have written what they put: end them
        # normally instead, which flushes it.
        pool.close()
        pool.join()
    squares = sorted(q.get(timeout=5) for _ in range(4))
    print(f"Inheritance works (initializer/initargs, even under spawn): {squares}")

    section(8, "A Manager().Queue can")
    with mp.Manager() as manager:
        q = manager.Queue(3)  # The tutorial's cell, as it was.
        p0 = mp.Process(target=producer, args=(q,))
        p1 = mp.Process(target=consumer, args=(q,))
        p0.start()
        p1.start()
        p0.join()
        p1.join()
        q = manager.Queue()
        with mp.Pool(2) as pool:
            for res in [pool.apply_async(put_square, (q, x)) for x in range(4)]:
                res.get()
        print("sorted:", sorted(q.get(timeout=5) for _ in range(4)))


if __name__ == "__main__":
    main()
