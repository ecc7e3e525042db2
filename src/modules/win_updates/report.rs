//! Reading the worker's report (see [`super::scripts`]) into `win_updates`' result, in the
//! shape Ansible's `ansible.windows.win_updates` registers: `updates` and `filtered_updates`
//! keyed by update id, `found_update_count`, `installed_update_count`,
//! `failed_update_count`, `reboot_required`, and HRESULTs as the hex Windows prints.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::super::ModuleResult;

/// One update as the worker describes it (`IUpdate` and, after an operation, its
/// `IUpdateDownloadResult`/`IUpdateInstallationResult`).
#[derive(Debug, Clone, Deserialize)]
pub(super) struct Entry {
    id: String,
    title: String,
    #[serde(default)]
    kb: Vec<String>,
    #[serde(default)]
    categories: Vec<String>,
    #[serde(default)]
    downloaded: bool,
    /// `OperationResultCode`: 2 succeeded, 3 succeeded with errors, 4 failed, 5 aborted.
    #[serde(default)]
    result_code: Option<i64>,
    #[serde(default)]
    hresult: Option<i64>,
    /// `download` or `install`, for a failure.
    #[serde(default)]
    phase: Option<String>,
    #[serde(default)]
    filtered_reason: Option<String>,
}

/// The worker's report.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct Report {
    #[serde(default)]
    found: Vec<Entry>,
    #[serde(default)]
    filtered: Vec<Entry>,
    #[serde(default)]
    downloaded: Vec<Entry>,
    #[serde(default)]
    installed: Vec<Entry>,
    #[serde(default)]
    failed: Vec<Entry>,
    #[serde(default)]
    pub reboot_required: bool,
    /// The exception that stopped the worker (a search that could not reach WSUS, say).
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    hresult: Option<i64>,
    /// The host's release key (`windows-10.0.20348`), in reports that carry it.
    #[serde(default)]
    pub os: Option<String>,
    /// With `baseline`: the baseline has no updates for the host's release.
    #[serde(default)]
    pub baseline_os_missing: bool,
}

/// An update in the result.
#[derive(Debug, Serialize)]
struct UpdateOut {
    id: String,
    title: String,
    kb: Vec<String>,
    categories: Vec<String>,
    downloaded: bool,
    installed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_hresult_code: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_hresult: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_phase: Option<String>,
}

/// A filtered-out update in the result.
#[derive(Debug, Serialize)]
struct FilteredOut {
    id: String,
    title: String,
    kb: Vec<String>,
    categories: Vec<String>,
    filtered_reason: String,
}

/// The registered fields.
#[derive(Debug, Serialize)]
struct Outcome {
    updates: BTreeMap<String, UpdateOut>,
    filtered_updates: BTreeMap<String, FilteredOut>,
    found_update_count: usize,
    downloaded_update_count: usize,
    installed_update_count: usize,
    failed_update_count: usize,
    reboot_required: bool,
    rebooted: bool,
}

/// An HRESULT as Windows prints it: `0x80070643`.
pub(super) fn hex(hresult: i64) -> String {
    format!("0x{:08X}", hresult as u32)
}

impl Report {
    /// Parses the worker's JSON.
    pub(super) fn parse(json: &serde_json::Value) -> Result<Self, String> {
        serde_json::from_value(json.clone())
            .map_err(|e| format!("unreadable win_updates report `{json}`: {e}"))
    }

    /// The updates that would be installed (for check mode and `searched`).
    pub(super) fn found_count(&self) -> usize {
        self.found.len()
    }

    /// Whether anything was installed.
    pub(super) fn installed_any(&self) -> bool {
        !self.installed.is_empty()
    }

