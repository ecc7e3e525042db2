//! The run journal: one JSON object per line, appended and fsynced at every state change, so a
//! crash, a controller reboot or Ctrl-C never leaves the operator guessing which hosts are done.
//!
//! Each line is `{"at": "<RFC 3339 UTC>", "event": "<kind>", ...fields}`; the first is always
//! `run_start` with the resolved plan, so a resumed run follows the same batches.
//!
//! **No secrets.** Events hold only names, statuses, counts and messages rpatch composes: no
//! variable values, no command output — except a failed task's message (its `msg`, `rc` and
//! the end of its stderr, as the task output already showed them), which reports and
//! `rpatch runs show` need to say why a host failed; for a `no_log` task it is the censoring
//! notice. Callers must pass a task's name *as written* (before
//! templating, or the module name) and compose gate messages without credentials (strip
//! `user:password@` from URLs).
//!
//! **Durability.** [`JournalWriter::append`] writes the whole line with one `write_all` and
//! calls `sync_data` before returning; only then may the runner take the next step. For async
//! code, [`JournalWriter::spawn`] moves the writer onto a dedicated thread and returns a
//! cloneable [`JournalHandle`] whose `append` resolves after the fsync: one writer keeps lines
//! in the order they were sent, and the tokio runtime never blocks on the disk. After a failed
//! write the writer refuses further appends, so a half-written line is never followed by more.
//!
//! **Damage.** [`JournalReader::replay`] rejects anything it cannot read, naming the line, and
//! never guesses past it. A crash in the middle of an append can leave the *last* line without
//! its newline; `replay` reports that as [`JournalError::TruncatedTail`], while
//! [`JournalReader::replay_for_resume`] accepts it: that event's fsync never returned, so the
//! runner never acted on it, and dropping it only means a host whose `host_done` was lost runs
//! its play again (plays must be idempotent for resume). [`JournalWriter::reopen`] cuts the
//! partial line off before appending.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

pub use super::run_settings::{ConnectionSettings, PlaybookDigest, RunSettings};

/// The journal's file name inside a run directory.
pub const JOURNAL_FILE: &str = "journal.jsonl";

/// The journal format written by this version of rpatch.
pub const FORMAT_VERSION: u32 = 1;

/// A run's id: its UTC start time and four random hex digits, e.g. `20261123T164500Z-4f2a`.
/// Ids sort by start time and are safe as directory names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RunId(String);

impl RunId {
    /// A new id for a run starting at `now`; the suffix comes from /dev/urandom, or the
    /// process id when that cannot be read.
    pub fn generate(now: Timestamp) -> Self {
        let mut bytes = [0u8; 2];
        let random = File::open("/dev/urandom")
            .and_then(|mut file| file.read_exact(&mut bytes))
            .map(|()| u16::from_be_bytes(bytes))
            .unwrap_or_else(|_| (std::process::id() & 0xffff) as u16);
        Self(format!("{}-{random:04x}", now.strftime("%Y%m%dT%H%M%SZ")))
    }

