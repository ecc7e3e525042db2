//! The notifier: one worker per sink, fed the run's events in order, never blocking the rollout.
//!
//! [`Notifier::prepare`] renders every play's sinks (templates with the play's variables and
//! `-e`) before anything runs; a sink written identically in two plays is one sink. Once the
//! run's journal exists, [`Notifier::start`] spawns the workers and sends `start`; the runner
//! reports each `batch_end` it journaled through the observer channel
//! ([`crate::runner::RunControl::observer`]), which become `batch` (to the sinks of that play)
//! and `halt` events; [`NotifierHandle::finish`] sends `end` (and a `halt` not sent yet, for a
//! pre-flight gate) and waits for the workers to drain. Each payload is built from the journal
//! once the event is on disk. A delivery that fails after its retries is printed as a warning
//! and journaled (`notification` events), never failing the run.

use std::path::PathBuf;
use std::sync::Arc;

use indexmap::IndexMap;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::deliver::{ReadySink, Target};
use super::payload::{payload, BatchInfo, NotifyPayload};
use super::spec::{NotifyEvent, SinkKind, SinkSpec};
use crate::gates::{FollowRedirects, HttpMethod, TlsOptions};
use crate::playbook::Playbook;
use crate::rolling::journal::{JournalEvent, JournalHandle};
use crate::rolling::summary::{RunStatus, RunSummary};
use crate::template::{Scope, Templar};
use crate::vars::{Value, Vars};

/// What the sinks' templates are rendered with.
pub struct NotifyRender<'a> {
    /// The run's templar.
    pub templar: &'a Templar,
    /// `-e` variables (they win over play variables).
    pub extra_vars: Arc<Vars>,
}

/// A sink and the plays (indexes) that declare it.
struct PlannedSink {
    sink: ReadySink,
    plays: Vec<usize>,
}

/// The run's sinks, rendered and ready to start.
pub struct Notifier {
    sinks: Vec<PlannedSink>,
}

/// Why the sinks cannot be used (a template that does not render, a rendered URL that is not
/// http(s)); names the play and sink, never a secret.
#[derive(Debug, thiserror::Error)]
#[error("notification `{sink}` of play `{play}`: {reason}")]
pub struct NotifyRenderError {
    play: String,
    sink: String,
    reason: String,
}

impl Notifier {
    /// Renders the sinks of every play; `None` when no play has any.
    pub fn prepare(
        playbook: &Playbook,
        render: &NotifyRender<'_>,
    ) -> Result<Option<Self>, NotifyRenderError> {
        let mut sinks: Vec<(SinkSpec, ReadySink, Vec<usize>)> = Vec::new();
        for (index, play) in playbook.plays.iter().enumerate() {
            let scope = Scope::new(vec![play.vars.clone(), render.extra_vars.clone()]);
            for spec in &play.notifications {
                if let Some((_, _, plays)) = sinks.iter_mut().find(|(known, _, _)| known == spec) {
                    plays.push(index);
                    continue;
                }
                let ready =
                    ready(spec, render.templar, &scope).map_err(|reason| NotifyRenderError {
                        play: play.name.clone(),
                        sink: spec.name.clone(),
                        reason,
                    })?;
                sinks.push((spec.clone(), ready, vec![index]));
            }
        }
        if sinks.is_empty() {
            return Ok(None);
        }
        Ok(Some(Self {
            sinks: sinks
                .into_iter()
                .map(|(_, sink, plays)| PlannedSink { sink, plays })
                .collect(),
        }))
    }

