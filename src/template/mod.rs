//! Templating: Jinja rendering with Ansible's semantics on top of minijinja.
//!
//! [`Templar`] renders playbook strings (native values for a lone `{{ expr }}`), evaluates
//! conditions and checks templates statically; [`Scope`] layers variables without merging them.

mod cache;
mod check;
mod environment;
mod error;
mod filters_convert;
mod filters_data;
mod filters_text;
mod functions;
mod jinja_tests;
mod repr;
mod scope;
mod templar;

pub use error::TemplateError;
pub use scope::Scope;
pub use templar::Templar;
