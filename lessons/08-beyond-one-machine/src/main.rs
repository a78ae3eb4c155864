//! Lesson 08: beyond one machine: the manager over the network, then Redis.
//!
//! Until now every process was forked from the lesson, so it inherited what
//! it needed: a pipe's end, a queue's shared memory, the manager's authkey.
//! A process on another host inherits nothing. It dials an address, proves
//! it knows a key, and from then on the network decides: it delays, it
//! drops, and a host can vanish without closing anything. This lesson runs
//! two "hosts" on this machine (two network namespaces joined by a virtual
//! cable, or loopback without root), serves lesson 06's manager over TCP
//! between them, takes one off the network in the middle of a call, then
//! does the same work on a real engine, Redis, and counts what each way of
//! taking a task promises: at most once, or at least once.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use course::hosts::{Host, Network, channel, two_hosts};
use course::redis_server::RedisServer;
use course::{relay, section, start_lesson, timed, title};
use multiproc::manager::{self, RemoteManager};
use multiproc::{DictProxy, Manager, ManagerError, Process, RecvEnd};

/// The key both hosts were given (in a real deployment: from a file only
/// they can read, never from an environment variable or a command line).
const KEY: [u8; 32] = *b"lesson 08: a key both hosts know";

/// How many tasks sections 4 and 5 hand out, and how many increments each
/// of section 6's two processes makes.
const TASKS: u32 = 10;
const INCREMENTS: i64 = 1000;

fn main() {
    start_lesson(env!("CARGO_PKG_NAME"));
    title("Lesson 08: beyond one machine");
    println!("This process: pid={}", std::process::id());

    a_manager_between_two_hosts();
    a_host_drops_off_mid_call();
    round_trips_dominate();
    a_killed_worker_and_the_managers_queue();
    match RedisServer::start() {
        Ok(redis) => {
            let url = redis.url();
            at_most_once_and_at_least_once(&url);
            the_lost_update_and_two_fixes(&url);
        }
        Err(why) => println!("Sections 5 and 6 need Redis: {why}"),
    }
}

/// Connects to the manager at `address` with the key: the one call a
/// process on another host makes instead of inheriting a proxy.
fn connect(address: SocketAddr) -> RemoteManager {
    manager::connect(address, KEY, Duration::from_secs(5)).expect("connect to host A's manager")
}

// ---------------------------------------------------------------------------
/// Sections 1 to 3: host A serves a manager on its own address (port 0: the
/// kernel picks one), then runs `on_a` while host B runs `on_b` with the
/// manager's address; `said_by_lesson` prints what the lesson says between
/// (host A serves, host B has not begun). When host B is done, host A is
/// told, and shuts its manager down. Returns how the hosts were joined.
fn manager_on_a_client_on_b(
    on_a: impl FnOnce(&Manager) + 'static,
    on_b: impl FnOnce(&Host, SocketAddr) + 'static,
    said_by_lesson: impl FnOnce(&Network, SocketAddr),
) -> Network {
    let (mut from_a, a_tells) = channel();
    let (a_listens, mut tell_a) = channel();
    let (b_listens, mut tell_b) = channel();
    let host_a = move |host: &Host| {
        let (mut a_tells, mut a_listens) = (a_tells, a_listens);
        let manager = Manager::serve(SocketAddr::from((host.ip, 0)), KEY).expect("serve");
        let address = manager.tcp_address().expect("served on TCP");
        a_tells.send(&address).expect("tell the lesson");
        on_a(&manager);
        // Until host B is done (or the lesson is gone).
        let _: Result<String, _> = a_listens.recv();
        manager.shutdown().expect("shutdown");
    };
    let host_b = move |host: &Host| {
        let mut b_listens = b_listens;
        let address: SocketAddr = b_listens.recv().expect("the manager's address");
        on_b(host, address);
    };
    let (mut a, mut b, network) = two_hosts(host_a, host_b);
    let address: SocketAddr = from_a.recv().expect("host A serves");
    said_by_lesson(&network, address);
    tell_b.send(&address).expect("tell host B");
    assert_eq!(b.join().expect("host B"), 0, "host B failed");
    tell_a.send("host B is done").expect("tell host A");
    assert_eq!(a.join().expect("host A"), 0, "host A failed");
    network
}

