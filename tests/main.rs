//! Integration tests: the real `rpatch` binary on real playbooks in throwaway projects.

mod support;
mod ssh;
