//! rpatch: an agentless, Ansible-style rolling patch runner over SSH.
//!
//! Data flows one way: [`cli`] → load ([`inventory`], [`playbook`]) → [`runner`] →
//! [`modules`] → [`transport`]; the runner emits events that [`output`] renders.

pub mod baseline;
pub mod cli;
pub mod compliance;
pub mod diagnostic;
/// Entry points for the cargo-fuzz targets in `fuzz/`; not a public API.
#[doc(hidden)]
pub mod fuzz_entry;
pub mod gates;
pub mod input;
pub mod inventory;
pub mod modules;
pub mod notify;
pub mod output;
pub mod playbook;
pub mod rolling;
pub mod runner;
pub mod seconds;
pub mod shell;
pub mod stages;
pub mod template;
pub mod transport;
pub mod vars;
pub mod yaml;
