//! The crate's behaviour, seen from outside: each test runs one scenario of
//! `multiproc-scenarios` (a real single-threaded process; the test harness
//! is multithreaded and must not fork) in its own process group, under a
//! timeout, and checks what it printed and that it left no process behind.

use std::path::Path;
use std::time::Duration;

use harness::runner;

fn scenario(name: &str) -> String {
    let binary = Path::new(env!("CARGO_BIN_EXE_multiproc-scenarios"));
    let run = runner::run(binary, &[name.to_string()], Duration::from_secs(30)).unwrap();
    assert!(!run.timed_out, "scenario {name} hung:\n{}", run.stdout);
    assert!(
        run.leaked.is_empty(),
        "scenario {name} left processes behind: {:?}",
        run.leaked
    );
    assert_eq!(
        run.exit, 0,
        "scenario {name} failed:\n{}\n{}",
        run.stdout, run.stderr
    );
    run.stdout
}

fn assert_lines(output: &str, expected: &[&str]) {
    for line in expected {
        assert!(
            output.lines().any(|l| l == *line),
            "missing line `{line}` in:\n{output}"
        );
    }
}

/// The number in `prefix<N>ms` on the line that starts with `prefix`.
fn millis_after(output: &str, prefix: &str) -> u64 {
    let line = output
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` in:\n{output}"));
    line[prefix.len()..].trim_end_matches("ms").parse().unwrap()
}

#[test]
fn exitcodes_follow_pythons_convention() {
    assert_lines(
        &scenario("exitcodes"),
        &[
            "exitcode before join: None",
            "normal: 0 (exitcode Some(0), alive false)",
            "exit 7: 7 (exitcode Some(7), alive false)",
            "panic: 1 (exitcode Some(1), alive false)",
            "SIGKILL: -9 (exitcode Some(-9), alive false)",
            "SIGTERM: -15 (exitcode Some(-15), alive false)",
        ],
    );
}

#[test]
fn join_timeout_returns_after_about_the_timeout() {
    let out = scenario("join-timeout");
    assert_lines(&out, &["alive: true"]);
    let waited = millis_after(&out, "join_timeout(300ms): None after ");
    assert!((290..2000).contains(&waited), "waited {waited}ms");
    let after_kill = millis_after(&out, "after kill: Some(-9) after ");
    assert!(after_kill < 2000, "{after_kill}ms");
}

#[test]
fn the_run_trait_runs_in_a_child() {
    assert_lines(&scenario("run-trait"), &["run fib 10: 55", "joined: 0"]);
}

#[test]
fn a_panicking_task_gives_its_message_and_the_others_succeed() {
    let out = scenario("pool-errors");
    assert_lines(
        &out,
        &[
            "task 1: Ok(10)",
            "task 2: Ok(20)",
            "task 4: Ok(40)",
            "task 5: Ok(50)",
            "imap chunksize 2: [\"10\", \"20\", \"panicked\", \"40\", \"50\"]",
            "map: Ok([10, 20])",
            "ready at once: false",
            "get_timeout(100ms): Err(Timeout)",
            "get: Ok(500)",
            "apply_async after close: the pool is closed: no new tasks (Python raises ValueError: Pool not running)",
        ],
    );
    let task3 = out.lines().find(|l| l.starts_with("task 3: ")).unwrap();
    assert!(
        task3.starts_with("task 3: Err(the task panicked in its worker: three is not allowed at "),
        "{task3}"
    );
    assert!(
        task3.contains("multiproc-scenarios.rs:"),
        "the location is named: {task3}"
    );
}

#[test]
fn a_killed_worker_fails_its_task_within_a_second_and_is_replaced() {
    assert_lines(
        &scenario("pool-worker-killed"),
        &[
            "long task: worker died, pid is the victim's: true, exitcode -9",
            "error text: worker pid=N died (signal 9) while running the task",
            "noticed within 1s: true",
            "the queued task still ran: Ok(1)",
            "replaced: true",
            "suicide: true",
            "still serving: Ok(2)",
        ],
    );
}

#[test]
fn imap_keeps_submission_order_and_imap_unordered_does_not() {
    assert_lines(
        &scenario("pool-orders"),
        &[
            "imap: [300, 500, 100]",
            "imap_unordered: [100, 300, 500]",
            "map chunksize 3: [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]",
            "imap_unordered 1000 items, chunksize 7, sum: 499500",
            "chunksize 0: chunksize must be at least 1",
        ],
    );
}

#[test]
fn join_is_refused_before_close() {
    assert_lines(
        &scenario("pool-join-before-close"),
        &[
            "join before close: Pool::join called before Pool::close: close the pool first (Python raises ValueError: Pool is still running)",
            "join after close: Ok(())",
        ],
    );
}

#[test]
fn fork_is_refused_while_threads_exist_and_spawn_works() {
    let out = scenario("fork-refused");
    assert!(
        out.starts_with("Process::start refused: refusing to fork: this process has 2 threads."),
        "{out}"
    );
    assert_lines(
        &out,
        &[
            "Pool::new refused: true",
            "spawn while multithreaded joined: 0",
            "after the thread is joined, fork works: 0",
        ],
    );
}

#[test]
fn spawn_runs_the_function_in_a_fresh_program() {
    let out = scenario("spawn");
    let parent = out
        .lines()
        .next()
        .unwrap()
        .strip_prefix("parent pid=")
        .unwrap()
        .to_string();
    assert_lines(
        &out,
        &[
            &format!("spawned child got 42, parent pid={parent}"),
            "spawn joined: 0",
            "spawn panicking joined: 1",
            "spawn join_timeout(50ms): None",
            "slept 200ms",
            "spawn join_timeout(5s): Some(0)",
        ],
    );
}

#[test]
fn a_spawned_child_without_init_is_refused_instead_of_spawning_again() {
    assert_lines(
        &scenario("spawn-without-init"),
        &[
            "child without init: spawn refused: this is a spawned child that did not call multiproc::init() at the top of main, so it is running main again; add the call (Python's `if __name__ == '__main__':`)",
            "child exit: 3",
        ],
    );
}

#[test]
fn dropping_a_running_process_kills_and_reaps_it() {
    assert_lines(
        &scenario("drop-kills"),
        &["dropped while running: reaped and gone: true"],
    );
}

#[test]
fn a_child_forked_after_a_pool_does_not_keep_its_workers_alive() {
    assert_lines(
        &scenario("late-child-does-not-hold-pool"),
        &["pool joined while a later child lives: true"],
    );
}

#[test]
fn a_queue_delivers_every_item_exactly_once_to_many_consumers() {
    assert_lines(
        &scenario("queue-mpmc"),
        &[
            "received: 40000 of 40000",
            "checksum matches: true",
            "each producer's items in order: true",
            "left in the queue: 0",
        ],
    );
}

#[test]
fn a_queue_is_bounded_and_its_timeouts_hold() {
    let out = scenario("queue-limits");
    assert_lines(
        &out,
        &[
            "empty: true, qsize 0",
            "full: true, qsize 2",
            "put_nowait on a full queue: the queue is full (Python: queue.Full)",
            "get: \"a\" \"b\"",
            "get_nowait on an empty queue: the queue is empty (Python: queue.Empty)",
            "a put on a full queue returned after a get elsewhere: true",
            "4 MiB item arrived intact: true",
            "pipe capacity: 1048576 bytes",
            "put after close: the queue is closed",
            "get after close: the queue is closed",
        ],
    );
    let put = millis_after(
        &out,
        "put_timeout(200ms) on a full queue: the queue is full (Python: queue.Full) after ",
    );
    let get = millis_after(
        &out,
        "get_timeout(200ms) on an empty queue: the queue is empty (Python: queue.Empty) after ",
    );
    for waited in [put, get] {
        assert!((190..2000).contains(&waited), "waited {waited}ms");
    }
}

#[test]
fn a_killed_consumer_does_not_hang_a_producers_timeout() {
    let out = scenario("queue-consumer-killed");
    let waited = millis_after(
        &out,
        "producer blocked in put, consumer killed: the queue is full (Python: queue.Full) after ",
    );
    assert!((290..2000).contains(&waited), "waited {waited}ms");
    assert_lines(&out, &["and the item before is still there: Ok(1)"]);
}

#[test]
fn a_writer_killed_mid_item_breaks_the_queue_instead_of_hanging_it() {
    assert_lines(
        &scenario("queue-writer-killed-mid-item"),
        &[
            "get after the writer died mid-item: the queue is broken: a process died while writing an item (within 1s: true)",
            "and after that: the queue is broken: a process died holding one of its locks",
        ],
    );
}

#[test]
fn a_pipe_keeps_message_boundaries_and_reports_its_ends() {
    assert_lines(
        &scenario("pipe-basics"),
        &[
            "reply: ping pong",
            "empty message: []",
            "three sends, three messages: [0, 1, 2]",
            "16 MiB message intact: true",
            "poll after the child is gone: Ok(true)",
            "recv after the child is gone: end of stream: the other end was closed",
            "send after the child is gone: broken pipe: the receiving end is closed in every process, so nobody can read this",
            "recv after close: this end was closed with close()",
        ],
    );
}

#[test]
fn a_pipe_tells_eof_from_waiting_and_survives_a_broken_pipe() {
    assert_lines(
        &scenario("pipe-eof"),
        &[
            "poll with a message waiting: Ok(true)",
            "recv: Ok(1)",
            "poll(200ms) with nothing sent, writer open: Ok(false)",
            "  waited about 200ms: true",
            "after the only writer closed, recv: end of stream: the other end was closed",
            "send with the reader closed: true",
        ],
    );
}

#[test]
fn bad_frames_give_clear_errors() {
    assert_lines(
        &scenario("pipe-bad-frames"),
        &[
            "truncated frame: truncated frame: the other end closed after 6 of 14 bytes",
            "oversize length: frame length 4294967295 is over the limit of 67108864 bytes: refused before allocating (a corrupt stream, or a second writer on the same end?)",
            "garbage payload: could not decode the message (Hit the end of buffer, expected more data): the sender used another type",
            "half a prefix: truncated frame: the other end closed after 2 of 4 bytes",
        ],
    );
}

#[test]
fn a_manager_serves_dicts_queues_and_locks_and_cleans_up() {
    assert_lines(
        &scenario("manager-basics"),
        &[
            "directory mode: 700",
            "get a: Some(1), get z: None",
            "contains b: true, len: 3",
            "keys: [\"a\", \"b\", \"c\"]",
            "items: [(\"a\", 1), (\"b\", 2), (\"c\", 3)]",
            "pop c: Some(3), delete b: true, delete b again: false",
            "add: 5 3",
            "after clear: empty true",
            "put on a full manager queue: the manager queue is full (Python: queue.Full)",
            "get: 7, then: the manager queue is empty (Python: queue.Empty)",
            "second acquire: timed out waiting for the manager lock",
            "release by a non-holder: the manager refused the request: release of a lock this connection does not hold",
            "acquire after release: Ok(())",
            "squares from pool tasks: [0, 1, 4, 9]",
            "shutdown exitcode: 0",
            "server gone: true",
            "socket gone: true, directory gone: true",
            "a proxy after shutdown: true",
        ],
    );
}

#[test]
fn bad_clients_lose_their_connection_and_the_server_goes_on() {
    assert_lines(
        &scenario("manager-bad-clients"),
        &[
            "garbage payload: connection closed, with an error message: true; server still serves: Ok(Some(1))",
            "unknown method: connection closed, with an error message: true; server still serves: Ok(Some(1))",
            "oversize length: connection closed, with an error message: true; server still serves: Ok(Some(1))",
            "unknown object: the manager refused the request: there is no dict with id 77 in this manager",
            "a proxy that went through bytes: Ok(Some(1))",
        ],
    );
}

#[test]
fn a_killed_server_fails_every_call_within_a_second() {
    assert_lines(
        &scenario("manager-killed"),
        &[
            "call after SIGKILL: true (within 1s: true)",
            "a blocked get saw it too: true",
            "error text: the manager is gone",
        ],
    );
}

#[test]
fn a_lock_whose_holder_dies_is_released() {
    assert_lines(
        &scenario("manager-lock-holder-dies"),
        &[
            "while the holder lives: timed out waiting for the manager lock",
            "after the holder died: Ok(()) (within 1s: true)",
        ],
    );
}

#[test]
fn another_user_cannot_use_the_manager() {
    let out = scenario("manager-other-uid");
    if out.starts_with("skipped: needs root") {
        // Only root can become another user to try; say so in the output.
        eprintln!("another_user_cannot_use_the_manager: skipped, not root");
        return;
    }
    assert_lines(
        &out,
        &[
            "as nobody, 0700 directory: refused true",
            "as nobody, open directory: refused true",
            "the owner still gets in: Ok(Some(42))",
        ],
    );
}