fn a_manager_between_two_hosts() {
    section(
        "A manager on host A, a dict in it used from host B",
        "BaseManager(address=(host, port), authkey=key).start() on A; .connect() on B",
    );
    let host_b = |host: &Host, address: SocketAddr| {
        let wrong = manager::connect(address, [0; 32], Duration::from_secs(5));
        println!(
            "host B with a wrong key: refused: {}",
            matches!(wrong, Err(ManagerError::Refused(_)))
        );
        let remote = connect(address);
        let d = remote.dict::<String>().expect("a dict on host A");
        d.set("greeting", &format!("hello from host B at {}", host.ip))
            .expect("set");
        println!(
            "host B with the key: d[\"greeting\"] = {:?}",
            d.get("greeting").expect("get")
        );
        println!(
            "host B: objects in host A's manager: {}",
            remote.number_of_objects().expect("count")
        );
    };
    manager_on_a_client_on_b(
        |_| {},
        host_b,
        |network, address| {
            println!("{}", network.describe());
            println!("host A serves the manager at tcp:{address}");
        },
    );
    println!("Host B inherited nothing: it dialled an address and proved it knew the key");
    println!("(and host A proved it too). The dict lives on host A, as lesson 06's lived in");
    println!("its server.");
}

// ---------------------------------------------------------------------------
fn a_host_drops_off_mid_call() {
    section(
        "Host B drops off the network in the middle of a call",
        "q.get(timeout=1) through a proxy whose host vanished",
    );
    let (stop_asked, ask_to_stop) = channel();
    let (stopped_said, say_stopped) = channel();
    // On loopback host B has no link of its own to take down: host A's
    // server stops answering instead (SIGSTOP to host A's own child, whose
    // pid cannot be reused while it is unreaped), until host B is done.
    let host_a = move |manager: &Manager| {
        let (mut stop_asked, mut say_stopped) = (stop_asked, say_stopped);
        if let Ok(true) = stop_asked.recv::<bool>() {
            use nix::sys::signal::{Signal, kill};
            let server = nix::unistd::Pid::from_raw(manager.pid().expect("a server"));
            let _ = kill(server, Signal::SIGSTOP);
            say_stopped.send("stopped").expect("tell host B");
            let _: Result<String, _> = stop_asked.recv();
            let _ = kill(server, Signal::SIGCONT);
        }
    };
    let host_b = move |host: &Host, address: SocketAddr| {
        let (mut ask_to_stop, mut stopped_said) = (ask_to_stop, stopped_said);
        let remote = connect(address);
        let q = remote.queue::<u32>(0).expect("a queue on host A");
        q.put(&1, None).expect("put");
        println!(
            "host B: q.get(timeout=1s) -> {:?}",
            q.get(Some(Duration::from_secs(1)))
        );
        match host.drop_off_the_network() {
            Ok(()) => {
                ask_to_stop.send(&false).expect("tell host A");
                println!("host B drops off: its link goes down; not even a FIN crosses now");
            }
            Err(_) => {
                ask_to_stop.send(&true).expect("tell host A");
                let _: String = stopped_said.recv().expect("host A stopped its server");
                println!("host B drops off: on loopback, host A's server is stopped instead");
            }
        }
        let started = Instant::now();
        let outcome = q.get(Some(Duration::from_secs(1)));
        let waited = started.elapsed();
        let unresponsive = matches!(outcome, Err(ManagerError::Unresponsive { .. }));
        println!("host B: q.get(timeout=1s) -> the manager did not answer: {unresponsive}");
        let bound = Duration::from_secs(1) + manager::REPLY_MARGIN;
        println!(
            "  after {waited:.1?}: the timeout and the {:?} margin, then no more: {}",
            manager::REPLY_MARGIN,
            waited >= bound && waited < bound + Duration::from_millis(900)
        );
        // Its connections cannot say goodbye: they end with this process.
        std::mem::forget(q);
        let _ = ask_to_stop.send("done");
    };
    manager_on_a_client_on_b(host_a, host_b, |_, _| {});
    println!("Without a timeout the call would wait for TCP itself to give up: keepalive");
    println!(
        "probes and TCP_USER_TIMEOUT bound that to about {:?} here (Python's sockets,",
        multiproc::connection::PEER_LOSS_BOUND
    );
    println!("without keepalive, wait for hours). Host A's server sets the same keepalive on");
    println!("its side: host B's connection, and any lock it held, does not stay forever.");
}

