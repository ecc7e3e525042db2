//! rpatch: an agentless, Ansible-style rolling patch runner over SSH.
//!
//! Data flows one way: [`cli`] → load ([`inventory`], [`playbook`]) → plan → [`runner`] →
//! [`modules`] → [`transport`]; the runner emits events that [`output`] renders.

pub mod diagnostic;
pub mod template;
pub mod vars;
pub mod yaml;
