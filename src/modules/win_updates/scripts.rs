//! The PowerShell behind `win_updates`' search/download/install mode.
//!
//! The Windows Update Agent API refuses network logons (SSH included: `CreateUpdateSearcher`
//! or `Download` fail with E_ACCESSDENIED), so the work runs in a scheduled task as SYSTEM:
//! - [`start`] registers `\rpatch\<job>` with the [`worker`] as its action (itself an
//!   `-EncodedCommand`, so no script file lies on the disk for anyone to swap) and starts it;
//! - the worker searches, filters, downloads and installs through `Microsoft.Update.Session`
//!   and stores its report as one JSON value under `HKLM:\SOFTWARE\rpatch\win_updates`
//!   (writable by administrators and SYSTEM only);
//! - [`poll`] answers `running`, `done` with that report (then removes the value and the task),
//!   `ended` when the task stopped without one, or `missing`.
//!
//! Nothing from the playbook is spliced into the PowerShell text: the job's parameters travel as
//! base64 JSON ([`json_literal`]).

use super::super::powershell::{encode, json_literal, quote, PRELUDE, RESULT_MARKER};

/// Where the worker leaves its report: one string value per job.
pub(super) const REPORT_KEY: &str = "HKLM:\\SOFTWARE\\rpatch\\win_updates";

/// The folder of rpatch's scheduled tasks.
pub(super) const TASK_PATH: &str = "\\rpatch\\";

/// `LastTaskResult` of a task that has not run yet (SCHED_S_TASK_HAS_NOT_RUN).
const TASK_HAS_NOT_RUN: i64 = 0x41303;

/// What the worker does, as JSON for [`json_literal`].
#[derive(Debug, Clone, serde::Serialize)]
pub(super) struct Job {
    /// The task's name and the report's value name.
    pub job: String,
    /// `searched`, `downloaded` or `installed`.
    pub state: &'static str,
    /// Category names as the agent spells them, or `*`.
    pub categories: Vec<String>,
    /// KB ids or title regexes an update must match one of (empty: all).
    pub accept: Vec<String>,
    /// KB ids or title regexes that exclude an update.
    pub reject: Vec<String>,
    /// `IUpdateSearcher.ServerSelection`: 0 default, 1 managed server (WSUS), 2 Windows Update.
    pub server_selection: u8,
    /// `baseline`: per release key (`windows-10.0.20348`), the KB ids (`KB5034441`) the host
    /// may install — nothing else; `None` without a baseline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<std::collections::BTreeMap<String, Vec<String>>>,
}

/// The worker: runs as SYSTEM in the scheduled task.
pub(super) fn worker(job: &Job) -> String {
    let params = json_literal(&serde_json::to_value(job).unwrap_or_default());
    let key = quote(REPORT_KEY);
    format!(
        "{PRELUDE}$p = {params}\n{WORKER_BODY}\
         $null = New-Item -Path {key} -Force\n\
         $null = New-ItemProperty -Path {key} -Name $p.job -PropertyType String -Value ($r | ConvertTo-Json -Depth 6 -Compress) -Force\n"
    )
}