// ---------------------------------------------------------------------------
/// How long the relay holds each chunk, each way: a round trip takes twice
/// that more.
const DELAY: Duration = Duration::from_millis(2);

/// How many keys section 3 writes.
const KEYS: u32 = 50;

fn round_trips_dominate() {
    section(
        "Round trips dominate: 50 sets against one update of 50 keys, 2 ms away",
        "for k, v in pairs: d[k] = v   vs   d.update(pairs)",
    );
    let host_b = |host: &Host, address: SocketAddr| {
        // The kernel's netem would delay the packets below TCP; this kernel
        // has none, and a relay in host B's path works everywhere.
        let relay = relay::start(SocketAddr::from((host.ip, 0)), address, DELAY);
        println!("delay: a relay process in host B's path holds each chunk {DELAY:?} each way");
        let pairs: Vec<(String, u32)> = (0..KEYS).map(|i| (format!("k{i}"), i)).collect();
        let sets = |d: &DictProxy<u32>| {
            d.set("warm", &0).expect("set"); // the connection is made
            timed(|| {
                for (key, value) in &pairs {
                    d.set(key, value).expect("set");
                }
            })
            .1
        };
        let direct = connect(address).dict::<u32>().expect("a dict on host A");
        let undelayed = sets(&direct);
        println!("{KEYS} sets with no delay added: {undelayed:.1?}");
        let remote = connect(relay.address);
        let d = remote.dict::<u32>().expect("a dict on host A");
        let one_by_one = sets(&d);
        let entries: Vec<(&str, u32)> = pairs.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        let (_, batched) = timed(|| d.update(&entries).expect("update"));
        println!("{KEYS} sets through the relay, one round trip each: {one_by_one:.1?}");
        println!("one update of {KEYS} keys, one round trip: {batched:.1?}");
        let round_trip = DELAY * 2;
        println!(
            "the sets took at least {KEYS} round trips ({:?}): {}",
            round_trip * KEYS,
            one_by_one >= round_trip * KEYS
        );
        println!(
            "the update was over 10x faster: {}",
            batched * 10 < one_by_one
        );
    };
    manager_on_a_client_on_b(|_| {}, host_b, |_, _| {});
    println!("On one machine a round trip costs microseconds, and lesson 06's one request");
    println!("per operation was fine. Across a network each costs the path's delay twice:");
    println!("send many operations in one request (update), or several requests before");
    println!("reading the replies (Redis pipelines), and pay for one round trip.");
}

// ---------------------------------------------------------------------------
/// Sections 4 and 5: a worker that takes a task, says which, and is killed
/// before it finishes. `take` takes one task and returns it.
fn kill_a_worker_holding_a_task(take: impl FnOnce() -> u32) -> u32 {
    let (mut says, tells) = channel();
    let worker = Process::start(move || {
        let mut tells = tells;
        let task = take();
        tells.send(&task).expect("tell the lesson");
        std::thread::sleep(Duration::from_secs(60));
    })
    .expect("fork");
    let held: u32 = says.recv().expect("the worker took a task");
    worker.kill().expect("kill the worker");
    let mut worker = worker;
    worker.join().expect("reap the worker");
    held
}

fn a_killed_worker_and_the_managers_queue() {
    section(
        "A worker killed holding a task: the manager's queue",
        "task = q.get(); ... the worker is killed before it reports",
    );
    let manager = Manager::start().expect("start a manager");
    let q = manager.queue::<u32>(0).expect("a queue");
    for task in 1..=TASKS {
        q.put(&task, None).expect("put");
    }
    let taker = q.clone();
    let held = kill_a_worker_holding_a_task(move || taker.get(None).expect("get"));
    let mut rest = Vec::new();
    while let Ok(task) = q.get(Some(Duration::ZERO)) {
        rest.push(task);
    }
    println!("the killed worker held task {held}; the queue then gave {rest:?}");
    println!(
        "task {held} is gone: every other task came out once, and it never will: {}",
        !rest.contains(&held) && rest.len() as u32 == TASKS - 1
    );
    println!("A queue hands each item out once. A worker that dies holding one loses it:");
    println!("at most once, as lesson 04's queue. Redis says the same of BRPOP (section 5).");
    drop(q);
    manager.shutdown().expect("shutdown");
}

// ---------------------------------------------------------------------------
fn redis(url: &str) -> redis::Connection {
    redis::Client::open(url)
        .and_then(|client| client.get_connection())
        .expect("connect to the lesson's redis-server")
}

