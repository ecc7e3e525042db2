//! `assert` and `fail` as table entries; their arguments and logic are in `assert_fail.rs`.
//!
//! Kept apart only while a fix to `assert`'s `that:` is under way in `assert_fail.rs`; once it
//! is merged these two impls move there, beside the code they run.

use async_trait::async_trait;

use super::args::{self, ArgError};
use super::assert_fail::{run_assert, run_fail, AssertArgs, FailArgs};
use super::{CheckMode, Module, ModuleContext, ModuleError, ModuleResult};
use crate::vars::Value;

/// `assert`: fail unless conditions hold.
pub(crate) struct Assert;

#[async_trait]
impl Module for Assert {
    fn names(&self) -> &'static [&'static str] {
        &["assert", "ansible.builtin.assert", "ansible.legacy.assert"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<AssertArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::ReadOnly
    }

    async fn run(&self, args: &Value, ctx: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        Ok(run_assert(args, ctx)?)
    }
}

/// `fail`: fail with a message.
pub(crate) struct Fail;

#[async_trait]
impl Module for Fail {
    fn names(&self) -> &'static [&'static str] {
        &["fail", "ansible.builtin.fail", "ansible.legacy.fail"]
    }

    fn validate(&self, args: &Value, templated: bool) -> Result<(), ArgError> {
        args::validate::<FailArgs>(args, templated)
    }

    fn check_mode(&self) -> CheckMode {
        CheckMode::ReadOnly
    }

    async fn run(&self, args: &Value, _: &ModuleContext<'_>) -> Result<ModuleResult, ModuleError> {
        Ok(run_fail(args)?)
    }
}