/// The body of the worker, after `$p` (the [`Job`]); leaves the report in `$r`.
const WORKER_BODY: &str = r#"function Get-Entry($u) {
  [ordered]@{
    id = [string]$u.Identity.UpdateID
    title = [string]$u.Title
    kb = @($u.KBArticleIDs | ForEach-Object { [string]$_ })
    categories = @($u.Categories | ForEach-Object { [string]$_.Name })
    downloaded = [bool]$u.IsDownloaded
  }
}
function Test-Listed($entry, $patterns) {
  foreach ($pattern in @($patterns)) {
    foreach ($kb in $entry.kb) { if (('KB' + $kb) -eq $pattern -or $kb -eq $pattern) { return $true } }
    if ($entry.title -match $pattern) { return $true }
  }
  return $false
}
$found = New-Object System.Collections.ArrayList
$filtered = New-Object System.Collections.ArrayList
$downloaded = New-Object System.Collections.ArrayList
$installed = New-Object System.Collections.ArrayList
$failed = New-Object System.Collections.ArrayList
$v = [System.Environment]::OSVersion.Version
$os = 'windows-{0}.{1}.{2}' -f $v.Major, $v.Minor, $v.Build
$r = [ordered]@{ os = $os; found = $found; filtered = $filtered; downloaded = $downloaded; installed = $installed; failed = $failed; reboot_required = $false; error = $null; hresult = $null; baseline_os_missing = $false }
if ($null -ne $p.baseline) {
  $mine = $p.baseline.$os
  if ($null -eq $mine) { $r.baseline_os_missing = $true } else { $p.accept = @($mine) }
}
if (-not $r.baseline_os_missing) { try {
  $session = New-Object -ComObject Microsoft.Update.Session
  $session.ClientApplicationID = 'rpatch win_updates'
  $searcher = $session.CreateUpdateSearcher()
  $searcher.ServerSelection = [int]$p.server_selection
  $search = $searcher.Search('IsInstalled = 0 and IsHidden = 0')
  $selected = New-Object -ComObject Microsoft.Update.UpdateColl
  foreach ($u in $search.Updates) {
    $entry = Get-Entry $u
    $reason = $null
    if (-not (@($p.categories) -contains '*') -and -not ($entry.categories | Where-Object { @($p.categories) -contains $_ })) { $reason = 'category_names' }
    elseif (@($p.accept).Count -gt 0 -and -not (Test-Listed $entry $p.accept)) { $reason = 'accept_list' }
    elseif (Test-Listed $entry $p.reject) { $reason = 'reject_list' }
    if ($reason) { $entry.filtered_reason = $reason; [void]$filtered.Add($entry); continue }
    [void]$found.Add($entry)
    if (-not $u.EulaAccepted) { $u.AcceptEula() }
    [void]$selected.Add($u)
  }
  if ($p.state -ne 'searched' -and $selected.Count -gt 0) {
    $fetch = New-Object -ComObject Microsoft.Update.UpdateColl
    foreach ($u in $selected) { if (-not $u.IsDownloaded) { [void]$fetch.Add($u) } }
    if ($fetch.Count -gt 0) {
      $downloader = $session.CreateUpdateDownloader()
      $downloader.Updates = $fetch
      $outcome = $downloader.Download()
      for ($i = 0; $i -lt $fetch.Count; $i++) {
        $one = $outcome.GetUpdateResult($i)
        $entry = Get-Entry $fetch.Item($i)
        $entry.result_code = [int]$one.ResultCode
        $entry.hresult = [int]$one.HResult
        if ($one.ResultCode -eq 2 -or $one.ResultCode -eq 3) { [void]$downloaded.Add($entry) }
        else { $entry.phase = 'download'; [void]$failed.Add($entry) }
      }
    }
  }
  if ($p.state -eq 'installed' -and $selected.Count -gt 0) {
    $ready = New-Object -ComObject Microsoft.Update.UpdateColl
    foreach ($u in $selected) { if ($u.IsDownloaded) { [void]$ready.Add($u) } }
    if ($ready.Count -gt 0) {
      $installer = $session.CreateUpdateInstaller()
      $installer.Updates = $ready
      $outcome = $installer.Install()
      for ($i = 0; $i -lt $ready.Count; $i++) {
        $one = $outcome.GetUpdateResult($i)
        $entry = Get-Entry $ready.Item($i)
        $entry.result_code = [int]$one.ResultCode
        $entry.hresult = [int]$one.HResult
        $entry.reboot_required = [bool]$one.RebootRequired
        if ($one.ResultCode -eq 2 -or $one.ResultCode -eq 3) { [void]$installed.Add($entry) }
        else { $entry.phase = 'install'; [void]$failed.Add($entry) }
      }
      if ($outcome.RebootRequired) { $r.reboot_required = $true }
    }
  }
  if ((New-Object -ComObject Microsoft.Update.SystemInfo).RebootRequired) { $r.reboot_required = $true }
} catch {
  $r.error = $_.Exception.Message
  $r.hresult = $_.Exception.HResult
} }
"#;

/// Registers and starts the scheduled task running `worker` as SYSTEM, stopped by the Task
/// Scheduler after `limit_secs`.
pub(super) fn start(job: &Job, worker: &str, limit_secs: u64) -> String {
    let name = quote(&job.job);
    let path = quote(TASK_PATH);
    let argument = quote(&format!(
        "-NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand {}",
        encode(worker)
    ));
    format!(
        "{PRELUDE}try {{\n\
         \x20 $action = New-ScheduledTaskAction -Execute 'powershell.exe' -Argument {argument}\n\
         \x20 $principal = New-ScheduledTaskPrincipal -UserId 'SYSTEM' -LogonType ServiceAccount -RunLevel Highest\n\
         \x20 $settings = New-ScheduledTaskSettingsSet -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries -ExecutionTimeLimit (New-TimeSpan -Seconds {limit_secs})\n\
         \x20 $null = Register-ScheduledTask -TaskName {name} -TaskPath {path} -Action $action -Principal $principal -Settings $settings -Force\n\
         \x20 Start-ScheduledTask -TaskName {name} -TaskPath {path}\n\
         \x20 $r = @{{ status = 'started' }}\n\
         }} catch {{\n\
         \x20 $r = @{{ status = 'error'; error = $_.Exception.Message; hresult = $_.Exception.HResult }}\n\
         }}\n\
         '{RESULT_MARKER}' + ($r | ConvertTo-Json -Compress)\n"
    )
}

