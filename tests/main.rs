//! Integration tests: the real `rpatch` binary on real playbooks in throwaway projects.

mod bad_input;
mod cli;
mod dnf;
mod parity;
mod patch_facts;
mod playbook_features;
mod reboot;
mod rolling;
mod security;
mod service;
mod ssh;
mod state;
mod support;
