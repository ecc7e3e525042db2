//! The keywords rpatch understands in plays, tasks, blocks and roles.

/// Keys allowed on a play.
pub const PLAY_KEYS: &[&str] = &[
    "name",
    "hosts",
    "vars",
    "vars_files",
    "vars_prompt",
    "gather_facts",
    "pre_tasks",
    "tasks",
    "post_tasks",
    "handlers",
    "roles",
    "collections",
    "become",
    "become_user",
    "become_method",
    "become_flags",
    "environment",
    "tags",
    "any_errors_fatal",
    "force_handlers",
    "ignore_errors",
    "ignore_unreachable",
    "no_log",
    "check_mode",
    "diff",
    "connection",
    "remote_user",
    // Ansible's old name of `remote_user` on plays, still accepted by ansible-core.
    "user",
    "serial",
    "max_fail_percentage",
    "max_unreachable_percentage",
    "order",
    "shuffle_seed",
    "max_unavailable",
    "window",
    "gates",
    "notifications",
    "preflight_gates",
    "on_gate_failure",
    "stages",
    "promote_after",
    "rollback",
    "discover",
    "strategy",
];

/// Keywords shared by tasks and blocks (everything that is inherited).
pub const INHERITED_KEYS: &[&str] = &[
    "name",
    "when",
    "tags",
    "become",
    "become_user",
    "become_method",
    "become_flags",
    "environment",
    "ignore_errors",
    "ignore_unreachable",
    "no_log",
    "check_mode",
    "diff",
    "delegate_to",
    "run_once",
    "any_errors_fatal",
    "vars",
    "notify",
    "throttle",
];

/// Keywords only tasks have (besides the action).
pub const TASK_ONLY_KEYS: &[&str] = &[
    "loop",
    "with_items",
    "with_list",
    "with_flattened",
    "with_dict",
    "with_indexed_items",
    "with_together",
    "with_nested",
    "with_cartesian",
    "with_subelements",
    "with_sequence",
    "with_fileglob",
    "with_first_found",
    "with_lines",
    "with_random_choice",
    "loop_control",
    "register",
    "changed_when",
    "failed_when",
    "until",
    "retries",
    "delay",
    "args",
    "listen",
    "async",
    "poll",
];

/// Keywords only blocks have.
pub const BLOCK_ONLY_KEYS: &[&str] = &["block", "rescue", "always"];

/// Keys of `loop_control`.
pub const LOOP_CONTROL_KEYS: &[&str] = &["loop_var", "index_var", "label", "pause", "extended"];

/// Actions that are not modules.
pub const INCLUDE_ACTIONS: &[&str] = &[
    "include_tasks",
    "import_tasks",
    "include_role",
    "import_role",
];

/// True if `key` is a task keyword (not an action).
pub fn is_task_keyword(key: &str) -> bool {
    INHERITED_KEYS.contains(&key) || TASK_ONLY_KEYS.contains(&key)
}

/// Strips `ansible.builtin.`/`ansible.legacy.` from an action (or become plugin) name.
pub fn short_action(name: &str) -> &str {
    name.strip_prefix("ansible.builtin.")
        .or_else(|| name.strip_prefix("ansible.legacy."))
        .unwrap_or(name)
}