fn run_tasks(con: &mut redis::Connection, take: impl Fn(&mut redis::Connection) -> Option<u32>) {
    while let Some(task) = take(con) {
        let _: i64 = redis::cmd("HINCRBY")
            .arg("runs")
            .arg(task)
            .arg(1)
            .query(con)
            .expect("HINCRBY");
        let _: i64 = redis::cmd("HSET")
            .arg("results")
            .arg(task)
            .arg(task * task)
            .query(con)
            .expect("HSET");
        let _: i64 = redis::cmd("LREM")
            .arg("processing")
            .arg(1)
            .arg(task)
            .query(con)
            .expect("LREM");
    }
}

fn fill(con: &mut redis::Connection) {
    let _: () = redis::cmd("DEL")
        .arg("tasks")
        .arg("processing")
        .arg("runs")
        .arg("results")
        .query(con)
        .expect("DEL");
    for task in 1..=TASKS {
        let _: i64 = redis::cmd("LPUSH")
            .arg("tasks")
            .arg(task)
            .query(con)
            .expect("LPUSH");
    }
}

fn report(con: &mut redis::Connection, held: u32) -> (usize, i64) {
    let results: std::collections::BTreeMap<u32, u32> = redis::cmd("HGETALL")
        .arg("results")
        .query(con)
        .expect("HGETALL");
    let runs: std::collections::BTreeMap<u32, i64> = redis::cmd("HGETALL")
        .arg("runs")
        .query(con)
        .expect("HGETALL");
    let total: u32 = results.values().sum();
    println!(
        "  results: {} of {TASKS}, their sum {total}; runs in all: {}",
        results.len(),
        runs.values().sum::<i64>()
    );
    (results.len(), runs.get(&held).copied().unwrap_or(0))
}

fn at_most_once_and_at_least_once(url: &str) {
    section(
        "A worker killed holding a task: Redis, BRPOP then BLMOVE",
        "r.brpop('tasks'); r.blmove('tasks', 'processing', ...) and a reaper",
    );
    println!("(a redis-server of the lesson's own, on a loopback port, with a password)");
    let mut con = redis(url);
    // BRPOP: the task leaves the list as the worker takes it.
    fill(&mut con);
    let held = kill_a_worker_holding_a_task({
        let url = url.to_string();
        move || {
            let mut con = redis(&url);
            let (_, task): (String, u32) = redis::cmd("BRPOP")
                .arg("tasks")
                .arg(1)
                .query(&mut con)
                .expect("BRPOP");
            let _: i64 = redis::cmd("HINCRBY")
                .arg("runs")
                .arg(task)
                .arg(1)
                .query(&mut con)
                .expect("HINCRBY");
            task
        }
    });
    run_tasks(&mut con, |con| {
        redis::cmd("RPOP").arg("tasks").query(con).expect("RPOP")
    });
    println!("BRPOP: the killed worker held task {held}; another worker ran the rest");
    let (results, _) = report(&mut con, held);
    println!(
        "  task {held} was lost (at most once): {}",
        results as u32 == TASKS - 1
    );
    // BLMOVE: the task moves to a processing list, and leaves it when done.
    fill(&mut con);
    let held = kill_a_worker_holding_a_task({
        let url = url.to_string();
        move || {
            let mut con = redis(&url);
            let task: u32 = redis::cmd("BLMOVE")
                .arg("tasks")
                .arg("processing")
                .arg("RIGHT")
                .arg("LEFT")
                .arg(1)
                .query(&mut con)
                .expect("BLMOVE");
            let _: i64 = redis::cmd("HINCRBY")
                .arg("runs")
                .arg(task)
                .arg(1)
                .query(&mut con)
                .expect("HINCRBY");
            task
        }
    });
    // The reaper: the worker is dead, so what it left in `processing` goes back.
    let mut returned = 0;
    while let Some(_task) = redis::cmd("LMOVE")
        .arg("processing")
        .arg("tasks")
        .arg("RIGHT")
        .arg("RIGHT")
        .query::<Option<u32>>(&mut con)
        .expect("LMOVE")
    {
        returned += 1;
    }
    run_tasks(&mut con, |con| {
        redis::cmd("LMOVE")
            .arg("tasks")
            .arg("processing")
            .arg("RIGHT")
            .arg("LEFT")
            .query(con)
            .expect("LMOVE")
    });
    println!("BLMOVE: the killed worker held task {held}; the reaper put {returned} back");
    let (results, runs_of_held) = report(&mut con, held);
    println!(
        "  every task has its result (at least once): {}; task {held} ran twice: {}",
        results as u32 == TASKS,
        runs_of_held == 2
    );
    println!("A result written by task number (HSET results n n*n) is the same however");
    println!("often it is written: an idempotent result keeps a task run twice harmless.");
}

