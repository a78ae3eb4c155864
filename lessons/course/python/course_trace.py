"""The Python twins' side of `course::schedule`: with COURSE_TRACE=FILE,
spans go to FILE in Chrome's Trace Event format, as the Rust lessons write
them, so that `cargo xtask timeline NN --python` draws both. Standard
library only."""

import json
import os


def start():
    """Makes the trace file empty, as a lesson starts."""
    path = os.environ.get("COURSE_TRACE")
    if path:
        with open(path, "w") as f:
            f.write('{"traceEvents":[]}')


def add(section_name, spans):
    """Adds `spans`, (row, label, start s, end s) on CLOCK_MONOTONIC
    (time.monotonic()), as one section: its rows get tracks of their own."""
    path = os.environ.get("COURSE_TRACE")
    if not path:
        return
    try:
        with open(path) as f:
            events = json.load(f)["traceEvents"]
    except FileNotFoundError:
        events = []
    pid = os.getpid()
    before = sum(1 for e in events if e["ph"] == "M")
    rows = []
    for row, label, begin, end in sorted(spans, key=lambda s: s[2]):
        if row not in rows:
            rows.append(row)
            events.append({"name": "thread_name", "ph": "M", "pid": pid,
                           "tid": before + len(rows),
                           "args": {"name": f"{section_name}: {row}"}})
        events.append({"name": label, "cat": section_name, "ph": "X", "ts": begin * 1e6,
                       "dur": (end - begin) * 1e6, "pid": pid,
                       "tid": before + rows.index(row) + 1})
    with open(path, "w") as f:
        json.dump({"traceEvents": events}, f)