    /// Checks an id given by a user (`rpatch resume ID`): exactly the generated shape, so it
    /// can never name a path outside the runs directory.
    pub fn parse(text: &str) -> Result<Self, JournalError> {
        let bytes = text.as_bytes();
        let shape_ok = bytes.len() == 21
            && bytes.iter().enumerate().all(|(i, b)| match i {
                8 => *b == b'T',
                15 => *b == b'Z',
                16 => *b == b'-',
                17..=20 => b.is_ascii_digit() || (b'a'..=b'f').contains(b),
                _ => b.is_ascii_digit(),
            });
        if shape_ok {
            Ok(Self(text.to_string()))
        } else {
            Err(JournalError::BadRunId(text.to_string()))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RunId {
    type Error = JournalError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<RunId> for String {
    fn from(id: RunId) -> Self {
        id.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The resolved plan of a run: for each play, its batches of host names.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// The plays, in order.
    pub plays: Vec<PlannedPlay>,
}

/// One play of a [`Plan`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlannedPlay {
    /// The play's name as written (or its `hosts` pattern).
    pub name: String,
    /// Host names, batch by batch.
    pub batches: Vec<Vec<String>>,
}

/// How one task ended on one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Nothing to change.
    Ok,
    /// Changed something.
    Changed,
    /// Failed.
    Failed,
    /// Host could not be reached.
    Unreachable,
    /// Skipped by `when` or tags.
    Skipped,
    /// Failed and rescued.
    Rescued,
    /// Failed with `ignore_errors`.
    Ignored,
}

/// How a host's play ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostStatus {
    /// Went through the play.
    Ok,
    /// A task failed.
    Failed,
    /// Could not be reached.
    Unreachable,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunEndStatus {
    /// Every batch ran (some hosts may have failed).
    Completed,
    /// A failure budget or a gate stopped it; later batches were not started.
    Halted,
}

/// A play and batch, both 0-based indexes into the [`Plan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BatchRef {
    /// The play.
    pub play: usize,
    /// The batch within it.
    pub batch: usize,
}

/// One state change of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case", deny_unknown_fields)]
pub enum JournalEvent {
    /// The run begins; always the first line.
    RunStart {
        /// Journal format version.
        format: u32,
        /// The run.
        run_id: RunId,
        /// The playbook path as given.
        playbook: String,
        /// The inventory path(s) as given.
        inventory: String,
        /// `--emergency`: windows were ignored.
        emergency: bool,
        /// The resolved batches.
        plan: Plan,
        /// The command-line settings to repeat on resume.
        #[serde(default)]
        settings: Box<RunSettings>,
    },
    /// A later process continues the run (`rpatch resume`).
    Resumed,
    /// A batch starts.
    BatchStart {
        /// Play index.
        play: usize,
        /// Batch index.
        batch: usize,
    },
    /// A task finished on a host (summary only: no output, no values).
    HostResult {
        /// Play index.
        play: usize,
        /// The host.
        host: String,
        /// The task's name as written.
        task: String,
        /// How it ended.
        status: TaskStatus,
        /// What the module asked to keep (e.g. where `virsh_evacuate` moved each guest).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        record: Option<serde_json::Value>,
        /// Why a failed or unreachable task failed, as the task output showed it (the
        /// censoring notice for `no_log` tasks); reports and `rpatch runs show` print it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// A host finished its play.
    HostDone {
        /// Play index.
        play: usize,
        /// The host.
        host: String,
        /// How.
        status: HostStatus,
    },
    /// A gate was checked.
    GateResult {
        /// Play index.
        play: usize,
        /// The batch after which it ran (`None`: the pre-flight gate).
        batch: Option<usize>,
        /// The gate's name.
        name: String,
        /// Whether it passed.
        passed: bool,
        /// Attempts made.
        attempts: u32,
        /// What rpatch says about it (composed by rpatch, no secrets).
        message: String,
    },
    /// A batch ended.
    BatchEnd {
        /// Play index.
        play: usize,
        /// Batch index.
        batch: usize,
        /// Why the run halts after it, if it does.
        halted: Option<String>,
    },
    /// The run stopped between batches because the window closed.
    WindowPause {
        /// When the window opens next.
        until: Timestamp,
    },
    /// The run was interrupted (signal); it can be resumed.
    Interrupted {
        /// E.g. "SIGINT".
        reason: String,
    },
    /// The run ended.
    RunEnd {
        /// How.
        status: RunEndStatus,
    },
    /// A notification sink was told (or failed to be told) about an event of the run; may
    /// follow `run_end` (the `end` notification), and changes nothing about the run's state.
    Notification {
        /// The event: `start`, `batch`, `halt` or `end`.
        on: String,
        /// The sink's name (webhook URLs without their secrets).
        sink: String,
        /// Whether an attempt succeeded.
        delivered: bool,
        /// Attempts made.
        attempts: u32,
        /// What the last attempt saw (composed by rpatch, no secrets).
        message: String,
    },
    /// A task changed the run's in-memory inventory (`add_host`, `group_by`); written before
    /// the change applies. A resume refuses such a run: it cannot re-create the change.
    InventoryChanged {
        /// Play index.
        play: usize,
        /// The task's name as written.
        task: String,
        /// What changed (`added host new1 to groups fresh`).
        change: String,
    },
    /// A play planned when it started, because the inventory changed at run time: its
    /// batches replace the ones `run_start` planned.
    PlayReplanned {
        /// Play index.
        play: usize,
        /// Host names per batch.
        batches: Vec<Vec<String>>,
    },
}

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalRecord {
    /// When it was written.
    pub at: Timestamp,
    /// What happened.
    #[serde(flatten)]
    pub event: JournalEvent,
}

/// What can go wrong with a journal.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The file could not be read or written.
    #[error("journal `{}`: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A line is not a journal event.
    #[error("journal `{}` line {line} is corrupt: {reason}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The last line was cut short, as a crash in the middle of an append leaves it.
    #[error("journal `{}` ends in a partial line {line} (a crash during a write)", path.display())]
    TruncatedTail {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
    },
    /// A well-formed event that cannot happen at that point of a run.
    #[error("journal `{}` line {line} does not fit the run: {reason}", path.display())]
    Inconsistent {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What does not fit.
        reason: String,
    },
    /// The journal has no events.
    #[error("journal `{}` is empty", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// An earlier write failed, so nothing more is appended after a possibly partial line.
    #[error("journal writes stopped after an earlier write failed")]
    Poisoned,
    /// The journal writer thread is gone.
    #[error("journal writer has stopped")]
    Closed,
    /// Not a run id.
    #[error("`{0}` is not a run id (expected e.g. 20261123T164500Z-4f2a)")]
    BadRunId(String),
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> JournalError + '_ {
    move |source| JournalError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Appends events to a journal file, fsyncing each one.
#[derive(Debug)]
pub struct JournalWriter {
    file: File,
    path: PathBuf,
    poisoned: bool,
}

impl JournalWriter {
    /// Creates `run_dir` (and parents) and a new, empty journal in it; fails if one exists.
    pub fn create(run_dir: &Path) -> Result<Self, JournalError> {
        std::fs::create_dir_all(run_dir).map_err(io_error(run_dir))?;
        let path = run_dir.join(JOURNAL_FILE);
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(&path)
            .map_err(io_error(&path))?;
        // Make the new directory entry itself durable.
        File::open(run_dir)
            .and_then(|dir| dir.sync_all())
            .map_err(io_error(run_dir))?;
        Ok(Self {
            file,
            path,
            poisoned: false,
        })
    }

    /// Opens an existing journal to continue a run, first cutting off a partial last line
    /// (everything past `state.valid_len`).
    pub fn reopen(path: &Path, state: &RunState) -> Result<Self, JournalError> {
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(io_error(path))?;
        file.set_len(state.valid_len)
            .and_then(|()| file.sync_data())
            .map_err(io_error(path))?;
        Ok(Self {
            file,
            path: path.to_path_buf(),
            poisoned: false,
        })
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `event` stamped with the current time; returns once it is on disk.
    pub fn append(&mut self, event: JournalEvent) -> Result<(), JournalError> {
        self.append_record(&JournalRecord {
            at: Timestamp::now(),
            event,
        })
    }

    /// Appends a record as one line; returns once it is on disk.
    pub fn append_record(&mut self, record: &JournalRecord) -> Result<(), JournalError> {
        self.append_records(std::slice::from_ref(record))
    }

    /// Moves the writer to a dedicated thread and returns a handle for async code.
    ///
    /// The thread commits in groups: it writes every event already queued, fsyncs once, then
    /// answers all of them, so a thousand hosts finishing a task cost one fsync, not a thousand.
    pub fn spawn(self) -> Result<JournalHandle, JournalError> {
        let (sender, mut receiver) = mpsc::unbounded_channel::<Request>();
        let path = self.path.clone();
        let mut writer = self;
        std::thread::Builder::new()
            .name("rpatch-journal".into())
            .spawn(move || {
                while let Some(first) = receiver.blocking_recv() {
                    let mut group = vec![first];
                    while let Ok(next) = receiver.try_recv() {
                        group.push(next);
                    }
                    let records: Vec<JournalRecord> = group
                        .iter()
                        .map(|(event, _)| JournalRecord {
                            at: Timestamp::now(),
                            event: event.clone(),
                        })
                        .collect();
                    let written = writer.append_records(&records);
                    for (_, reply) in group {
                        // The caller may have stopped waiting; the lines are written all the same.
                        if let Some(reply) = reply {
                            let _ = reply.send(match &written {
                                Ok(()) => Ok(()),
                                Err(_) => Err(JournalError::Poisoned),
                            });
                        }
                    }
                }
            })
            .map_err(io_error(&path))?;
        Ok(JournalHandle { sender })
    }

    /// Appends several records and fsyncs once.
    fn append_records(&mut self, records: &[JournalRecord]) -> Result<(), JournalError> {
        if self.poisoned {
            return Err(JournalError::Poisoned);
        }
        let mut lines = Vec::new();
        for record in records {
            serde_json::to_writer(&mut lines, record).map_err(|error| JournalError::Io {
                path: self.path.clone(),
                source: std::io::Error::other(error),
            })?;
            lines.push(b'\n');
        }
        let written = self
            .file
            .write_all(&lines)
            .and_then(|()| self.file.sync_data());
        if written.is_err() {
            self.poisoned = true;
        }
        written.map_err(io_error(&self.path))
    }
}

type Request = (
    JournalEvent,
    Option<oneshot::Sender<Result<(), JournalError>>>,
);

/// A cloneable, async front of a [`JournalWriter`] running on its own thread.
#[derive(Debug, Clone)]
pub struct JournalHandle {
    sender: mpsc::UnboundedSender<Request>,
}

impl JournalHandle {
    /// Appends `event`; resolves once it is on disk. Lines keep the order of the calls.
    pub async fn append(&self, event: JournalEvent) -> Result<(), JournalError> {
        let (reply, done) = oneshot::channel();
        self.sender
            .send((event, Some(reply)))
            .map_err(|_| JournalError::Closed)?;
        done.await.map_err(|_| JournalError::Closed)?
    }

    /// Queues `event` without waiting for it: it reaches the disk with the next fsync, and
    /// always before any event appended after it. For per-task summaries; state changes use
    /// [`Self::append`].
    pub fn record(&self, event: JournalEvent) {
        // A closed journal is reported by the next `append`.
        let _ = self.sender.send((event, None));
    }
}

/// A gate check as the journal recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateRecord {
    /// Play index.
    pub play: usize,
    /// The batch it followed (`None`: pre-flight).
    pub batch: Option<usize>,
    /// Gate name.
    pub name: String,
    /// Passed or not.
    pub passed: bool,
    /// Attempts made.
    pub attempts: u32,
    /// rpatch's message.
    pub message: String,
}

/// A run as rebuilt from its journal.
#[derive(Debug, Clone, PartialEq)]
pub struct RunState {
    /// The run.
    pub run_id: RunId,
    /// When it started.
    pub started_at: Timestamp,
    /// Playbook path as given.
    pub playbook: String,
    /// Inventory path(s) as given.
    pub inventory: String,
    /// Whether windows were ignored.
    pub emergency: bool,
    /// The command-line settings the run started with.
    pub settings: RunSettings,
    /// The plan the run follows (and a resume keeps).
    pub plan: Plan,
    /// For each play, the hosts that finished it and how.
    pub done: Vec<BTreeMap<String, HostStatus>>,
    /// The batch that had started and not ended when the journal stops.
    pub running_batch: Option<BatchRef>,
    /// Batches that ended, in order.
    pub ended_batches: Vec<BatchRef>,
    /// For hosts with task results but no `host_done`: the last task seen, per play.
    pub last_task: BTreeMap<(usize, String), String>,
    /// Gate checks, in order.
    pub gates: Vec<GateRecord>,
    /// Set when the run last stopped for a closed window.
    pub paused_until: Option<Timestamp>,
    /// Set when the run was last interrupted (cleared by a resume).
    pub interrupted: Option<String>,
    /// The batch after which a failed gate or an exhausted failure budget halted the run,
    /// until a later process gets past it (a `batch_end` of it or a later batch, not halted).
    pub halted_after: Option<BatchRef>,
    /// How the run ended, if it did (cleared by a resume: a halted run goes on).
    pub finished: Option<RunEndStatus>,
    /// The first change a task made to the run's inventory (`add_host`, `group_by`), if any.
    pub inventory_changed: Option<String>,
    /// Length in bytes of the complete lines (where a resumed run appends).
    pub valid_len: u64,
    /// The 1-based number of a partial last line that was dropped, if any.
    pub dropped_tail: Option<usize>,
}

impl RunState {
    /// How `host` finished play `play`, if it did.
    pub fn host_status(&self, play: usize, host: &str) -> Option<HostStatus> {
        self.done.get(play)?.get(host).copied()
    }

    /// Hosts of the running batch that had not finished the play: they were mid-play and
    /// restart it from the beginning on resume.
    pub fn mid_play(&self) -> Vec<String> {
        let Some(running) = self.running_batch else {
            return Vec::new();
        };
        self.batch_hosts(running)
            .iter()
            .filter(|host| self.host_status(running.play, host).is_none())
            .cloned()
            .collect()
    }

    /// The first batch, in plan order, with a host that has not finished: where a resume
    /// starts. `None` when every planned host is done.
    pub fn resume_point(&self) -> Option<BatchRef> {
        self.plan
            .plays
            .iter()
            .enumerate()
            .flat_map(|(play, planned)| {
                planned
                    .batches
                    .iter()
                    .enumerate()
                    .map(move |(batch, _)| BatchRef { play, batch })
            })
            .find(|at| {
                self.batch_hosts(*at)
                    .iter()
                    .any(|host| self.host_status(at.play, host).is_none())
            })
    }

    /// Whether the run ended (a `run_end` line).
    pub fn is_finished(&self) -> bool {
        self.finished.is_some()
    }

    fn batch_hosts(&self, at: BatchRef) -> &[String] {
        self.plan
            .plays
            .get(at.play)
            .and_then(|play| play.batches.get(at.batch))
            .map_or(&[], Vec::as_slice)
    }
}

/// Rebuilds a run from its journal.
pub struct JournalReader;

impl JournalReader {
    /// Replays a journal strictly: any damage, a partial last line included, is an error.
    pub fn replay(path: &Path) -> Result<RunState, JournalError> {
        replay(path, false)
    }

    /// Replays a journal to resume its run: like [`JournalReader::replay`], but a partial
    /// last line (a crash during an append) is dropped and reported in
    /// [`RunState::dropped_tail`]. Damage anywhere else is still an error.
    pub fn replay_for_resume(path: &Path) -> Result<RunState, JournalError> {
        replay(path, true)
    }
}

fn replay(path: &Path, allow_truncated_tail: bool) -> Result<RunState, JournalError> {
    let bytes = std::fs::read(path).map_err(io_error(path))?;
    let mut state: Option<RunState> = None;
    let mut offset = 0usize;
    let mut line_number = 0usize;
    let mut dropped_tail = None;
    while offset < bytes.len() {
        line_number += 1;
        let rest = &bytes[offset..];
        let Some(newline) = rest.iter().position(|b| *b == b'\n') else {
            if allow_truncated_tail {
                dropped_tail = Some(line_number);
                break;
            }
            return Err(JournalError::TruncatedTail {
                path: path.to_path_buf(),
                line: line_number,
            });
        };
        let line = &rest[..newline];
        offset += newline + 1;
        let corrupt = |reason: String| JournalError::Corrupt {
            path: path.to_path_buf(),
            line: line_number,
            reason,
        };
        let record: JournalRecord =
            serde_json::from_slice(line).map_err(|error| corrupt(error.to_string()))?;
        let inconsistent = |reason: String| JournalError::Inconsistent {
            path: path.to_path_buf(),
            line: line_number,
            reason,
        };
        apply(&mut state, record).map_err(inconsistent)?;
    }
    let mut state = state.ok_or_else(|| JournalError::Empty {
        path: path.to_path_buf(),
    })?;
    state.valid_len = offset as u64;
    state.dropped_tail = dropped_tail;
    Ok(state)
}

/// Applies one record to the state being rebuilt.
fn apply(state: &mut Option<RunState>, record: JournalRecord) -> Result<(), String> {
    let JournalRecord { at, event } = record;
    let Some(run) = state.as_mut() else {
        let JournalEvent::RunStart {
            format,
            run_id,
            playbook,
            inventory,
            emergency,
            plan,
            settings,
        } = event
        else {
            return Err("the first event must be run_start".into());
        };
        if format != FORMAT_VERSION {
            return Err(format!(
                "journal format {format} is not supported (this rpatch writes {FORMAT_VERSION})"
            ));
        }
        *state = Some(RunState {
            run_id,
            started_at: at,
            playbook,
            inventory,
            emergency,
            settings: *settings,
            done: vec![BTreeMap::new(); plan.plays.len()],
            plan,
            running_batch: None,
            ended_batches: Vec::new(),
            last_task: BTreeMap::new(),
            gates: Vec::new(),
            paused_until: None,
            interrupted: None,
            halted_after: None,
            finished: None,
            inventory_changed: None,
            valid_len: 0,
            dropped_tail: None,
        });
        return Ok(());
    };
    // A resume continues a halted run (or retries hosts of a completed one); nothing else
    // may follow the end of a run.
    if run.finished.is_some()
        && !matches!(
            event,
            JournalEvent::Resumed | JournalEvent::Notification { .. }
        )
    {
        return Err("event after run_end".into());
    }
    let check_host = |run: &RunState, play: usize, host: &str| -> Result<(), String> {
        let planned = run
            .plan
            .plays
            .get(play)
            .ok_or_else(|| format!("play {play} is not in the plan"))?;
        if planned.batches.iter().flatten().any(|name| name == host) {
            Ok(())
        } else {
            Err(format!("host `{host}` is not in play {play} of the plan"))
        }
    };
    match event {
        JournalEvent::RunStart { .. } => return Err("a second run_start".into()),
        JournalEvent::Resumed => {
            run.interrupted = None;
            run.paused_until = None;
            run.finished = None;
        }
        JournalEvent::BatchStart { play, batch } => {
            let at = BatchRef { play, batch };
            if run.batch_hosts(at).is_empty() {
                return Err(format!("batch {batch} of play {play} is not in the plan"));
            }
            run.running_batch = Some(at);
        }
        JournalEvent::HostResult {
            play, host, task, ..
        } => {
            check_host(run, play, &host)?;
            run.last_task.insert((play, host), task);
        }
        JournalEvent::HostDone { play, host, status } => {
            check_host(run, play, &host)?;
            run.last_task.remove(&(play, host.clone()));
            run.done[play].insert(host, status);
        }
        JournalEvent::GateResult {
            play,
            batch,
            name,
            passed,
            attempts,
            message,
        } => run.gates.push(GateRecord {
            play,
            batch,
            name,
            passed,
            attempts,
            message,
        }),
        JournalEvent::BatchEnd {
            play,
            batch,
            halted,
        } => {
            let at = BatchRef { play, batch };
            if run.running_batch != Some(at) {
                return Err(format!(
                    "batch_end for batch {batch} of play {play}, which is not running"
                ));
            }
            run.running_batch = None;
            run.ended_batches.push(at);
            if halted.is_some() {
                run.halted_after = Some(at);
            } else if run.halted_after.is_some_and(|halted| halted <= at) {
                run.halted_after = None;
            }
        }
        JournalEvent::WindowPause { until } => run.paused_until = Some(until),
        JournalEvent::Interrupted { reason } => run.interrupted = Some(reason),
        JournalEvent::RunEnd { status } => run.finished = Some(status),
        JournalEvent::Notification { .. } => {}
        JournalEvent::InventoryChanged { play, task, change } => {
            run.inventory_changed
                .get_or_insert(format!("play {}, task `{task}`: {change}", play + 1));
        }
        JournalEvent::PlayReplanned { play, batches } => {
            let planned = run
                .plan
                .plays
                .get_mut(play)
                .ok_or_else(|| format!("play {play} is not in the plan"))?;
            planned.batches = batches;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        Plan {
            plays: vec![
                PlannedPlay {
                    name: "patch".into(),
                    batches: vec![
                        vec!["a".into()],
                        vec!["b".into(), "c".into()],
                        vec!["d".into()],
                    ],
                },
                PlannedPlay {
                    name: "verify".into(),
                    batches: vec![vec!["a".into(), "b".into(), "c".into(), "d".into()]],
                },
            ],
        }
    }

    fn run_start() -> JournalEvent {
        JournalEvent::RunStart {
            format: FORMAT_VERSION,
            run_id: RunId::parse("20261123T164500Z-4f2a").expect("id"),
            playbook: "site.yml".into(),
            inventory: "hosts.ini".into(),
            emergency: false,
            plan: plan(),
            settings: Box::new(RunSettings {
                connection: Some(ConnectionSettings {
                    ssh_config: Some("/etc/rpatch/ssh_config".into()),
                    known_hosts: vec!["/etc/rpatch/known_hosts".into()],
                    host_key_checking: Some(crate::transport::HostKeyPolicy::AcceptNew),
                    timeout: Some(600),
                    ask_become_pass: true,
                    ..ConnectionSettings::default()
                }),
                digest: Some(PlaybookDigest {
                    sha256: "0".repeat(64),
                    files: vec!["site.yml".into()],
                }),
                ..RunSettings::default()
            }),
        }
    }

    fn done(play: usize, host: &str, status: HostStatus) -> JournalEvent {
        JournalEvent::HostDone {
            play,
            host: host.into(),
            status,
        }
    }

    /// A run killed in the middle of batch 2 of play 0: `b` finished, `c` was mid-task.
    fn crashed_run() -> Vec<JournalEvent> {
        vec![
            run_start(),
            JournalEvent::BatchStart { play: 0, batch: 0 },
            JournalEvent::HostResult {
                play: 0,
                host: "a".into(),
                task: "apt".into(),
                status: TaskStatus::Changed,
                record: None,
                message: None,
            },
            done(0, "a", HostStatus::Ok),
            JournalEvent::BatchEnd {
                play: 0,
                batch: 0,
                halted: None,
            },
            JournalEvent::GateResult {
                play: 0,
                batch: Some(0),
                name: "API answers".into(),
                passed: true,
                attempts: 3,
                message: "HTTP 200 after 3 attempts".into(),
            },
            JournalEvent::BatchStart { play: 0, batch: 1 },
            done(0, "b", HostStatus::Failed),
            JournalEvent::HostResult {
                play: 0,
                host: "c".into(),
                task: "reboot".into(),
                status: TaskStatus::Ok,
                record: None,
                message: None,
            },
        ]
    }

    fn write(dir: &Path, events: Vec<JournalEvent>) -> PathBuf {
        let mut writer = JournalWriter::create(dir).expect("create");
        for event in events {
            writer.append(event).expect("append");
        }
        writer.path().to_path_buf()
    }

    #[test]
    fn replay_rebuilds_a_crashed_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(dir.path(), crashed_run());
        let state = JournalReader::replay(&path).expect("replay");
        assert_eq!(state.run_id.as_str(), "20261123T164500Z-4f2a");
        assert_eq!(state.plan, plan());
        assert_eq!(state.host_status(0, "a"), Some(HostStatus::Ok));
        assert_eq!(state.host_status(0, "b"), Some(HostStatus::Failed));
        assert_eq!(state.host_status(0, "c"), None);
        assert_eq!(state.running_batch, Some(BatchRef { play: 0, batch: 1 }));
        assert_eq!(state.mid_play(), ["c"]);
        assert_eq!(
            state
                .last_task
                .get(&(0, "c".to_string()))
                .map(String::as_str),
            Some("reboot")
        );
        assert_eq!(state.resume_point(), Some(BatchRef { play: 0, batch: 1 }));
        assert_eq!(state.ended_batches, [BatchRef { play: 0, batch: 0 }]);
        assert_eq!(state.gates.len(), 1);
        assert!(state.gates[0].passed);
        assert!(!state.is_finished());
        assert_eq!(state.dropped_tail, None);
        assert_eq!(
            state.valid_len,
            std::fs::metadata(&path).expect("meta").len()
        );
    }

    #[test]
    fn a_finished_run_has_no_resume_point() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut events = vec![run_start()];
        for (play, hosts) in [(0, ["a", "b", "c", "d"]), (1, ["a", "b", "c", "d"])] {
            for host in hosts {
                events.push(done(play, host, HostStatus::Ok));
            }
        }
        events.push(JournalEvent::RunEnd {
            status: RunEndStatus::Completed,
        });
        let state = JournalReader::replay(&write(dir.path(), events)).expect("replay");
        assert_eq!(state.resume_point(), None);
        assert_eq!(state.finished, Some(RunEndStatus::Completed));
    }

    #[test]
    fn window_pause_interruption_and_resume_are_tracked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let until: Timestamp = "2026-11-28T01:00:00Z".parse().expect("ts");
        let mut events = crashed_run();
        events.push(JournalEvent::WindowPause { until });
        events.push(JournalEvent::Interrupted {
            reason: "SIGINT".into(),
        });
        let path = write(dir.path(), events);
        let state = JournalReader::replay(&path).expect("replay");
        assert_eq!(state.paused_until, Some(until));
        assert_eq!(state.interrupted.as_deref(), Some("SIGINT"));
        let mut writer = JournalWriter::reopen(&path, &state).expect("reopen");
        writer.append(JournalEvent::Resumed).expect("append");
        let state = JournalReader::replay(&path).expect("replay");
        assert_eq!((state.paused_until, state.interrupted), (None, None));
    }

    #[test]
    fn a_halted_run_can_be_resumed_past_its_halt() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut events = crashed_run();
        events.push(done(0, "c", HostStatus::Ok));
        events.push(JournalEvent::BatchEnd {
            play: 0,
            batch: 1,
            halted: Some("a gate failed after batch 2".into()),
        });
        events.push(JournalEvent::RunEnd {
            status: RunEndStatus::Halted,
        });
        let path = write(dir.path(), events);
        let state = JournalReader::replay(&path).expect("replay");
        assert_eq!(state.finished, Some(RunEndStatus::Halted));
        assert_eq!(state.halted_after, Some(BatchRef { play: 0, batch: 1 }));
        let mut writer = JournalWriter::reopen(&path, &state).expect("reopen");
        writer.append(JournalEvent::Resumed).expect("resumed");
        let state = JournalReader::replay(&path).expect("replay");
        assert_eq!(state.finished, None, "resumed: the run goes on");
        assert_eq!(state.halted_after, Some(BatchRef { play: 0, batch: 1 }));
        writer
            .append(JournalEvent::BatchStart { play: 0, batch: 1 })
            .expect("batch start");
        writer
            .append(JournalEvent::BatchEnd {
                play: 0,
                batch: 1,
                halted: None,
            })
            .expect("batch end");
        let state = JournalReader::replay(&path).expect("replay");
        assert_eq!(state.halted_after, None, "its gates passed this time");
    }

