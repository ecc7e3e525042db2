//! Integration tests: the real `rpatch` binary on real playbooks in throwaway projects.

mod apt;
mod bad_input;
mod cli;
mod parity;
mod playbook_features;
mod rolling;
mod security;
mod ssh;
mod support;
