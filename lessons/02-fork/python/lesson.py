"""Lesson 02's Python twin: fork, with CPython.

Run it with `python3 lesson.py`, or side by side with the Rust lesson:
`cargo xtask compare 02`. Standard library only, Python 3.8 or later.
"""

import multiprocessing as mp
import os
import signal
import sys
import threading
import time

COUNTER = 100


def section(number, what):
    print()
    print(f"## {number}. {what}")
    sys.stdout.flush()


def fib(n):
    return 1 if n <= 2 else fib(n - 1) + fib(n - 2)


def print_fib(n):
    print(f"run fib {n}: {fib(n)}  (in pid={os.getpid()})")
    print(f"child sees COUNTER = {COUNTER}")


class MyProcess(mp.Process):
    def run(self):
        print_fib(10)


def wait_for_state(pid, wanted, timeout):
    deadline = time.monotonic() + timeout
    while True:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        if state == wanted or time.monotonic() >= deadline:
            return state
        time.sleep(0.005)


def main():
    global COUNTER
    # Said outright: Python 3.14 defaults to forkserver, which cannot start a
    # lambda and does not copy this process's globals.
    mp.set_start_method("fork", force=True)
    print("Lesson 02 (Python twin): fork")
    print(f"This process: pid={os.getpid()}")

    section(1, 'One fork, two processes: "hi" is printed twice')
    pid = os.fork()
    print("hi", flush=True)
    if pid == 0:
        print(f"child: fork returned 0; my pid={os.getpid()}, my parent's pid={os.getppid()}", flush=True)
        os._exit(0)
    print(f"parent: fork returned the child's pid={pid}", flush=True)
    print(f"parent: waitpid says {os.waitpid(pid, 0)}")

    section(2, "The child's memory is a copy")
    print(f"parent: COUNTER = {COUNTER} at {hex(id(COUNTER))}")
    pid = os.fork()
    if pid == 0:
        COUNTER = 999
        print(f"child:  COUNTER = {COUNTER} (a new object, at {hex(id(COUNTER))})", flush=True)
        os._exit(0)
    os.waitpid(pid, 0)
    print(f"parent, after the child: COUNTER = {COUNTER}")

    section(3, "Text still in the stdout buffer at fork time is printed twice")
    for flush_first in (False, True):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            os.dup2(w, 1)
            sys.stdout = open(1, "w", buffering=1 << 16, closefd=False)
            print("text printed before fork; ", end="")
            if flush_first:
                sys.stdout.flush()
            grandchild = os.fork()
            print("child's line" if grandchild == 0 else "parent's line")
            sys.stdout.flush()
            if grandchild:
                os.waitpid(grandchild, 0)
            os._exit(0)
        os.close(w)
        with os.fdopen(r) as f:
            lines = f.read().splitlines()
        os.waitpid(pid, 0)
        label = "with a flush before fork" if flush_first else "without a flush"
        print(f"{label}: {lines}")

    section(4, "A child that has exited but is not reaped is a zombie")
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    print(f"the child (pid={pid}) has exited; state {wait_for_state(pid, 'Z', 5)}")
    os.waitpid(pid, 0)
    print(f"after waitpid: /proc/{pid} is gone: {not os.path.exists(f'/proc/{pid}')}")

    section(5, "How a child ended: Process.exitcode")
    targets = [
        ("returned normally", lambda: None),
        ("exited with 7", lambda: sys.exit(7)),
        ("raised", lambda: 1 / 0),
        ("killed by SIGKILL", lambda: time.sleep(60)),
    ]
    for label, target in targets:
        p = mp.Process(target=target)
        p.start()
        if label.startswith("killed"):
            p.kill()
        p.join()
        print(f"{label}: exitcode {p.exitcode}")

    section(6, "Process: print_fib in a child, three ways")
    COUNTER = 5
    print("parent sets COUNTER = 5")
    for label, make in (
        ("fork", lambda: mp.get_context("fork").Process(target=print_fib, args=(10,))),
        ("MyProcess", lambda: MyProcess()),
        ("spawn", lambda: mp.get_context("spawn").Process(target=print_fib, args=(10,))),
    ):
        p = make()
        p.start()
        p.join()
        print(f"{label}: pid {p.pid}, exitcode {p.exitcode}")

    section(7, "Forking a process that has threads")
    t = threading.Thread(target=time.sleep, args=(1,))
    t.start()
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
    print(f"os.fork() with {threading.active_count()} threads running, Python {sys.version.split()[0]}:")
    if caught:
        print(f"  DeprecationWarning: {str(caught[0].message)[:70]}...")
    else:
        print("  no warning (Python 3.12 and later warn here; the danger is the same)")
    t.join()


if __name__ == "__main__":
    main()
