//! The table of built-in modules: names users write, free-form syntax, argument checks.

use super::args::{self, ArgError, FreeForm};
use super::{
    apt, assert_fail, command, copy, debug, fetch, file, lineinfile, pause, ping, setup, stat,
    template_module, wait_for,
};
use crate::vars::Value;

/// A built-in module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModuleKind {
    /// `command`: run a program without a shell.
    Command,
    /// `shell`: run a command line through `/bin/sh`.
    Shell,
    /// `raw`: send a command line as-is.
    Raw,
    /// `debug`: print a message or variable.
    Debug,
    /// `set_fact`: set host variables.
    SetFact,
    /// `assert`: fail unless conditions hold.
    Assert,
    /// `fail`: fail with a message.
    Fail,
    /// `ping`: check the host answers.
    Ping,
    /// `stat`: report facts about a path.
    Stat,
    /// `pause`: wait on the controller.
    Pause,
    /// `wait_for`: wait on the host for a port or path.
    WaitFor,
    /// `setup`: gather facts about the host.
    Setup,
    /// `copy`: put content or a controller file on the host.
    Copy,
    /// `template`: render a controller template and put it on the host.
    Template,
    /// `file`: manage a path's kind, mode and owner.
    File,
    /// `fetch`: bring a host file back to the controller.
    Fetch,
    /// `lineinfile`: make sure a line is (or is not) in a file.
    Lineinfile,
    /// `apt`: install, upgrade and remove Debian/Ubuntu packages.
    Apt,
}

impl ModuleKind {
    /// Every module, for suggestions and docs.
    pub const ALL: &'static [ModuleKind] = &[
        Self::Command,
        Self::Shell,
        Self::Raw,
        Self::Debug,
        Self::SetFact,
        Self::Assert,
        Self::Fail,
        Self::Ping,
        Self::Stat,
        Self::Pause,
        Self::WaitFor,
        Self::Setup,
        Self::Copy,
        Self::Template,
        Self::File,
        Self::Fetch,
        Self::Lineinfile,
        Self::Apt,
    ];

    /// The module's short name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Command => "command",
            Self::Shell => "shell",
            Self::Raw => "raw",
            Self::Debug => "debug",
            Self::SetFact => "set_fact",
            Self::Assert => "assert",
            Self::Fail => "fail",
            Self::Ping => "ping",
            Self::Stat => "stat",
            Self::Pause => "pause",
            Self::WaitFor => "wait_for",
            Self::Setup => "setup",
            Self::Copy => "copy",
            Self::Template => "template",
            Self::File => "file",
            Self::Fetch => "fetch",
            Self::Lineinfile => "lineinfile",
            Self::Apt => "apt",
        }
    }

    /// Finds a module by its short or `ansible.builtin.`/`ansible.legacy.` name.
    pub fn lookup(name: &str) -> Option<Self> {
        let short = name
            .strip_prefix("ansible.builtin.")
            .or_else(|| name.strip_prefix("ansible.legacy."))
            .unwrap_or(name);
        Self::ALL.iter().copied().find(|kind| kind.name() == short)
    }

    /// Every name a module can be written as (for did-you-mean).
    pub fn all_names() -> impl Iterator<Item = &'static str> {
        Self::ALL.iter().map(|kind| kind.name())
    }

    /// How a string given instead of a mapping is read.
    pub fn free_form(self) -> FreeForm {
        match self {
            Self::Command | Self::Shell | Self::Raw => FreeForm::Command,
            _ => FreeForm::KeyValue,
        }
    }

    /// Checks arguments before anything runs: unknown names always, types too when no
    /// argument is templated.
    pub fn validate(self, args: &Value, templated: bool) -> Result<(), ArgError> {
        match self {
            Self::Command | Self::Shell | Self::Raw => {
                check::<command::CommandArgs>(args, templated)
            }
            Self::Debug => check::<debug::DebugArgs>(args, templated),
            Self::Assert => check::<assert_fail::AssertArgs>(args, templated),
            Self::Fail => check::<assert_fail::FailArgs>(args, templated),
            Self::SetFact => Ok(()),
            Self::Ping => check::<ping::PingArgs>(args, templated),
            Self::Stat => check::<stat::StatArgs>(args, templated),
            Self::Pause => check::<pause::PauseArgs>(args, templated),
            Self::WaitFor => check::<wait_for::WaitForArgs>(args, templated),
            Self::Setup => check::<setup::SetupArgs>(args, templated),
            Self::Copy => check::<copy::CopyArgs>(args, templated),
            Self::Template => check::<template_module::TemplateArgs>(args, templated),
            Self::File => check::<file::FileArgs>(args, templated),
            Self::Fetch => check::<fetch::FetchArgs>(args, templated),
            Self::Lineinfile => check::<lineinfile::LineinfileArgs>(args, templated),
            Self::Apt => check::<apt::Request>(args, templated),
        }
    }

    /// True when the module changes nothing on the host (and so runs the same in check mode).
    pub fn is_read_only(self) -> bool {
        matches!(
            self,
            Self::Debug
                | Self::SetFact
                | Self::Assert
                | Self::Fail
                | Self::Ping
                | Self::Stat
                | Self::Pause
                | Self::WaitFor
                | Self::Setup
        )
    }
}

fn check<T: serde::de::DeserializeOwned>(args: &Value, templated: bool) -> Result<(), ArgError> {
    if templated {
        args::check_unknown::<T>(&crate::vars::to_json(args))
    } else {
        args::parse::<T>(args).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_qualified_names_resolve() {
        assert_eq!(ModuleKind::lookup("shell"), Some(ModuleKind::Shell));
        assert_eq!(
            ModuleKind::lookup("ansible.builtin.shell"),
            Some(ModuleKind::Shell)
        );
        assert_eq!(
            ModuleKind::lookup("ansible.legacy.command"),
            Some(ModuleKind::Command)
        );
        assert_eq!(ModuleKind::lookup("shel"), None);
    }
}
