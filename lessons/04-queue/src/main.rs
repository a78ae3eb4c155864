//! Lesson 04: passing data between processes with a Queue.
//!
//! The tutorial's list of what does and does not carry data between
//! processes, shown one by one: a global does not, a thread channel
//! (`queue.Queue` in Python) does not, `multiprocessing.Queue` does. Then what
//! the bound of `Queue(3)` means, many producers and consumers, and the
//! classic deadlock of joining a process before taking what it put.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use course::schedule::{Ran, Schedule, ran};
use course::{section, start_lesson, title};
use multiproc::{Manager, Pool, Process, Queue, QueueError, QueueProxy};

fn main() {
    start_lesson(env!("CARGO_PKG_NAME"));
    title("Lesson 04: Queue");
    println!("This process: pid={}", std::process::id());

    a_global_does_not_carry_data();
    a_thread_channel_does_not_cross_a_fork();
    the_tutorials_producer_and_consumer();
    the_bound_of_queue_3();
    many_producers_many_consumers();
    join_before_drain();
    a_queue_cannot_go_to_a_pool_task();
    a_manager_queue_can();
}

// ---------------------------------------------------------------------------
static COUNTER: AtomicU64 = AtomicU64::new(0);

fn a_global_does_not_carry_data() {
    section(
        "A global variable does not carry data between processes",
        "a module-level counter incremented in a Process",
    );
    let mut child = Process::start(|| {
        COUNTER.fetch_add(1, Ordering::SeqCst);
        println!("child: COUNTER = {}", COUNTER.load(Ordering::SeqCst));
    })
    .expect("fork");
    child.join().expect("waitpid");
    println!("parent: COUNTER = {}", COUNTER.load(Ordering::SeqCst));
    println!("The child changed its own copy (lesson 02): nothing came back.");
}

// ---------------------------------------------------------------------------
fn a_thread_channel_does_not_cross_a_fork() {
    section(
        "A thread channel does not cross a fork",
        "queue.Queue() used from a multiprocessing.Process",
    );
    // crossbeam-channel's channel is the counterpart of queue.Queue: any
    // number of threads may send and receive (std's mpsc has one receiver).
    let (sender, receiver) = crossbeam_channel::unbounded::<&str>();
    // The parent keeps a sender too, so its receiver waits rather than
    // reporting that every sender is gone.
    let childs_sender = sender.clone();
    let mut child = Process::start(move || {
        // The child has a copy of the channel: the message lands in the
        // child's own memory, where nobody will ever read it.
        let sent = childs_sender.send("hello from the child");
        println!("child: send returned {sent:?}");
    })
    .expect("fork");
    child.join().expect("waitpid");
    let started = Instant::now();
    let received = receiver.recv_timeout(Duration::from_millis(500));
    println!(
        "parent: recv_timeout(500ms) gave {received:?} after {:.1?}",
        started.elapsed()
    );
    drop(sender);
    println!("A channel lives in one process's memory. Between processes, data must go");
    println!("through the kernel: a pipe, a socket, shared memory. Queue uses shared memory.");
}

// ---------------------------------------------------------------------------
fn the_tutorials_producer_and_consumer() {
    section(
        "The tutorial's producer and consumer, on Queue(3)",
        "q = Queue(3); Process(target=producer, args=(q,)); Process(target=consumer, args=(q,))",
    );
    // Made before the fork: both children inherit it (Python passes it as an
    // argument, and it is inherited the same way underneath).
    let queue: Queue<String> = Queue::new(3).expect("queue");
    // From here on the children are daemons (Python: `daemon=True`): if this
    // lesson is killed, they die with it instead of waiting on a queue forever.
    let mut producer = Process::start_daemon(|| {
        queue.put(&"a".to_string()).expect("put");
        println!("producer put: a");
    })
    .expect("fork");
    let mut consumer = Process::start_daemon(|| {
        std::thread::sleep(Duration::from_millis(200));
        let item = queue.get().expect("get");
        println!("consumer get: {item}");
    })
    .expect("fork");
    producer.join().expect("waitpid");
    consumer.join().expect("waitpid");
}