    #[test]
    fn a_journal_without_connection_settings_or_digest_still_reads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(JOURNAL_FILE);
        std::fs::write(
            &path,
            concat!(
                r#"{"at":"2026-11-23T16:45:00Z","event":"run_start","format":1,"#,
                r#""run_id":"20261123T164500Z-4f2a","playbook":"/p/site.yml","#,
                r#""inventory":"/p/hosts.ini","emergency":false,"#,
                r#""plan":{"plays":[{"name":"p","batches":[["a"]]}]},"#,
                r#""settings":{"inventory":["/p/hosts.ini"],"tags":[],"skip_tags":[],"#,
                r#""check":false,"diff":false,"forks":5,"become_all":true,"user":"ops","#,
                r#""extra_var_names":[]}}"#,
                "\n"
            ),
        )
        .expect("write");
        let state = JournalReader::replay(&path).expect("an old journal reads");
        assert_eq!(state.settings.connection, None);
        assert_eq!(state.settings.digest, None);
        assert_eq!(state.settings.user.as_deref(), Some("ops"));
    }

    #[test]
    fn a_corrupt_line_is_named_and_nothing_past_it_is_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(dir.path(), crashed_run());
        let text = std::fs::read_to_string(&path).expect("read");
        let mut lines: Vec<&str> = text.lines().collect();
        lines[2] = "{\"at\": \"2026-11-23T16:45:00Z\", \"event\": \"host_resu";
        std::fs::write(&path, lines.join("\n") + "\n").expect("write");
        for result in [
            JournalReader::replay(&path),
            JournalReader::replay_for_resume(&path),
        ] {
            match result {
                Err(JournalError::Corrupt { line, .. }) => assert_eq!(line, 3),
                other => panic!("expected a corrupt line 3, got {other:?}"),
            }
        }
        std::fs::write(
            &path,
            text.replacen("\"event\":\"batch_start\"", "\"event\":\"batch_begin\"", 1),
        )
        .expect("write");
        assert!(matches!(
            JournalReader::replay(&path),
            Err(JournalError::Corrupt { line: 2, .. })
        ));
    }

    #[test]
    fn a_truncated_last_line_is_reported_and_dropped_only_for_resume() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(dir.path(), crashed_run());
        let complete = std::fs::metadata(&path).expect("meta").len();
        let mut file = OpenOptions::new().append(true).open(&path).expect("open");
        file.write_all(b"{\"at\":\"2026-11-23T16:46:00Z\",\"event\":\"host_do")
            .expect("write");
        drop(file);
        match JournalReader::replay(&path) {
            Err(JournalError::TruncatedTail { line, .. }) => assert_eq!(line, 10),
            other => panic!("expected a truncated tail, got {other:?}"),
        }
        let state = JournalReader::replay_for_resume(&path).expect("resume accepts it");
        assert_eq!(state.dropped_tail, Some(10));
        assert_eq!(state.valid_len, complete);
        assert_eq!(state.mid_play(), ["c"]);
        let mut writer = JournalWriter::reopen(&path, &state).expect("reopen");
        writer.append(done(0, "c", HostStatus::Ok)).expect("append");
        let state = JournalReader::replay(&path).expect("clean again");
        assert_eq!(state.host_status(0, "c"), Some(HostStatus::Ok));
        assert!(state.mid_play().is_empty());
    }

    #[test]
    fn events_that_do_not_fit_the_run_are_errors() {
        let cases: [(Vec<JournalEvent>, usize, &str); 5] = [
            (
                vec![JournalEvent::Resumed],
                1,
                "first event must be run_start",
            ),
            (vec![run_start(), run_start()], 2, "second run_start"),
            (
                vec![run_start(), done(0, "zz", HostStatus::Ok)],
                2,
                "`zz` is not in play 0",
            ),
            (
                vec![run_start(), JournalEvent::BatchStart { play: 0, batch: 9 }],
                2,
                "not in the plan",
            ),
            (
                vec![
                    run_start(),
                    JournalEvent::RunEnd {
                        status: RunEndStatus::Halted,
                    },
                    JournalEvent::BatchStart { play: 0, batch: 0 },
                ],
                3,
                "after run_end",
            ),
        ];
        for (events, expected_line, message) in cases {
            let dir = tempfile::tempdir().expect("tempdir");
            match JournalReader::replay(&write(dir.path(), events)) {
                Err(JournalError::Inconsistent { line, reason, .. }) => {
                    assert_eq!(line, expected_line, "{message}");
                    assert!(reason.contains(message), "{reason}");
                }
                other => panic!("expected {message}, got {other:?}"),
            }
        }
    }

    #[test]
    fn an_empty_journal_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(dir.path(), Vec::new());
        assert!(matches!(
            JournalReader::replay(&path),
            Err(JournalError::Empty { .. })
        ));
    }

    #[test]
    fn create_refuses_to_overwrite_a_journal() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), vec![run_start()]);
        assert!(matches!(
            JournalWriter::create(dir.path()),
            Err(JournalError::Io { .. })
        ));
    }

    #[test]
    fn a_failed_write_stops_all_later_writes() {
        let Ok(file) = OpenOptions::new().append(true).open("/dev/full") else {
            panic!("/dev/full is needed to simulate a full disk");
        };
        let mut writer = JournalWriter {
            file,
            path: PathBuf::from("/dev/full"),
            poisoned: false,
        };
        assert!(matches!(
            writer.append(run_start()),
            Err(JournalError::Io { .. })
        ));
        assert!(matches!(
            writer.append(JournalEvent::Resumed),
            Err(JournalError::Poisoned)
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_async_handle_writes_every_event_in_one_line_each() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut writer = JournalWriter::create(dir.path()).expect("create");
        writer.append(run_start()).expect("run_start");
        let path = writer.path().to_path_buf();
        let handle = writer.spawn().expect("spawn");
        let tasks: Vec<_> = (0..40)
            .map(|i| {
                let handle = handle.clone();
                tokio::spawn(async move {
                    let host = ["a", "b", "c", "d"][i % 4];
                    handle
                        .append(JournalEvent::HostResult {
                            play: 0,
                            host: host.into(),
                            task: format!("task {i}"),
                            status: TaskStatus::Ok,
                            record: None,
                            message: None,
                        })
                        .await
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("join").expect("append");
        }
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text.lines().count(), 41);
        let state = JournalReader::replay(&path).expect("replay");
        assert_eq!(state.last_task.len(), 4);
    }

    #[test]
    fn run_ids_sort_by_time_and_reject_paths() {
        let id = RunId::generate("2026-11-23T16:45:00Z".parse().expect("ts"));
        assert!(id.as_str().starts_with("20261123T164500Z-"), "{id}");
        assert_eq!(RunId::parse(id.as_str()).expect("round trip"), id);
        let later = RunId::generate("2026-11-24T00:00:00Z".parse().expect("ts"));
        assert!(id < later);
        for bad in [
            "../../etc",
            "20261123T164500Z-4F2A",
            "20261123T164500Z-4f2",
            "",
            "20261123X164500Z-4f2a",
        ] {
            assert!(
                matches!(RunId::parse(bad), Err(JournalError::BadRunId(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn lines_look_as_documented() {
        let record = JournalRecord {
            at: "2026-11-23T16:45:00Z".parse().expect("ts"),
            event: done(0, "kvm01", HostStatus::Unreachable),
        };
        assert_eq!(
            serde_json::to_string(&record).expect("json"),
            r#"{"at":"2026-11-23T16:45:00Z","event":"host_done","play":0,"host":"kvm01","status":"unreachable"}"#
        );
    }

    #[test]
    fn journal_fields_are_only_names_statuses_and_messages() {
        // Guards the no-secrets rule: a new field must be added here on purpose, after
        // checking it can never hold a variable's value or a command's output.
        let allowed = [
            "at",
            "event",
            "format",
            "run_id",
            "playbook",
            "inventory",
            "emergency",
            "plan",
            "plays",
            "name",
            "batches",
            "play",
            "batch",
            "host",
            "task",
            "status",
            "passed",
            "attempts",
            "message",
            "halted",
            "until",
            "reason",
            // Command-line settings: paths, tag names, flags, a user name and the *names* of
            // extra variables (their values are never journaled).
            "settings",
            "tags",
            "skip_tags",
            "check",
            "diff",
            "forks",
            "become_all",
            "user",
            "extra_var_names",
            // Connection options: paths, a policy name, seconds and whether -K was given
            // (the password itself is asked again on resume).
            "connection",
            "ssh_config",
            "known_hosts",
            "host_key_checking",
            "timeout",
            "ask_become_pass",
            // The playbook's SHA-256 and the names of the files it loaded.
            "digest",
            "sha256",
            "files",
        ];
        let events = [
            run_start(),
            JournalEvent::Resumed,
            JournalEvent::BatchStart { play: 0, batch: 0 },
            crashed_run()[2].clone(),
            done(0, "a", HostStatus::Ok),
            crashed_run()[5].clone(),
            JournalEvent::BatchEnd {
                play: 0,
                batch: 0,
                halted: Some("gate failed".into()),
            },
            JournalEvent::WindowPause {
                until: Timestamp::UNIX_EPOCH,
            },
            JournalEvent::Interrupted {
                reason: "SIGTERM".into(),
            },
            JournalEvent::RunEnd {
                status: RunEndStatus::Halted,
            },
        ];
        fn keys(value: &serde_json::Value, out: &mut Vec<String>) {
            match value {
                serde_json::Value::Object(map) => {
                    for (key, value) in map {
                        out.push(key.clone());
                        keys(value, out);
                    }
                }
                serde_json::Value::Array(items) => items.iter().for_each(|item| keys(item, out)),
                _ => {}
            }
        }
        for event in events {
            let record = JournalRecord {
                at: Timestamp::UNIX_EPOCH,
                event,
            };
            let mut found = Vec::new();
            keys(&serde_json::to_value(&record).expect("json"), &mut found);
            for key in found {
                assert!(
                    allowed.contains(&key.as_str()),
                    "unexpected journal field `{key}`"
                );
            }
        }
    }
}