    /// Starts the workers and sends `start`. `observer` is the receiving end of the channel
    /// given to the runner; `journal` is where delivery failures are recorded.
    pub async fn start(
        self,
        journal_path: PathBuf,
        journal: Option<JournalHandle>,
        mut observer: mpsc::UnboundedReceiver<JournalEvent>,
    ) -> NotifierHandle {
        let mut queues = Vec::new();
        let mut workers = Vec::new();
        let mut plays = Vec::new();
        for planned in self.sinks {
            let (sender, receiver) = mpsc::unbounded_channel::<Arc<NotifyPayload>>();
            queues.push(sender);
            plays.push(planned.plays);
            workers.push(tokio::spawn(worker(
                planned.sink,
                receiver,
                journal.clone(),
            )));
        }
        let mut dispatch = Dispatch {
            queues,
            plays,
            journal_path,
            halt_sent: false,
        };
        // Built before the runner starts, so it shows the run before any batch.
        dispatch.send(NotifyEvent::Start, None, None).await;
        let dispatcher = tokio::spawn(async move {
            while let Some(event) = observer.recv().await {
                if let JournalEvent::BatchEnd {
                    play,
                    batch,
                    halted,
                } = event
                {
                    dispatch
                        .send(NotifyEvent::Batch, Some((play, batch)), None)
                        .await;
                    if let Some(reason) = halted {
                        dispatch
                            .send(NotifyEvent::Halt, Some((play, batch)), Some(reason))
                            .await;
                    }
                }
            }
            dispatch
        });
        NotifierHandle {
            dispatcher,
            workers,
        }
    }
}

/// The running notifier.
pub struct NotifierHandle {
    dispatcher: JoinHandle<Dispatch>,
    workers: Vec<JoinHandle<()>>,
}

impl NotifierHandle {
    /// After the run (the runner dropped its observer): sends `end` (after a `halt` if the run
    /// halted without one) and waits until every sink has delivered or given up.
    pub async fn finish(self) {
        if let Ok(mut dispatch) = self.dispatcher.await {
            let summary = dispatch.summary().await;
            if summary
                .as_ref()
                .is_some_and(|s| s.status == RunStatus::Halted)
                && !dispatch.halt_sent
            {
                dispatch.send(NotifyEvent::Halt, None, None).await;
            }
            dispatch.send(NotifyEvent::End, None, None).await;
            // Dropping the queues lets each worker stop once it is through its events.
            drop(dispatch);
        }
        for worker in self.workers {
            let _ = worker.await;
        }
    }
}

/// Turns events into payloads and queues them for the sinks that want them.
struct Dispatch {
    queues: Vec<mpsc::UnboundedSender<Arc<NotifyPayload>>>,
    /// Per sink, the plays that declare it.
    plays: Vec<Vec<usize>>,
    journal_path: PathBuf,
    halt_sent: bool,
}

impl Dispatch {
    async fn summary(&self) -> Option<RunSummary> {
        let path = self.journal_path.clone();
        match tokio::task::spawn_blocking(move || RunSummary::from_journal(&path)).await {
            Ok(Ok(summary)) => Some(summary),
            Ok(Err(error)) => {
                eprintln!("[WARNING]: notifications: cannot read the run journal: {error}");
                None
            }
            Err(_) => None,
        }
    }

    /// Queues `event` (about batch `at` = (play, batch), 0-based) for the sinks that want it:
    /// `batch` only for the sinks of that play. `halted` is the reason a `batch_end` gave: the
    /// journal may not say the run halted yet (its `run_end` can still be on its way).
    async fn send(
        &mut self,
        event: NotifyEvent,
        at: Option<(usize, usize)>,
        halted: Option<String>,
    ) {
        let wanted: Vec<usize> = (0..self.queues.len())
            .filter(|&sink| match (event, at) {
                (NotifyEvent::Batch, Some((play, _))) => self.plays[sink].contains(&play),
                _ => true,
            })
            .collect();
        if event == NotifyEvent::Halt {
            self.halt_sent = true;
        }
        if wanted.is_empty() {
            return;
        }
        let Some(summary) = self.summary().await else {
            return;
        };
        let batch = at.and_then(|(play, batch)| {
            let planned = summary.plays.get(play)?;
            let of = planned.hosts.iter().map(|h| h.batch).max().unwrap_or(0);
            Some(BatchInfo {
                play: planned.name.clone(),
                number: batch + 1,
                of,
                hosts: planned
                    .hosts
                    .iter()
                    .filter(|h| h.batch == batch + 1)
                    .map(|h| h.name.clone())
                    .collect(),
            })
        });
        let mut payload = payload(event, &summary, batch);
        if payload.halted.is_none() {
            payload.halted = halted;
        }
        let payload = Arc::new(payload);
        for sink in wanted {
            let _ = self.queues[sink].send(payload.clone());
        }
    }
}

