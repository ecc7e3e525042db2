//! Maintenance windows end to end on the nights clocks change, with the clock fixed by
//! `RPATCH_NOW`: what `plan` says and whether `run` starts a batch.

use crate::support::Project;

/// Four local hosts.
const HOSTS: &str = "[kvm]\nkvm[1:4] ansible_connection=local\n";

/// A play in Berlin's Sunday-night window, which starts inside the hour repeated on 2026-10-25.
const PLAY: &str = "- hosts: kvm\n  gather_facts: false\n  serial: 2\n  window: \"Sun 02:30-04:00 Europe/Berlin\"\n  tasks:\n    - shell: echo {{ inventory_hostname }} >> {dir}/order\n";

fn at(now: &str) -> Project {
    Project::new()
        .file("hosts.ini", HOSTS)
        .playbook(PLAY)
        .env("RPATCH_NOW", now)
}

#[test]
fn plan_on_the_autumn_night_says_the_window_opens_when_the_repeated_hour_reaches_its_start() {
    // 01:00Z is 02:00 CET, the second 02:00 of the night: 02:30 CET (01:30Z) is half an hour off.
    let output = at("2026-10-25T01:00:00Z").rpatch(&["plan", "site.yml", "-i", "hosts.ini"]);
    output.expect_code(0);
    assert!(
        output.stdout.contains(
            "window: Sun 02:30-04:00 Europe/Berlin (closed now, opens 2026-10-25T02:30:00+01:00[Europe/Berlin] (2026-10-25T01:30:00Z))"
        ),
        "{}",
        output.stdout
    );
    // 00:45Z is 02:45 CEST, inside the first occurrence.
    let output = at("2026-10-25T00:45:00Z").rpatch(&["plan", "site.yml", "-i", "hosts.ini"]);
    assert!(
        output
            .stdout
            .contains("window: Sun 02:30-04:00 Europe/Berlin (open now)"),
        "{}",
        output.stdout
    );
}

#[test]
fn run_on_the_autumn_night_waits_half_an_hour_not_a_week() {
    // The whole stretch the issue names, 01:00-01:29Z (02:00-02:29 CET, the second time round).
    for now in ["2026-10-25T01:00:00Z", "2026-10-25T01:29:00Z"] {
        let closed = at(now);
        let output = closed.run(&["-i", "hosts.ini"]);
        output.expect_code(7);
        assert!(!closed.exists("order"), "no batch may start at {now}");
        assert!(
            output
                .stdout
                .contains("The window opens next at 2026-10-25T01:30:00Z"),
            "{now}: {}",
            output.stdout
        );
        let plan = at(now).rpatch(&["plan", "site.yml", "-i", "hosts.ini"]);
        plan.expect_code(0);
        assert!(
            plan.stdout.contains("(2026-10-25T01:30:00Z)"),
            "{now}: {}",
            plan.stdout
        );
    }
    let open = at("2026-10-25T01:30:00Z");
    open.run(&["-i", "hosts.ini"]).expect_code(0);
    assert_eq!(open.read("order").lines().count(), 4);
}

#[test]
fn run_on_the_spring_night_opens_at_the_end_of_the_gap() {
    // 2026-03-29: 02:00 CET -> 03:00 CEST at 01:00Z; 02:30 never shows, 03:00 CEST does.
    let before = at("2026-03-29T00:59:00Z").run(&["-i", "hosts.ini"]);
    before.expect_code(7);
    assert!(
        before
            .stdout
            .contains("The window opens next at 2026-03-29T01:00:00Z"),
        "{}",
        before.stdout
    );
    at("2026-03-29T01:00:00Z")
        .run(&["-i", "hosts.ini"])
        .expect_code(0);
}

#[test]
fn a_clock_that_is_not_an_instant_is_refused_before_anything_runs() {
    let project = at("next sunday");
    let output = project.run(&["-i", "hosts.ini"]);
    output.expect_code(5);
    assert!(
        output
            .stderr
            .contains("RPATCH_NOW=`next sunday` is not an instant"),
        "{}",
        output.stderr
    );
    assert!(!project.exists("order"));
}