    /// What a real run installed, for the run's baseline: KB id (`KB5034441`) → update id,
    /// under the host's release key; `None` without either.
    pub(super) fn installed_record(&self) -> Option<crate::baseline::BaselineRecord> {
        let os = self.os.clone().filter(|os| !os.is_empty())?;
        let packages: std::collections::BTreeMap<String, String> = self
            .installed
            .iter()
            .flat_map(|entry| entry.kb.iter().map(|kb| (format!("KB{kb}"), entry.id.clone())))
            .collect();
        (!packages.is_empty()).then_some(crate::baseline::BaselineRecord { os, packages })
    }

    /// Whether anything failed.
    pub(super) fn failed_any(&self) -> bool {
        !self.failed.is_empty() || self.error.is_some()
    }

    /// The task's result. `changed` when anything was downloaded or installed, or, in check
    /// mode (`would_change`), would be; failed on a worker error or any failed update, naming
    /// each with its KB and HRESULT.
    pub(super) fn outcome(&self, would_change: bool, rebooted: bool) -> ModuleResult {
        let mut updates = BTreeMap::new();
        for entry in &self.found {
            let done = |list: &[Entry]| list.iter().any(|e| e.id == entry.id);
            let failure = self.failed.iter().find(|e| e.id == entry.id);
            updates.insert(
                entry.id.clone(),
                UpdateOut {
                    id: entry.id.clone(),
                    title: entry.title.clone(),
                    kb: entry.kb.clone(),
                    categories: entry.categories.clone(),
                    downloaded: entry.downloaded || done(&self.downloaded) || done(&self.installed),
                    installed: done(&self.installed),
                    failure_hresult_code: failure.and_then(|f| f.hresult),
                    failure_hresult: failure.and_then(|f| f.hresult).map(hex),
                    failure_phase: failure.and_then(|f| f.phase.clone()),
                },
            );
        }
        let filtered_updates = self
            .filtered
            .iter()
            .map(|e| {
                let out = FilteredOut {
                    id: e.id.clone(),
                    title: e.title.clone(),
                    kb: e.kb.clone(),
                    categories: e.categories.clone(),
                    filtered_reason: e.filtered_reason.clone().unwrap_or_default(),
                };
                (e.id.clone(), out)
            })
            .collect();
        let outcome = Outcome {
            updates,
            filtered_updates,
            found_update_count: self.found.len(),
            downloaded_update_count: self.downloaded.len(),
            installed_update_count: self.installed.len(),
            failed_update_count: self.failed.len(),
            reboot_required: self.reboot_required && !rebooted,
            rebooted,
        };
        let changed = would_change || !self.downloaded.is_empty() || !self.installed.is_empty();
        let mut result = if let Some(error) = &self.error {
            let code = self.hresult.map(|h| format!(" ({})", hex(h))).unwrap_or_default();
            ModuleResult::failed(format!("the Windows Update agent failed: {error}{code}"))
        } else if !self.failed.is_empty() {
            let each: Vec<String> = self.failed.iter().map(describe_failure).collect();
            ModuleResult::failed(format!(
                "{} of {} updates failed: {}",
                self.failed.len(),
                self.found.len(),
                each.join("; ")
            ))
        } else {
            ModuleResult::ok().with_msg(self.summary(rebooted))
        };
        result.changed = changed;
        result.with_data(&outcome)
    }

    /// One line on what happened.
    fn summary(&self, rebooted: bool) -> String {
        let mut text = if self.found.is_empty() {
            "no applicable updates".to_string()
        } else if !self.installed.is_empty() {
            format!("installed {} of {} updates", self.installed.len(), self.found.len())
        } else if !self.downloaded.is_empty() {
            format!("downloaded {} of {} updates", self.downloaded.len(), self.found.len())
        } else {
            format!("found {} updates", self.found.len())
        };
        if rebooted {
            text.push_str("; rebooted");
        } else if self.reboot_required {
            text.push_str("; a reboot is required");
        }
        text
    }
}

