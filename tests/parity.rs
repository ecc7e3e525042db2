//! The same inventory and playbook give ansible-playbook's recorded recap under rpatch.

use crate::support::{Project, Recap};

#[test]
fn recap_counts_match_the_recorded_ansible_playbook_run() {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/parity");
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture.join("expected-recap.json")).expect("fixture"),
    )
    .expect("json");
    let project = Project::new()
        .file(
            "inventory.ini",
            &std::fs::read_to_string(fixture.join("inventory.ini")).expect("inventory"),
        )
        .file(
            "site.yml",
            &std::fs::read_to_string(fixture.join("playbook.yml")).expect("playbook"),
        )
        .file("work/.keep", "");
    let workdir = format!("workdir={}", project.join("work").display());
    let output = project.run(&["-i", "inventory.ini", "-e", &workdir]);
    output.expect_code(expected["exit_code"].as_i64().expect("exit code") as i32);
    let hosts = expected["hosts"].as_object().expect("hosts");
    let recap = output.recap();
    assert_eq!(recap.len(), hosts.len(), "{}", output.stdout);
    for (host, counts) in hosts {
        let count = |key: &str| counts[key].as_u64().expect("count") as u32;
        let want = Recap {
            ok: count("ok"),
            changed: count("changed"),
            unreachable: count("unreachable"),
            failed: count("failed"),
            skipped: count("skipped"),
            rescued: count("rescued"),
            ignored: count("ignored"),
        };
        assert_eq!(
            recap[host], want,
            "recap of {host} differs from ansible-playbook's\n{}",
            output.stdout
        );
    }
    assert!(project.exists("work/web01.txt") && !project.exists("work/db01.txt"));
}