// ---------------------------------------------------------------------------
fn in_two_processes(url: &str, body: fn(&mut redis::Connection) -> i64) -> i64 {
    let mut extra = 0;
    let children: Vec<(Process, RecvEnd)> = (0..2)
        .map(|_| {
            let (says, tells) = channel();
            let url = url.to_string();
            let child = Process::start(move || {
                let mut tells = tells;
                let mut con = redis(&url);
                let count = body(&mut con);
                tells.send(&count).expect("tell the lesson");
            })
            .expect("fork");
            (child, says)
        })
        .collect();
    for (mut child, mut says) in children {
        extra += says.recv::<i64>().expect("a child's count");
        assert_eq!(child.join().expect("waitpid"), 0, "a child failed");
    }
    extra
}

fn count_of(url: &str) -> i64 {
    let value: Option<i64> = redis::cmd("HGET")
        .arg("counts")
        .arg("n")
        .query(&mut redis(url))
        .expect("HGET");
    value.unwrap_or(0)
}

fn the_lost_update_and_two_fixes(url: &str) {
    section(
        "2 processes x 1000 times n = n + 1 on a Redis hash; HINCRBY; WATCH/MULTI",
        "r.hset('counts', 'n', int(r.hget('counts', 'n')) + 1); r.hincrby(); pipe.watch()",
    );
    let reset = |url: &str| {
        let _: () = redis::cmd("DEL")
            .arg("counts")
            .query(&mut redis(url))
            .expect("DEL");
    };
    reset(url);
    in_two_processes(url, |con| {
        for _ in 0..INCREMENTS {
            let n: Option<i64> = redis::cmd("HGET")
                .arg("counts")
                .arg("n")
                .query(con)
                .expect("HGET");
            let _: i64 = redis::cmd("HSET")
                .arg("counts")
                .arg("n")
                .arg(n.unwrap_or(0) + 1)
                .query(con)
                .expect("HSET");
        }
        0
    });
    let n = count_of(url);
    println!(
        "HGET then HSET: n = {n}; fewer than {}: updates were lost: {}",
        2 * INCREMENTS,
        n < 2 * INCREMENTS
    );
    reset(url);
    in_two_processes(url, |con| {
        for _ in 0..INCREMENTS {
            let _: i64 = redis::cmd("HINCRBY")
                .arg("counts")
                .arg("n")
                .arg(1)
                .query(con)
                .expect("HINCRBY");
        }
        0
    });
    let n = count_of(url);
    println!(
        "HINCRBY, in the server: n = {n}, exactly {}: {}",
        2 * INCREMENTS,
        n == 2 * INCREMENTS
    );
    reset(url);
    let retries = in_two_processes(url, |con| {
        let mut retries = 0;
        for _ in 0..INCREMENTS {
            loop {
                let _: () = redis::cmd("WATCH").arg("counts").query(con).expect("WATCH");
                let n: Option<i64> = redis::cmd("HGET")
                    .arg("counts")
                    .arg("n")
                    .query(con)
                    .expect("HGET");
                let done: Option<(i64,)> = redis::pipe()
                    .atomic()
                    .cmd("HSET")
                    .arg("counts")
                    .arg("n")
                    .arg(n.unwrap_or(0) + 1)
                    .query(con)
                    .expect("EXEC");
                if done.is_some() {
                    break;
                }
                retries += 1;
            }
        }
        retries
    });
    let n = count_of(url);
    println!(
        "WATCH, HGET, MULTI, HSET, EXEC, again if EXEC says nil: n = {n}, exactly {}: {}",
        2 * INCREMENTS,
        n == 2 * INCREMENTS
    );
    println!("  EXEC refused and the increment was retried {retries} times");
    println!("Lesson 06's fixes, on a real engine: an operation the server does whole (the");
    println!("manager's add, Redis's HINCRBY), or compare-and-swap: WATCH makes EXEC fail if");
    println!("another client changed the key since, and the loser reads again.");
}
