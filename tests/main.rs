//! Integration tests: the real `rpatch` binary on real playbooks in throwaway projects.

mod apt;
mod bad_input;
mod cli;
mod compat;
mod dnf;
mod edit_modules;
mod kvm;
mod kvm_migrate;
mod monthly;
mod parity;
mod patch_facts;
mod playbook_features;
mod reboot;
mod resume;
mod rolling;
mod security;
mod service;
mod ssh;
mod state;
mod support;
mod system_modules;
