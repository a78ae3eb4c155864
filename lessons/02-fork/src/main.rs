//! Lesson 02: fork.
//!
//! The tutorial's "interesting example": one call to `os.fork()` and the code
//! after it runs twice, once in each process. This lesson makes that call
//! itself (through nix, the thin Rust layer over the C library), then looks at
//! what the copy means: separate memory, a buffer that is copied too, a child
//! that lingers as a zombie until it is reaped, how a child's end is reported.
//! It closes with the tutorial's `multiprocessing.Process` and why forking a
//! process that has threads is dangerous.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use course::{section, start_lesson, title};
use multiproc::{Process, Run};
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, fork, getpid, getppid};

fn main() {
    // In a child started with the spawn method (section 6), this runs the
    // child's function and exits: Python's `if __name__ == "__main__":`.
    multiproc::init();
    start_lesson(env!("CARGO_PKG_NAME"));
    title("Lesson 02: fork");
    println!("This process: pid={}", getpid());

    one_call_two_returns();
    memory_is_copied_not_shared();
    buffered_text_is_copied_too();
    a_zombie_until_reaped();
    how_a_child_ended();
    process_and_its_start_methods();
    fork_with_threads_is_dangerous();
}

// ---------------------------------------------------------------------------
/// Section 1: the tutorial's demo. After `fork` two processes run the same
/// code; `fork` told each which one it is.
fn one_call_two_returns() {
    section(
        "One fork, two processes: \"hi\" is printed twice",
        "pid = os.fork(); print('hi'); if pid == 0: ... os._exit(0)",
    );
    // Anything still in our stdout buffer would be copied into the child and
    // printed twice (section 3): flush first.
    std::io::stdout().flush().unwrap();
    // Safety: this process has one thread, so the child is a complete copy.
    // The child leaves through `_exit` below and never returns from here.
    let result = unsafe { fork() }.expect("fork");
    println!("hi");
    match result {
        ForkResult::Child => {
            println!(
                "child: fork returned 0; my pid={}, my parent's pid={}",
                getpid(),
                getppid()
            );
            // `_exit`, not `exit` or a return from main: the child must not run
            // the rest of the parent's program, nor its exit handlers.
            // Safety: `_exit` takes an integer and never returns.
            unsafe { nix::libc::_exit(0) };
        }
        ForkResult::Parent { child } => {
            println!("parent: fork returned the child's pid={child}");
            // Reap it: the parent must wait for each child it forks.
            let status = waitpid(child, None).expect("waitpid");
            println!("parent: waitpid says {status:?}");
        }
    }
    println!("Only the parent gets here: the child ended inside the match.");
}

// ---------------------------------------------------------------------------
/// A global, like a module-level variable in Python.
static COUNTER: AtomicU64 = AtomicU64::new(100);

/// Section 2: the child gets a copy of the parent's memory. Same addresses,
/// separate contents: the kernel copies a page when one side writes to it
/// (copy-on-write).
fn memory_is_copied_not_shared() {
    section(
        "The child's memory is a copy: a change there stays there",
        "a global changed in the child (os.fork or multiprocessing.Process)",
    );
    let address = &raw const COUNTER;
    println!(
        "parent: COUNTER = {} at {address:p}",
        COUNTER.load(Ordering::SeqCst)
    );
    let mut child = Process::start(|| {
        COUNTER.store(999, Ordering::SeqCst);
        let address = &raw const COUNTER;
        println!(
            "child:  COUNTER = {} at {address:p}",
            COUNTER.load(Ordering::SeqCst)
        );
    })
    .expect("fork");
    child.join().expect("waitpid");
    println!(
        "parent, after the child: COUNTER = {} at {address:p}",
        COUNTER.load(Ordering::SeqCst)
    );
    println!("Same address, different values: each process has its own copy of the page.");
}

// ---------------------------------------------------------------------------
/// Section 3: fork copies everything in memory, including text that was
/// printed but still sits in the stdout buffer. Each process later flushes its
/// own copy, so the text comes out twice.
fn buffered_text_is_copied_too() {
    section(
        "Text still in the stdout buffer at fork time is printed twice",
        "print('...', end='') then os.fork() (multiprocessing flushes for you)",
    );
    for flush_first in [false, true] {
        let lines = capture_stdout_of(move || {
            // Rust's stdout is line-buffered: without a newline, this stays in
            // the buffer, in memory.
            print!("text printed before fork; ");
            if flush_first {
                std::io::stdout().flush().unwrap(); // The fix.
            }
            // Safety: single-threaded (a child of this lesson), and the child
            // leaves through `_exit`. This fork does NOT flush first: that is
            // the point of the demo.
            match unsafe { fork() }.expect("fork") {
                ForkResult::Child => {
                    println!("child's line");
                    // Safety: `_exit` takes an integer and never returns.
                    unsafe { nix::libc::_exit(0) }
                }
                ForkResult::Parent { child } => {
                    waitpid(child, None).expect("waitpid");
                    println!("parent's line");
                }
            }
        });
        let copies = lines
            .iter()
            .filter(|l| l.contains("text printed before fork"))
            .count();
        let label = if flush_first {
            "with a flush before fork"
        } else {
            "without a flush"
        };
        println!("{label}: the output was");
        for line in &lines {
            println!("    {line}");
        }
        println!("  \"text printed before fork\" appeared {copies} time(s)");
    }
    println!("Python's multiprocessing flushes stdout before it forks; so does multiproc.");
}

