//! The crate's scenarios: one test target with `harness = false`, so that
//! `main` is ours and single-threaded, and a scenario may fork.
//!
//! Run without arguments (as `cargo test` does), `main` runs each scenario
//! in a fresh copy of this very binary (`--scenario NAME`) under
//! `harness::runner`: its own process group, stdin closed, a 90 s timeout
//! that kills the group (the largest scenarios move 64 MiB through a debug
//! build), and a check that nothing is left behind. Each
//! scenario asserts where it runs; a failed assert ends its copy with a
//! non-zero status, and the panic message shows in its output. The binary is
//! also its own target for `Process::spawn`, which is why `main` starts with
//! `multiproc::init()` (procspawn's trick, without the dependency).
//!
//! `cargo test -p multiproc --test scenarios -- queue` runs the scenarios
//! whose name contains `queue`.

mod manager;
mod manager_hostile;
mod manager_refs;
mod net;
mod net_manager;
mod pipe;
mod pool;
mod process;
mod queue;
mod sync;

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Every scenario, by name.
const SCENARIOS: &[(&str, fn())] = &[
    ("exitcodes", process::exitcodes_follow_pythons_convention),
    (
        "join-timeout",
        process::join_timeout_returns_by_its_deadline,
    ),
    ("run-trait", process::the_run_trait_runs_in_a_child),
    ("fork-refused", process::fork_is_refused_while_threads_exist),
    ("spawn", process::spawn_runs_the_function_in_a_fresh_program),
    (
        "spawn-without-init",
        process::a_spawned_child_without_init_is_refused,
    ),
    (
        "drop-kills",
        process::dropping_a_running_process_kills_and_reaps_it,
    ),
    ("duration-max", process::duration_max_is_no_deadline),
    (
        "pid-reused-by-a-stranger",
        process::a_reaped_childs_pid_reused_by_a_stranger_is_left_alone,
    ),
    (
        "join-sees-the-end-through-helpers",
        process::join_sees_a_child_end_whatever_its_helpers_hold,
    ),
    (
        "daemon-dies-with-parent",
        process::a_daemon_dies_with_its_parent,
    ),
    (
        "orphan-sees-parent-gone",
        process::an_orphan_sees_its_parent_gone,
    ),
    ("pool-errors", pool::a_panicking_task_gives_its_message),
    (
        "pool-worker-killed",
        pool::a_killed_worker_fails_its_task_and_is_replaced,
    ),
    (
        "pool-orders",
        pool::imap_keeps_submission_order_and_imap_unordered_does_not,
    ),
    ("pool-join-before-close", pool::join_is_refused_before_close),
    (
        "late-child-does-not-hold-pool",
        pool::a_later_child_does_not_keep_workers_alive,
    ),
    (
        "pool-large-args-and-results",
        pool::large_arguments_and_results_never_deadlock,
    ),
    (
        "pool-workers-run-before-tasks",
        pool::every_worker_runs_before_the_pool_is_returned,
    ),
    (
        "pool-first-free-worker",
        pool::the_next_task_goes_to_the_first_free_worker,
    ),
    (
        "pool-oversize-argument",
        pool::an_oversize_argument_is_refused_at_submit,
    ),
    ("pool-endless-imap", pool::imap_streams_an_endless_input),
    (
        "pool-imap-reads-as-it-goes",
        pool::imap_reads_its_input_as_the_results_are_taken,
    ),
    (
        "pool-helper-holds-socket",
        pool::a_worker_death_is_seen_even_if_a_helper_holds_its_socket,
    ),
    (
        "pool-terminate-escalates",
        pool::terminate_does_not_wait_for_a_task_that_ignores_sigterm,
    ),
    (
        "pool-inherited-by-child",
        pool::a_child_cannot_use_an_inherited_pool,
    ),
    (
        "pool-oversize-result",
        pool::an_oversize_result_is_an_error_not_a_death,
    ),
    (
        "pool-imap-failing-item",
        pool::imap_yields_what_came_before_a_failing_item,
    ),
    (
        "spawn-key-not-in-environ",
        manager_hostile::a_spawned_childs_key_is_in_no_environment,
    ),
    (
        "manager-stopped-server-deadline",
        manager_hostile::a_timed_call_to_a_stopped_server_returns_by_its_deadline,
    ),
    (
        "manager-eintr",
        manager_hostile::manager_start_survives_a_timer_without_sa_restart,
    ),
    (
        "queue-mpmc",
        queue::every_item_exactly_once_to_many_consumers,
    ),
    ("queue-limits", queue::bounded_with_timeouts_that_hold),
    (
        "queue-ring-wraps",
        queue::items_stay_whole_as_the_ring_wraps,
    ),
    (
        "queue-consumer-killed",
        queue::a_killed_consumer_does_not_hang_a_put_timeout,
    ),
    (
        "queue-writer-killed-mid-item",
        queue::a_writer_killed_mid_item_loses_only_that_item,
    ),
    (
        "queue-killed-anywhere",
        queue::a_process_killed_anywhere_loses_at_most_its_item,
    ),
    (
        "queue-killed-while-waiting",
        queue::a_process_killed_while_waiting_breaks_nothing,
    ),
    (
        "queue-put-timeout-any-size",
        queue::put_timeout_returns_by_its_deadline_whatever_the_size,
    ),
    (
        "queue-new-fails-cleanly",
        queue::a_failed_queue_new_leaks_nothing,
    ),
    ("pipe-basics", pipe::message_boundaries_and_ends),
    ("pipe-eof", pipe::eof_is_told_from_waiting),
    (
        "pipe-grows-for-large-messages",
        pipe::a_large_message_grows_a_one_way_pipe,
    ),
    ("pipe-bad-frames", pipe::bad_frames_give_clear_errors),
    ("manager-basics", manager::dicts_queues_locks_and_cleanup),
    (
        "manager-frees-dropped-objects",
        manager_refs::dropped_objects_are_freed,
    ),
    ("manager-refs-clone", manager_refs::a_clone_keeps_its_object),
    (
        "manager-refs-fork",
        manager_refs::a_forked_copy_keeps_its_object,
    ),
    (
        "manager-refs-message",
        manager_refs::a_proxy_in_a_message_keeps_its_object,
    ),
    (
        "manager-refs-killed-holder",
        manager_refs::a_killed_holder_lets_go,
    ),
    (
        "manager-bad-clients",
        manager::bad_clients_lose_only_their_connection,
    ),
    (
        "manager-killed",
        manager::a_killed_server_fails_every_call_within_a_second,
    ),
    (
        "manager-lock-holder-dies",
        manager::a_lock_whose_holder_dies_is_released,
    ),
    (
        "manager-inherited-proxy-dropped",
        manager::dropping_an_inherited_proxy_closes_nothing_of_the_child,
    ),
    (
        "manager-foreign-client",
        manager_hostile::a_foreign_client_is_refused,
    ),
    (
        "manager-owner-killed",
        manager_hostile::the_server_cleans_up_when_its_owner_dies,
    ),
    (
        "manager-holds-no-owner-fds",
        manager_hostile::the_server_holds_none_of_its_owners_descriptors,
    ),
    (
        "manager-failed-start",
        manager_hostile::a_failed_start_leaves_no_directory,
    ),
    (
        "manager-out-of-threads",
        manager_hostile::out_of_threads_refuses_one_connection_only,
    ),
    (
        "manager-out-of-descriptors",
        manager_hostile::out_of_descriptors_waits_without_spinning,
    ),
    (
        "out-of-descriptors-names-the-call",
        manager_hostile::out_of_descriptors_names_the_call,
    ),
    (
        "manager-impostor",
        manager_hostile::a_server_without_the_key_is_not_talked_to,
    ),
    (
        "manager-oversize-reply",
        manager_hostile::an_oversize_reply_is_an_error_not_a_dead_server,
    ),
    ("pipe-oversize-send", pipe::an_oversize_send_says_so),
    (
        "sizes-the-kernel-refuses",
        process::sizes_the_kernel_refuses_are_explained,
    ),
    ("manager-other-uid", manager::another_user_cannot_get_in),
    (
        "sync-lock-holder-dies",
        sync::a_lock_whose_holder_dies_is_taken_over,
    ),
    ("sync-values", sync::values_count_exactly_under_their_lock),
    ("sync-semaphore", sync::a_semaphore_holds_its_limit),
    ("sync-event", sync::an_event_releases_every_waiter),
    ("sync-barrier", sync::a_barrier_lets_its_parties_go_together),
    ("sync-shared-memory", sync::shared_memory_is_found_by_name),
    (
        "net-key-both-ways",
        net::a_client_with_the_key_is_served_and_one_without_is_refused,
    ),
    ("net-strangers", net::strangers_fail_only_their_own_accept),
    (
        "net-manager-over-tcp",
        net_manager::a_client_with_the_key_shares_objects_over_tcp,
    ),
    (
        "net-manager-strangers",
        net_manager::a_stalled_stranger_holds_up_nobody,
    ),
    (
        "net-manager-thousand-strangers",
        net_manager::a_thousand_silent_connections_hold_up_nobody,
    ),
    ("net-deadlines", net::every_wait_keeps_its_deadline),
    (
        "net-no-key-beyond-loopback",
        net::serving_the_network_without_a_key_is_refused,
    ),
    (
        "net-vanished-peer",
        net::a_vanished_peer_is_noticed_within_the_bound,
    ),
];

