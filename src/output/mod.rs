//! Rendering run events for people (Ansible-style lines, a progress bar on terminals) or for
//! machines (`--json`: one JSON object per event per line). Only this module prints results.

mod adhoc;
mod fleet;
mod human;
mod json;
mod recap;
pub mod report;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub use adhoc::AdhocRenderer;

pub use fleet::fleet_lines;
pub use human::{banner, HumanRenderer};
pub use json::JsonRenderer;
pub use recap::recap_lines;

use crate::runner::Event;

/// Something that turns events into output.
pub trait Renderer: Send {
    /// Handles one event.
    fn render(&mut self, event: &Event);

    /// Called once after the last event.
    fn finish(&mut self) {}
}

/// Prints nothing: for a run whose results another command shows (`rpatch status`).
pub struct Silent;

impl Renderer for Silent {
    fn render(&mut self, _event: &Event) {}
}

/// Starts a task that renders every event received until the channel closes.
pub fn spawn(mut renderer: Box<dyn Renderer>, mut events: mpsc::Receiver<Event>) -> JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            renderer.render(&event);
        }
        renderer.finish();
    })
}