/// Delivers a sink's events one after the other (so they arrive in order).
async fn worker(
    sink: ReadySink,
    mut queue: mpsc::UnboundedReceiver<Arc<NotifyPayload>>,
    journal: Option<JournalHandle>,
) {
    // After a delivery failed for good, later events get one attempt each until one goes
    // through: a sink that is down costs the end of the run one timeout per queued event, not
    // every retry of every event.
    let mut down = false;
    while let Some(payload) = queue.recv().await {
        if !sink.spec.wants(payload.event) {
            continue;
        }
        let retries = if down { 0 } else { sink.spec.retries };
        let delivery = sink.deliver(&payload, retries).await;
        down = !delivery.delivered;
        if delivery.delivered {
            tracing::debug!(sink = %sink.spec.name, event = payload.event.as_str(), "notification delivered");
        } else {
            eprintln!(
                "[WARNING]: notification `{}` ({}) failed after {} attempt(s): {}",
                sink.spec.name,
                payload.event.as_str(),
                delivery.attempts,
                delivery.message
            );
        }
        if let Some(journal) = &journal {
            // Waits for the disk, so the line is there before the process exits; a journal
            // that cannot be written any more was already reported by the run.
            let _ = journal
                .append(JournalEvent::Notification {
                    on: payload.event.as_str().to_string(),
                    sink: sink.spec.name.clone(),
                    delivered: delivery.delivered,
                    attempts: delivery.attempts,
                    message: delivery.message.clone(),
                })
                .await;
        }
    }
}

/// Renders a sink's templates and builds its client.
fn ready(spec: &SinkSpec, templar: &Templar, scope: &Value) -> Result<ReadySink, String> {
    let render = |what: &str, text: &str| -> Result<String, String> {
        templar
            .render_to_string(text, scope)
            .map_err(|error| format!("cannot render {what}: {error}"))
    };
    let target = match &spec.kind {
        SinkKind::Webhook {
            url,
            format,
            headers,
            validate_certs,
            ca_file,
        } => {
            let raw_url = render("url", url)?;
            let mut rendered: IndexMap<String, String> = IndexMap::new();
            for (name, value) in headers {
                rendered.insert(name.clone(), render(&format!("header {name}"), value)?);
            }
            if !rendered
                .keys()
                .any(|name| name.eq_ignore_ascii_case("content-type"))
            {
                rendered.insert("Content-Type".into(), "application/json".into());
            }
            let tls = TlsOptions {
                validate_certs: *validate_certs,
                ca_file: ca_file.clone(),
            };
            let request = crate::gates::HttpRequest::new(
                HttpMethod::Post,
                raw_url.clone(),
                rendered.into_iter().collect(),
                &tls,
                spec.timeout,
                FollowRedirects::Safe,
            )
            .map_err(|why| {
                // The URL error never quotes the URL; a rendered one is shown redacted.
                format!("{why} ({})", crate::gates::redact_webhook_url(&raw_url))
            })?;
            Target::Webhook {
                request,
                format: *format,
                raw_url,
            }
        }
        SinkKind::Command { argv } => Target::Command {
            argv: argv
                .iter()
                .map(|arg| render("command", arg))
                .collect::<Result<_, _>>()?,
        },
        SinkKind::Email { to, from, sendmail } => Target::Email {
            sendmail: sendmail.clone(),
            to: to
                .iter()
                .map(|address| render("to", address))
                .collect::<Result<_, _>>()?,
            from: from
                .as_deref()
                .map(|from| render("from", from))
                .transpose()?,
        },
    };
    let mut spec = spec.clone();
    if let Target::Webhook { raw_url, .. } = &target {
        // A sink named after its templated URL is named after the rendered one, redacted.
        spec.name = spec.name.replace(
            super::parse::TEMPLATED_URL,
            &crate::gates::redact_webhook_url(raw_url),
        );
    }
    Ok(ReadySink { spec, target })
}