/// `KB5034441 (title): install failed, 0x80070643 (result code 4)`.
fn describe_failure(entry: &Entry) -> String {
    let kb = match entry.kb.first() {
        Some(kb) => format!("KB{kb} "),
        None => String::new(),
    };
    format!(
        "{kb}({}): {} failed, {} (result code {})",
        entry.title,
        entry.phase.as_deref().unwrap_or("install"),
        entry.hresult.map(hex).unwrap_or_else(|| "no HRESULT".into()),
        entry.result_code.map(|c| c.to_string()).unwrap_or_else(|| "?".into())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-written report in tests/fixtures/win_updates (see its README).
    fn fixture(name: &str) -> Report {
        let path = format!("{}/tests/fixtures/win_updates/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).expect("fixture");
        Report::parse(&serde_json::from_str(&text).expect("json")).expect("report")
    }

    #[test]
    fn a_successful_install_lists_each_update_with_its_kb_and_changes() {
        let result = fixture("installed.json").outcome(false, false);
        assert!(result.changed && !result.failed, "{result:?}");
        assert_eq!(result.msg.as_deref(), Some("installed 2 of 2 updates"));
        assert_eq!(result.data["installed_update_count"].as_i64(), Some(2));
        let updates = &result.data["updates"];
        let one = updates.get_attr("7e1e3b1a-2f39-4c3e-9a6e-3f5c2d0b8a11").expect("by id");
        assert!(one.get_attr("installed").expect("installed").is_true());
        assert_eq!(one.get_attr("kb").expect("kb").get_item_by_index(0).expect("kb").as_str(), Some("5034129"));
        assert_eq!(result.data["filtered_updates"].len(), Some(1));
        assert!(!result.data["reboot_required"].is_true());
    }

    #[test]
    fn nothing_to_install_is_ok_and_unchanged() {
        let result = fixture("nothing.json").outcome(false, false);
        assert!(!result.changed && !result.failed, "{result:?}");
        assert_eq!(result.msg.as_deref(), Some("no applicable updates"));
        assert_eq!(result.data["found_update_count"].as_i64(), Some(0));
    }

    #[test]
    fn a_failed_update_fails_the_task_naming_its_kb_and_hresult() {
        let report = fixture("failed.json");
        assert!(report.failed_any());
        let result = report.outcome(false, false);
        assert!(result.failed && result.changed, "one update did install: {result:?}");
        assert_eq!(
            result.msg.as_deref(),
            Some("1 of 2 updates failed: KB5034439 (2024-01 Security Update for Windows Server 2022 for x64-based Systems (KB5034439)): install failed, 0x80070643 (result code 4)")
        );
        assert_eq!(result.data["failed_update_count"].as_i64(), Some(1));
    }

    #[test]
    fn a_pending_reboot_is_reported_and_cleared_by_a_reboot() {
        let report = fixture("reboot_required.json");
        assert!(report.reboot_required && report.installed_any());
        let result = report.outcome(false, false);
        assert!(result.data["reboot_required"].is_true());
        assert_eq!(result.msg.as_deref(), Some("installed 1 of 1 updates; a reboot is required"));
        let after = report.outcome(false, true);
        assert!(!after.data["reboot_required"].is_true() && after.data["rebooted"].is_true());
    }

    #[test]
    fn an_agent_error_fails_with_its_hresult_in_hex() {
        let report = Report::parse(&serde_json::json!({
            "found": [], "error": "Exception from HRESULT: 0x8024402C", "hresult": -2145107924
        }))
        .expect("report");
        let result = report.outcome(false, false);
        assert_eq!(
            result.msg.as_deref(),
            Some("the Windows Update agent failed: Exception from HRESULT: 0x8024402C (0x8024402C)")
        );
        assert_eq!(hex(-2147023293), "0x80070643");
    }

    #[test]
    fn check_mode_reports_a_change_when_updates_would_install() {
        let report = fixture("searched.json");
        assert_eq!(report.found_count(), 2);
        let result = report.outcome(true, false);
        assert!(result.changed && !result.failed);
        assert_eq!(result.msg.as_deref(), Some("found 2 updates"));
    }
}