/// Programs that scenarios run, not scenarios themselves.
const HELPERS: &[(&str, fn())] = &[("foreign-client", manager_hostile::foreign_client)];

/// The exit status of a scenario that could not run here (not root, ...).
const SKIPPED: i32 = 77;

fn main() -> ExitCode {
    if std::env::var_os("SCENARIO_SKIP_INIT").is_none() {
        multiproc::init();
    } else if std::env::var_os("MULTIPROC_SPAWN").is_some() {
        process::spawned_without_init();
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, name] = args.as_slice()
        && flag == "--scenario"
    {
        return run_one(name);
    }
    // Arguments from `cargo test` that start with `-` (`--nocapture`, ...)
    // are no business of ours; the others filter by name.
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    run_all(&filters)
}

/// In the copy: runs one scenario; a failed assert panics, status 101.
fn run_one(name: &str) -> ExitCode {
    match SCENARIOS.iter().chain(HELPERS).find(|(n, _)| *n == name) {
        Some((_, scenario)) => {
            scenario();
            ExitCode::SUCCESS
        }
        None => {
            eprintln!("unknown scenario `{name}`");
            ExitCode::from(2)
        }
    }
}

/// In the parent: runs every selected scenario in a copy of this binary.
fn run_all(filters: &[&String]) -> ExitCode {
    let me = std::env::current_exe().expect("the test binary's path");
    let chosen: Vec<_> = SCENARIOS
        .iter()
        .filter(|(name, _)| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str())))
        .collect();
    println!("\nrunning {} scenarios", chosen.len());
    let started = Instant::now();
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for (name, _) in &chosen {
        match run_copy(&me, name) {
            Ok(true) => {
                println!("scenario {name} ... ok");
                passed += 1;
            }
            Ok(false) => {
                println!("scenario {name} ... skipped (see its output above)");
                skipped += 1;
            }
            Err(why) => {
                println!("scenario {name} ... FAILED\n{why}");
                failed += 1;
            }
        }
    }
    let verdict = if failed == 0 { "ok" } else { "FAILED" };
    println!(
        "\ntest result: {verdict}. {passed} passed; {failed} failed; {skipped} ignored; 0 measured; {} filtered out; finished in {:.2}s\n",
        SCENARIOS.len() - chosen.len(),
        started.elapsed().as_secs_f64()
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Runs scenario `name` in a copy: `Ok(true)` passed, `Ok(false)` skipped.
fn run_copy(me: &Path, name: &str) -> Result<bool, String> {
    let args = ["--scenario".to_string(), name.to_string()];
    let run = harness::runner::run(me, &args, Duration::from_secs(90))
        .map_err(|e| format!("could not start {}: {e}", me.display()))?;
    let output = format!("--- stdout\n{}--- stderr\n{}", run.stdout, run.stderr);
    if run.timed_out {
        return Err(format!("hung: killed after {:?}\n{output}", run.timeout));
    }
    if !run.leaked.is_empty() {
        return Err(format!("left processes behind: {:?}\n{output}", run.leaked));
    }
    match run.exit {
        0 => Ok(true),
        SKIPPED => {
            print!("{}", run.stdout);
            Ok(false)
        }
        code => Err(format!("exit status {code}\n{output}")),
    }
}

/// Ends a scenario that cannot run on this machine, with the reason.
fn skip(why: &str) -> ! {
    println!("skipped: {why}");
    std::process::exit(SKIPPED);
}

/// Milliseconds since `start`, for the messages of timing asserts.
fn ms_since(start: Instant) -> u128 {
    start.elapsed().as_millis()
}

/// Sleeps `ms` milliseconds and returns it: a task of known length.
fn sleep_ms(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}
