//! `--tags`/`--skip-tags` selection with Ansible's special tags.

use std::collections::BTreeSet;

/// Which tasks run, by tag.
#[derive(Debug, Clone, Default)]
pub struct TagFilter {
    only: BTreeSet<String>,
    skip: BTreeSet<String>,
}

impl TagFilter {
    /// A filter from `--tags` and `--skip-tags` values (comma-separated lists allowed).
    pub fn new<'a>(
        only: impl IntoIterator<Item = &'a str>,
        skip: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let split = |items: &mut dyn Iterator<Item = &'a str>| -> BTreeSet<String> {
            items
                .flat_map(|item| item.split(','))
                .map(str::trim)
                .filter(|tag| !tag.is_empty())
                .map(str::to_string)
                .collect()
        };
        Self {
            only: split(&mut only.into_iter()),
            skip: split(&mut skip.into_iter()),
        }
    }

    /// `ansible_run_tags`: the `--tags` asked for, `["all"]` when none were.
    pub fn run_tags(&self) -> Vec<String> {
        if self.only.is_empty() {
            vec!["all".to_string()]
        } else {
            self.only.iter().cloned().collect()
        }
    }

    /// `ansible_skip_tags`: the `--skip-tags` asked for.
    pub fn skip_tags(&self) -> Vec<String> {
        self.skip.iter().cloned().collect()
    }

    /// True when a task with these tags should run.
    ///
    /// `always` runs unless skipped by name, `never` runs only when asked for by name,
    /// `tagged`/`untagged`/`all` select as in Ansible.
    pub fn should_run(&self, tags: &BTreeSet<String>) -> bool {
        let has = |tag: &str| tags.contains(tag);
        let selected = if self.only.is_empty() || self.only.contains("all") {
            !has("never") || self.only.iter().any(|t| t != "all" && has(t))
        } else {
            has("always")
                || self.only.iter().any(|t| has(t))
                || (self.only.contains("tagged") && !tags.is_empty())
                || (self.only.contains("untagged") && tags.is_empty())
        };
        let skipped = self.skip.iter().any(|t| has(t))
            || (self.skip.contains("tagged") && !tags.is_empty())
            || (self.skip.contains("untagged") && tags.is_empty());
        selected && !skipped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn no_filter_runs_everything_but_never() {
        let filter = TagFilter::new([], []);
        assert!(filter.should_run(&tags(&[])));
        assert!(filter.should_run(&tags(&["x"])));
        assert!(!filter.should_run(&tags(&["never"])));
    }

    #[test]
    fn only_selects_tagged_tasks_and_always() {
        let filter = TagFilter::new(["patch,reboot"], []);
        assert!(filter.should_run(&tags(&["patch"])));
        assert!(filter.should_run(&tags(&["always"])));
        assert!(!filter.should_run(&tags(&["report"])));
        assert!(!filter.should_run(&tags(&[])));
        assert!(filter.should_run(&tags(&["never", "reboot"])));
    }

    #[test]
    fn skip_wins_and_can_skip_always() {
        let filter = TagFilter::new([], ["reboot", "always"]);
        assert!(!filter.should_run(&tags(&["reboot"])));
        assert!(!filter.should_run(&tags(&["always"])));
        assert!(filter.should_run(&tags(&["patch"])));
    }

    #[test]
    fn tagged_and_untagged_select_by_presence() {
        assert!(TagFilter::new(["untagged"], []).should_run(&tags(&[])));
        assert!(!TagFilter::new(["untagged"], []).should_run(&tags(&["x"])));
        assert!(TagFilter::new(["tagged"], []).should_run(&tags(&["x"])));
    }
}
