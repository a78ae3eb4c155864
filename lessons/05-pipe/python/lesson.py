"""Lesson 05's Python twin: multiprocessing.Pipe, with CPython.

Run it with `python3 lesson.py`, or side by side with the Rust lesson:
`cargo xtask compare 05`. Standard library only, Python 3.8 or later.
"""

import multiprocessing as mp
import os
import time


def section(number, what):
    print()
    print(f"## {number}. {what}", flush=True)


def producer(conn, other):
    other.close()
    time.sleep(0.5)
    conn.send("a")
    print("producer send: a", flush=True)


def consumer(conn, other):
    other.close()
    start = time.perf_counter()
    got = conn.recv()
    waited = time.perf_counter() - start
    print(f"consumer get: {got} (recv waited {waited * 1e3:.1f} ms)", flush=True)
    print(f"consumer: recv waited at least 400ms: {str(waited >= 0.4).lower()}", flush=True)


def add_one(conn):
    for _ in range(3):
        conn.send(conn.recv() + 1)


def send_two(writer, reader):
    reader.close()
    writer.send("one")
    writer.send("two")


def echo_bytes(conn, other):
    other.close()  # Else this process's copy of the other end keeps EOF away.
    try:
        while True:
            conn.send_bytes(conn.recv_bytes())
    except EOFError:
        pass


def send_big(writer, byte):
    writer.send_bytes(byte * 1_000_000)


def send_many(writer, count):
    for n in range(count):
        writer.send(n)


def put_many(q, count):
    for n in range(count):
        q.put(n)


def main():
    mp.set_start_method("fork", force=True)  # Said outright: Python 3.14 defaults to forkserver.
    print("Lesson 05 (Python twin): Pipe")
    print(f"This process: pid={os.getpid()}")

    section(1, "The tutorial's demo: recv waits until something is sent")
    recv_end, send_end = mp.Pipe(duplex=False)
    p0 = mp.Process(target=producer, args=(send_end, recv_end))
    p1 = mp.Process(target=consumer, args=(recv_end, send_end))
    p0.start()
    p1.start()
    recv_end.close()
    send_end.close()
    p0.join()
    p1.join()

    section(2, "A duplex pipe carries both ways; a one-way pipe has a read-only end")
    here, there = mp.Pipe()
    p = mp.Process(target=add_one, args=(there,))
    p.start()
    n = 0
    for _ in range(3):
        here.send(n)
        back = here.recv()
        print(f"parent sent {n}, child sent back {back}")
        n = back + 1
    p.join()
    r, w = mp.Pipe(duplex=False)
    try:
        r.send(1)
    except OSError as e:
        print(f"sending on the read end: OSError({e})")

    section(3, "End of stream")
    for parent_closes in (True, False):
        reader, writer = mp.Pipe(duplex=False)
        p = mp.Process(target=send_two, args=(writer, reader))
        p.start()
        if parent_closes:
            writer.close()
        p.join()
        print(f"parent closed its write end: {parent_closes}: {reader.recv()!r}, {reader.recv()!r}")
        if reader.poll(0.5):
            try:
                reader.recv()
            except EOFError:
                print("  then: EOFError")
        else:
            print("  then: poll(0.5) -> False: no message, no EOF (a write end is open here)")
            writer.close()

    section(4, "Writing when nobody can read")
    reader, writer = mp.Pipe(duplex=False)
    reader.close()
    try:
        writer.send("anyone there?")
    except BrokenPipeError as e:
        print(f"send -> BrokenPipeError({e}); still alive: pid={os.getpid()}")

    section(5, "Messages keep their boundaries")
    here, there = mp.Pipe()
    p = mp.Process(target=echo_bytes, args=(there, here))
    p.start()
    there.close()
    here.send_bytes(b"")
    print(f"an empty message comes back as {here.recv_bytes()!r}")
    for part in (b"a", b"b", b"c"):
        here.send_bytes(part)
    print(f"three sends come back as {[here.recv_bytes() for _ in range(3)]}")
    big = bytes(range(251)) * ((16 << 20) // 251)
    here.send_bytes(big)
    print(f"a 16 MiB message came back intact: {here.recv_bytes() == big}")
    here.close()
    p.join()

    section(6, "Two writers on one end (not forced: the scheduler decides)")
    reader, writer = mp.Pipe(duplex=False)
    writers = [mp.Process(target=send_big, args=(writer, b)) for b in (b"A", b"B")]
    for p in writers:
        p.start()
    writer.close()
    for _ in range(2):
        try:
            message = reader.recv_bytes()
            print(f"a message of {len(message)} bytes, made of {sorted(set(message.decode()))}")
        except (EOFError, OSError) as e:
            print(f"recv_bytes failed: {type(e).__name__}: {e}")
            break
    for p in writers:
        p.join()

    section(7, "Pipe vs Queue: 20000 small messages through each")
    count = 20000
    reader, writer = mp.Pipe(duplex=False)
    start = time.perf_counter()
    p = mp.Process(target=send_many, args=(writer, count))
    p.start()
    writer.close()
    for _ in range(count):
        reader.recv()
    p.join()
    through_pipe = time.perf_counter() - start
    q = mp.Queue()
    start = time.perf_counter()
    p = mp.Process(target=put_many, args=(q, count))
    p.start()
    for _ in range(count):
        q.get()
    p.join()
    through_queue = time.perf_counter() - start
    print(f"Pipe:  {through_pipe:.3f} s ({count / through_pipe:.0f} messages/s)")
    print(f"Queue: {through_queue:.3f} s ({count / through_queue:.0f} messages/s)")
    print(f"the Queue took {through_queue / through_pipe:.2f}x the Pipe's time")


if __name__ == "__main__":
    main()