/// Runs `body` in a child whose stdout is a pipe, and returns the lines the
/// child (and anything it forked) wrote there.
fn capture_stdout_of(body: impl FnOnce()) -> Vec<String> {
    let (mut reader, writer) = std::io::pipe().expect("pipe");
    let mut child = Process::start(move || {
        // Point this child's fd 1 at the pipe.
        nix::unistd::dup2_stdout(&writer).expect("dup2");
        drop(writer);
        body();
    })
    .expect("fork");
    // The parent's copy of the write end is gone (it moved into the closure,
    // which the parent never runs), so read_to_string ends when the child and
    // its own child have exited.
    let mut text = String::new();
    reader.read_to_string(&mut text).expect("read");
    child.join().expect("waitpid");
    text.lines().map(String::from).collect()
}

// ---------------------------------------------------------------------------
/// Section 4: a child that has exited but was not waited for stays in the
/// process table as a zombie, holding its exit status for the parent.
fn a_zombie_until_reaped() {
    section(
        "A child that has exited but is not reaped is a zombie",
        "os.waitpid(pid, 0) (multiprocessing reaps in join() and is_alive())",
    );
    let mut child = Process::start(|| {}).expect("fork");
    let pid = child.pid();
    let state = wait_for_state(pid, 'Z', Duration::from_secs(5));
    let state = state.map_or_else(|| "unknown".to_string(), String::from);
    println!("the child (pid={pid}) has exited; /proc/{pid}/stat says state {state}");
    println!("Z is a zombie: no memory, no code, only a pid and an exit status.");
    let code = child.join().expect("waitpid");
    let gone = !std::path::Path::new(&format!("/proc/{pid}")).exists();
    println!("after waitpid (exitcode {code}): /proc/{pid} is gone: {gone}");
}