// ---------------------------------------------------------------------------
fn the_bound_of_queue_3() {
    section(
        "Queue(3) holds 3 items: the 4th put waits for a get",
        "put blocks while full; put_nowait raises queue.Full; get(timeout=t) raises queue.Empty",
    );
    let queue: Queue<u32> = Queue::new(3).expect("queue");
    let mut producer = Process::start_daemon(|| {
        for item in 1..=4 {
            let started = Instant::now();
            queue.put(&item).expect("put");
            let waited = started.elapsed();
            if item < 4 {
                println!("producer: put {item} returned (there was room)");
            } else {
                println!("producer: put 4 returned after waiting {waited:.1?}");
                // The parent takes an item 500ms in: a put that returned much
                // sooner did not wait for room.
                println!(
                    "producer: put 4 waited for a get to make room (over 300ms): {}",
                    waited >= Duration::from_millis(300)
                );
            }
        }
    })
    .expect("fork");
    // Long enough for puts 1 to 3, and for put 4 to start waiting.
    std::thread::sleep(Duration::from_millis(500));
    println!(
        "parent: 500ms later the queue holds {} items; taking one",
        queue.qsize()
    );
    let first = queue.get().expect("get");
    println!("parent: got {first}");
    producer.join().expect("waitpid");
    let rest: Vec<u32> = (0..3).map(|_| queue.get().expect("get")).collect();
    println!("parent: then got {rest:?}, in the order they were put");

    for item in 1..=3 {
        queue.put(&item).expect("put");
    }
    let started = Instant::now();
    match queue.put_nowait(&4) {
        Err(QueueError::Full) => println!(
            "put_nowait on a full queue: Full, after {:.1?}",
            started.elapsed()
        ),
        other => println!("put_nowait on a full queue: {other:?}"),
    }
    for _ in 1..=3 {
        queue.get().expect("get");
    }
    let started = Instant::now();
    match queue.get_timeout(Duration::from_millis(300)) {
        Err(QueueError::Empty) => {
            let waited = started.elapsed();
            println!("get(timeout=300ms) on an empty queue: Empty, after {waited:.1?}");
            println!(
                "it waited its 300ms first (at least 250ms): {}",
                waited >= Duration::from_millis(250)
            );
        }
        other => println!("get(timeout=300ms) on an empty queue: {other:?}"),
    }
}

// ---------------------------------------------------------------------------
const PRODUCERS: u32 = 4;
const ITEMS_EACH: u32 = 1000;
const CONSUMERS: u32 = 2;

/// What a consumer does with an item: 20 µs of work, as a real consumer's
/// would take some, so that the items are shared out between consumers.
fn handle(item: (u32, u32)) {
    let until = Instant::now() + Duration::from_micros(20);
    while Instant::now() < until {
        std::hint::black_box(item);
    }
}