/// Asks how the job is doing; on `done` hands over the report and cleans up after it.
pub(super) fn poll(job: &str) -> String {
    let name = quote(job);
    let path = quote(TASK_PATH);
    let key = quote(REPORT_KEY);
    format!(
        "{PRELUDE}$report = $null\n\
         if (Test-Path -LiteralPath {key}) {{ $report = (Get-ItemProperty -LiteralPath {key}).{name} }}\n\
         $task = Get-ScheduledTask -TaskName {name} -TaskPath {path} -ErrorAction SilentlyContinue\n\
         if ($report) {{\n\
         \x20 Remove-ItemProperty -LiteralPath {key} -Name {name}\n\
         \x20 if ($task) {{ Unregister-ScheduledTask -TaskName {name} -TaskPath {path} -Confirm:$false }}\n\
         \x20 $line = '{{\"status\":\"done\",\"report\":' + $report + '}}'\n\
         }} elseif (-not $task) {{\n\
         \x20 $line = '{{\"status\":\"missing\"}}'\n\
         }} else {{\n\
         \x20 $info = Get-ScheduledTaskInfo -TaskName {name} -TaskPath {path}\n\
         \x20 $last = [int64]$info.LastTaskResult\n\
         \x20 if ($task.State -eq 'Running' -or $task.State -eq 'Queued' -or $last -eq {TASK_HAS_NOT_RUN}) {{\n\
         \x20   $line = '{{\"status\":\"running\"}}'\n\
         \x20 }} else {{\n\
         \x20   Unregister-ScheduledTask -TaskName {name} -TaskPath {path} -Confirm:$false\n\
         \x20   $line = '{{\"status\":\"ended\",\"last_task_result\":' + $last + '}}'\n\
         \x20 }}\n\
         }}\n\
         '{RESULT_MARKER}' + $line\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::powershell::encoded_command;
    use crate::modules::powershell::tests::{decode, decode_json_literal};

    fn job() -> Job {
        Job {
            job: "rpatch-wu-1f".into(),
            state: "installed",
            categories: vec!["Security Updates".into(), "Critical Updates".into()],
            accept: vec!["KB5034441".into()],
            reject: vec!["'; Remove-Item -Recurse C:\\ ; '".into()],
            server_selection: 1,
            baseline: None,
        }
    }

    #[test]
    fn the_worker_searches_installs_and_reports_through_the_update_api() {
        let script = worker(&job());
        for needle in [
            "New-Object -ComObject Microsoft.Update.Session",
            "$searcher.ServerSelection = [int]$p.server_selection",
            "$searcher.Search('IsInstalled = 0 and IsHidden = 0')",
            "$downloader.Download()",
            "$installer.Install()",
            "$entry.hresult = [int]$one.HResult",
            "Microsoft.Update.SystemInfo",
            "New-ItemProperty -Path 'HKLM:\\SOFTWARE\\rpatch\\win_updates' -Name $p.job",
        ] {
            assert!(script.contains(needle), "{needle} missing from:\n{script}");
        }
        // The playbook's strings arrive as base64 JSON only.
        assert!(!script.contains("Remove-Item"), "{script}");
        let params = decode_json_literal(&script, "$p = ");
        assert_eq!(params["reject"][0], "'; Remove-Item -Recurse C:\\ ; '");
        assert_eq!(params["categories"][0], "Security Updates");
        assert_eq!(params["server_selection"], 1);
        assert_eq!(params["state"], "installed");
    }

    #[test]
    fn the_task_runs_the_worker_as_system_from_an_encoded_command() {
        let job = job();
        let inner = worker(&job);
        let outer = decode(&encoded_command(&start(&job, &inner, 3600)));
        assert!(outer.contains("New-ScheduledTaskPrincipal -UserId 'SYSTEM' -LogonType ServiceAccount -RunLevel Highest"), "{outer}");
        assert!(outer.contains("-TaskName 'rpatch-wu-1f' -TaskPath '\\rpatch\\'"), "{outer}");
        assert!(outer.contains("-ExecutionTimeLimit (New-TimeSpan -Seconds 3600)"), "{outer}");
        assert!(outer.contains("Start-ScheduledTask"), "{outer}");
        // The task's argument carries the worker, itself encoded.
        let argument = outer
            .split("-Argument '")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .expect("argument");
        assert!(argument.starts_with("-NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand "));
        assert_eq!(decode(argument), inner);
    }

    #[test]
    fn polling_hands_over_the_report_and_removes_the_task() {
        let script = poll("rpatch-wu-1f");
        assert!(script.contains("(Get-ItemProperty -LiteralPath 'HKLM:\\SOFTWARE\\rpatch\\win_updates').'rpatch-wu-1f'"), "{script}");
        assert!(script.contains("Unregister-ScheduledTask -TaskName 'rpatch-wu-1f' -TaskPath '\\rpatch\\' -Confirm:$false"));
        assert!(script.contains("$last -eq 267011"), "a task not yet run is still starting");
        assert!(script.ends_with("'@@rpatch:result ' + $line\n"), "{script}");
    }
}