/// Reads the state letter of `pid` until it is `wanted` or `timeout` passes.
fn wait_for_state(pid: i32, wanted: char, timeout: Duration) -> Option<char> {
    let deadline = Instant::now() + timeout;
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The state follows the command name, which is in parentheses.
        let state = stat[stat.rfind(')')? + 2..].chars().next();
        if state == Some(wanted) || Instant::now() >= deadline {
            return state;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

// ---------------------------------------------------------------------------
/// Section 5: how a parent learns the way a child ended, in Python's
/// `Process.exitcode` convention.
fn how_a_child_ended() {
    section(
        "How a child ended: exit status, panic, signal",
        "Process.exitcode: 0, sys.exit(7) -> 7, an exception -> 1, killed -> -9",
    );
    let mut normal = Process::start(|| {}).expect("fork");
    println!(
        "returned normally:  exitcode {}",
        normal.join().expect("waitpid")
    );

    let mut seven = Process::start_with_code(|| 7).expect("fork");
    println!(
        "exited with 7:      exitcode {}",
        seven.join().expect("waitpid")
    );

    // A panic on purpose: its message, and no backtrace even if you set
    // RUST_BACKTRACE=1 (course::panic_on_purpose removes it in the child).
    let mut panicked =
        Process::start(|| course::panic_on_purpose("a panic in the child")).expect("fork");
    let code = panicked.join().expect("waitpid");
    println!("panicked:           exitcode {code} (its message went to stderr)");
    println!(
        "  (1 is multiproc's choice, as in Python: a Rust program that panics exits with 101)"
    );

    // A daemon: should this lesson be killed first, the sleeper dies with it.
    let mut killed =
        Process::start_daemon(|| std::thread::sleep(Duration::from_secs(60))).expect("fork");
    killed.kill().expect("kill"); // SIGKILL
    println!(
        "killed by SIGKILL:  exitcode {}",
        killed.join().expect("waitpid")
    );
    println!(
        "A negative exitcode is the signal's number: SIGKILL is {}.",
        Signal::SIGKILL as i32
    );
    let status_of_7 = {
        // Safety: a single-threaded fork; the child only calls `_exit`.
        match unsafe { fork() }.expect("fork") {
            // Safety: `_exit` takes an integer and never returns.
            ForkResult::Child => unsafe { nix::libc::_exit(7) },
            ForkResult::Parent { child } => waitpid(child, None).expect("waitpid"),
        }
    };
    println!(
        "Underneath, for a raw fork whose child calls _exit(7), waitpid reports {status_of_7:?}."
    );
    assert!(matches!(status_of_7, WaitStatus::Exited(_, 7)));
}

// ---------------------------------------------------------------------------
/// The tutorial's `print_fib`: compute fib(n) and say so.
fn print_fib(n: u32) {
    println!("run fib {n}: {}  (in pid={})", fib(n), getpid());
}

fn fib(n: u32) -> u64 {
    if n <= 2 { 1 } else { fib(n - 1) + fib(n - 2) }
}

/// The tutorial's `class MyProcess(Process)` with a `run` method.
struct MyProcess {
    n: u32,
}

impl Run for MyProcess {
    fn run(&mut self) {
        print_fib(self.n);
    }
}

/// What a spawned child sees of the parent's globals: nothing. It is a fresh
/// run of the program, and `COUNTER` starts at its initial value.
fn print_fib_and_counter(n: u32) {
    print_fib(n);
    println!(
        "spawned child sees COUNTER = {}",
        COUNTER.load(Ordering::SeqCst)
    );
}

/// Section 6: the tutorial's `multiprocessing.Process`, three ways.
fn process_and_its_start_methods() {
    section(
        "Process: the tutorial's print_fib in a child, three ways",
        "Process(target=print_fib, args=(10,)); class MyProcess(Process); spawn",
    );
    COUNTER.store(5, Ordering::SeqCst);
    println!("parent sets COUNTER = 5");
    let greeting = String::from("a String on the parent's stack");

    // No `move`, no 'static, no Send: the closure borrows `greeting`, which
    // std::thread::spawn would refuse (E0373). Fork gives the child its own
    // copy of the whole address space, borrowed locals included, and the
    // child never returns into this function: the borrow cannot dangle.
    let mut child = Process::start(|| {
        print_fib(10);
        println!(
            "forked child sees COUNTER = {}",
            COUNTER.load(Ordering::SeqCst)
        );
        println!("forked child borrowed a local: {greeting}");
    })
    .expect("fork");
    println!("started: Process.pid = {}", child.pid());
    println!("joined: exitcode {}", child.join().expect("waitpid"));

    let mut child = MyProcess { n: 10 }.start().expect("fork");
    println!("MyProcess started: pid = {}", child.pid());
    println!("joined: exitcode {}", child.join().expect("waitpid"));

    // Spawn: run this program again, and have `init()` call the function.
    let mut child = Process::spawn(print_fib_and_counter, 10).expect("spawn");
    println!("spawned: pid = {}", child.pid());
    println!("joined: exitcode {}", child.join().expect("waitpid"));
    println!("fork copies the parent's memory (COUNTER = 5); spawn starts afresh (100),");
    println!("which is why a spawned child needs the `if __name__ == '__main__':` guard,");
    println!("here multiproc::init() at the top of main.");
}

// ---------------------------------------------------------------------------
/// Section 7: fork copies one thread, the one that called it. Locks held by
/// the others, and the work they were to do, are copied without them.
fn fork_with_threads_is_dangerous() {
    section(
        "Forking a process that has threads: the child can hang forever",
        "os.fork() with threads: 3.12 warns (3.14 makes forkserver the default start method)",
    );
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("rayon pool");
    pool.install(|| rayon::join(|| fib(20), || fib(20)));
    println!(
        "A rayon pool of {} threads is running: this process has {} threads.",
        pool.current_num_threads(),
        multiproc::thread_count().unwrap()
    );

    std::io::stdout().flush().unwrap();
    // Safety: none, on purpose: this process has 3 threads. The child gets
    // a copy of this thread only. It may call only async-signal-safe
    // functions; it calls rayon, which waits for pool threads that do not
    // exist in the child. The parent kills it below.
    let forked = unsafe { fork() };
    match forked.expect("fork") {
        ForkResult::Child => {
            // This child will hang forever: make sure it dies with its
            // parent even if the parent is killed before it can kill it.
            // prctl is a plain system call, safe even in this child.
            let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
            println!("child: asking the pool for fib(20) + fib(20) ...");
            let (a, b) = pool.install(|| rayon::join(|| fib(20), || fib(20)));
            println!("child: never printed: {}", a + b);
            // Safety: `_exit` takes an integer and never returns.
            unsafe { nix::libc::_exit(0) }
        }
        ForkResult::Parent { child } => {
            std::thread::sleep(Duration::from_millis(500));
            let stuck = matches!(
                waitpid(child, Some(nix::sys::wait::WaitPidFlag::WNOHANG)),
                Ok(WaitStatus::StillAlive)
            );
            println!("parent: after 500ms the child is still waiting: {stuck}");
            nix::sys::signal::kill(child, Signal::SIGKILL).expect("kill");
            println!(
                "parent: killed it: {:?}",
                waitpid(child, None).expect("waitpid")
            );
        }
    }
    match Process::start(|| {}) {
        Ok(_) => println!("multiproc forked anyway: a bug"),
        Err(e) => course::print_wrapped("multiproc's Process::start refuses: ", &e.to_string()),
    }
    println!("Fork first, then start threads; or use the spawn start method.");
}