fn many_producers_many_consumers() {
    section(
        "4 producers x 1000 items, 2 consumers: every item once, in order per producer",
        "several Processes sharing one multiprocessing.Queue",
    );
    // Items are (producer, sequence number); None tells a consumer to stop.
    let queue: Queue<Option<(u32, u32)>> = Queue::new(50).expect("queue");
    // Each consumer reports what it got on a second queue, and says on a
    // third that it is ready: the producers start once both are, so that
    // neither consumer can drain the queue before the other has begun.
    // (Each producer and consumer also says when it ran, for the schedule.)
    let reports: Queue<Ran<Vec<(u32, u32)>>> = Queue::new(0).expect("queue");
    let produced: Queue<Ran<u32>> = Queue::new(0).expect("queue");
    let ready: Queue<()> = Queue::new(0).expect("queue");
    let mut consumers: Vec<Process> = (0..CONSUMERS)
        .map(|_| {
            Process::start_daemon(|| {
                ready.put(&()).expect("put");
                let got = ran(|| {
                    let mut got = Vec::new();
                    while let Some(item) = queue.get().expect("get") {
                        handle(item);
                        got.push(item);
                    }
                    got
                });
                reports.put(&got).expect("put");
            })
            .expect("fork")
        })
        .collect();
    for _ in 0..CONSUMERS {
        ready
            .get_timeout(Duration::from_secs(20))
            .expect("a consumer is ready");
    }
    let (shared, produced) = (&queue, &produced);
    let mut producers: Vec<Process> = (0..PRODUCERS)
        .map(|p| {
            // `move` copies `p` and the reference; the child uses its copy of
            // the queue through it.
            Process::start_daemon(move || {
                let done = ran(|| {
                    for n in 0..ITEMS_EACH {
                        shared.put(&Some((p, n))).expect("put");
                    }
                    p
                });
                produced.put(&done).expect("put");
            })
            .expect("fork")
        })
        .collect();
    for producer in &mut producers {
        producer.join().expect("waitpid");
    }
    for _ in 0..CONSUMERS {
        queue.put(&None).expect("put");
    }
    let mut schedule = Schedule::new("4 producers, 2 consumers");
    for _ in 0..PRODUCERS {
        let done = produced.get().expect("a producer's report");
        schedule.add_ran(format!("producer {}", done.value), &done);
    }
    let got: Vec<Vec<(u32, u32)>> = (0..CONSUMERS)
        .map(|_| {
            let report = reports
                .get_timeout(Duration::from_secs(20))
                .expect("a consumer's report");
            schedule.add_ran(format!("consumer, {} items", report.value.len()), &report);
            report.value
        })
        .collect();
    for consumer in &mut consumers {
        consumer.join().expect("waitpid");
    }
    schedule.print();
    let in_order = got.iter().all(|items| each_producer_in_order(items));
    let mut all: Vec<(u32, u32)> = got.concat();
    let total = all.len();
    all.sort();
    all.dedup();
    let shares: Vec<String> = got.iter().map(|items| items.len().to_string()).collect();
    println!("the consumers got {} items ({})", total, shares.join(" + "));
    println!(
        "both consumers took part: {}",
        got.iter().all(|items| !items.is_empty())
    );
    println!(
        "distinct items: {} of {}",
        all.len(),
        PRODUCERS * ITEMS_EACH
    );
    println!("each producer's items in order at each consumer: {in_order}");
    println!("What to look for: the split between consumers varies from run to run; the");
    println!("totals do not. An item is written under one lock and read under another, so");
    println!("no item is torn, lost or delivered twice.");
}

// ---------------------------------------------------------------------------
fn join_before_drain() {
    section(
        "Joining a process before taking what it put: a deadlock",
        "the docs' warning: a process that put items joins only once they are all in the pipe",
    );
    let queue: Queue<Vec<u8>> = Queue::new(0).expect("queue");
    let capacity = queue.capacity_bytes();
    println!("the queue's ring holds {} KiB", capacity / 1024);
    // Twice what the ring holds.
    let item_size = 2 * capacity;
    let mut child = Process::start_daemon(|| {
        queue.put(&vec![7u8; item_size]).expect("put");
    })
    .expect("fork");
    println!(
        "the child puts one item of {} KiB, twice what the ring holds",
        item_size / 1024
    );
    match child
        .join_timeout(Duration::from_millis(500))
        .expect("waitpid")
    {
        None => println!("join(timeout=500ms): the child is still alive, blocked in put"),
        Some(code) => {
            println!("join(timeout=500ms): the child ended with {code}: a bug in the demo")
        }
    }
    let item = queue.get().expect("get");
    println!(
        "get() took the item ({} KiB), so the child's put could return",
        item.len() / 1024
    );
    println!("join: exitcode {}", child.join().expect("waitpid"));
    println!("A join without a timeout would have waited forever. In Python the put itself");
    println!("returns (a feeder thread writes the pipe), but the process cannot exit until");
    println!("that thread is done: the same deadlock, one step later. Get first, then join.");
}

