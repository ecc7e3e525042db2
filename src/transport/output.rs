//! What a command left behind: exit status and (bounded) output.

/// How much of each output stream is kept per command; the rest is dropped and flagged.
pub const OUTPUT_CAP: usize = 4 * 1024 * 1024;

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// It exited with this code.
    Code(i32),
    /// It was killed by this signal number.
    Signal(i32),
    /// The timeout ran out and it was killed.
    TimedOut,
}

impl ExitStatus {
    /// The shell-style return code (128+signal for signals, -1 for timeouts).
    pub fn rc(self) -> i32 {
        match self {
            Self::Code(code) => code,
            Self::Signal(signal) => 128 + signal,
            Self::TimedOut => -1,
        }
    }

    /// True when the command exited 0.
    pub fn success(self) -> bool {
        self == Self::Code(0)
    }
}

/// The result of one command.
#[derive(Debug, Clone)]
pub struct ExecOutput {
    /// How it ended.
    pub status: ExitStatus,
    /// Standard output, at most [`OUTPUT_CAP`] bytes.
    pub stdout: Vec<u8>,
    /// Standard error, at most [`OUTPUT_CAP`] bytes.
    pub stderr: Vec<u8>,
    /// True when output beyond the cap was dropped.
    pub truncated: bool,
}

impl ExecOutput {
    /// Standard output as text (lossy UTF-8).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Standard error as text (lossy UTF-8).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Appends `chunk` to `buffer` up to [`OUTPUT_CAP`]; returns false when something was dropped.
pub fn append_capped(buffer: &mut Vec<u8>, chunk: &[u8]) -> bool {
    let room = OUTPUT_CAP.saturating_sub(buffer.len());
    buffer.extend_from_slice(&chunk[..chunk.len().min(room)]);
    chunk.len() <= room
}