// ---------------------------------------------------------------------------
fn a_queue_cannot_go_to_a_pool_task() {
    section(
        "A Queue cannot be a Pool task's argument",
        "RuntimeError: Queue objects should only be shared between processes through inheritance",
    );
    println!("A task's argument travels as bytes, and a Queue is a mapping of shared");
    println!("memory and locks: it cannot become bytes. Python finds out when it tries to");
    println!("pickle the queue, and raises RuntimeError. Here the compiler finds out:");
    println!("`pool.apply_async(use_queue, queue)` does not build:");
    println!("  error[E0277]: the trait bound `Queue<u32>: serde::Serialize` is not satisfied");
    println!("  (a compile_fail doctest on Queue pins this error: cargo test --doc -p multiproc)");
    // What works: inheritance. Made before the pool, the queue is in every
    // worker's copy of this process's memory, reached through a static.
    INHERITED
        .set(Queue::new(0).expect("queue"))
        .expect("set once");
    let pool = Pool::new(2).expect("fork the workers");
    for x in 0..4 {
        let task = pool.apply_async(put_square_inherited, x).expect("queue");
        task.get().expect("a task failed");
    }
    let queue = INHERITED.get().expect("set above");
    let mut squares: Vec<u64> = (0..4)
        .map(|_| queue.get_timeout(Duration::from_secs(5)).expect("get"))
        .collect();
    squares.sort_unstable();
    println!("Inheritance works: a Queue made before the pool is in each worker's copy of");
    println!("this process. 4 tasks put their squares into one, through a static: {squares:?}");
    println!("(Python: the same, or Pool(initializer=..., initargs=(q,)), even under spawn.)");
    println!("When the queue is made later, or given to each task, take a queue that lives");
    println!("in a server process behind a handle that can become bytes: Manager().Queue.");
}

/// True if, of `(producer, n)` items as one consumer got them, each
/// producer's come in the order it put them (its `n` rising).
fn each_producer_in_order(items: &[(u32, u32)]) -> bool {
    (0..PRODUCERS).all(|p| {
        let seq: Vec<u32> = items
            .iter()
            .filter(|(q, _)| *q == p)
            .map(|(_, n)| *n)
            .collect();
        seq.windows(2).all(|w| w[0] < w[1])
    })
}

/// The queue section 7's tasks reach by inheritance: set before the pool forks.
static INHERITED: OnceLock<Queue<u64>> = OnceLock::new();

/// A Pool task: put the square of `x` into the queue the worker inherited.
fn put_square_inherited(x: u64) {
    let queue = INHERITED.get().expect("made before the pool");
    queue.put(&(x * x)).expect("put");
}

// ---------------------------------------------------------------------------
/// A Pool task: put the square of `x` into the manager queue it was given.
fn put_square(args: (QueueProxy<u64>, u64)) {
    let (squares, x) = args;
    squares.put(&(x * x), None).expect("put");
}

fn a_manager_queue_can() {
    section(
        "A Manager().Queue can: its proxy is an address, and addresses are bytes",
        "q = Manager().Queue(); pool.apply_async(put_square, (q, x))",
    );
    let manager = Manager::start().expect("start the manager");
    // First the tutorial's own cell, as it was: Manager().Queue(3) between a
    // producer and a consumer that sleeps 0.2 s.
    let queue: QueueProxy<String> = manager.queue(3).expect("a manager queue");
    let mut producer = Process::start_daemon(|| {
        queue.put(&"a".to_string(), None).expect("put");
        println!("producer put: a");
    })
    .expect("fork");
    let mut consumer = Process::start_daemon(|| {
        std::thread::sleep(Duration::from_millis(200));
        let got = queue.get(None).expect("get");
        println!("consumer get: {got}");
    })
    .expect("fork");
    producer.join().expect("waitpid");
    consumer.join().expect("waitpid");
    // Then what a manager queue adds: it can go to Pool tasks.
    let squares: QueueProxy<u64> = manager.queue(0).expect("a manager queue");
    let pool = Pool::new(2).expect("fork the workers");
    let tasks: Vec<_> = (0..4u64)
        .map(|x| {
            pool.apply_async(put_square, (squares.clone(), x))
                .expect("queue the task")
        })
        .collect();
    for task in &tasks {
        task.get().expect("a put_square task failed");
    }
    pool.close();
    pool.join().expect("join the pool");
    let mut got: Vec<u64> = (0..4)
        .map(|_| squares.get(Some(Duration::from_secs(5))).expect("get"))
        .collect();
    println!(
        "4 Pool tasks put their squares; the parent got {} items",
        got.len()
    );
    got.sort();
    println!("sorted: {got:?}");
    println!("The items live in the manager's server; each worker opened its own");
    println!("connection to it from the address it was sent. The cost: every put and get");
    println!("is a round trip to that server (lesson 06 measures it).");
    manager.shutdown().expect("shutdown");
}
