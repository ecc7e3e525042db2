//! Watching a become command's standard error for sudo's password prompt.
//!
//! A command run through `sudo -S -p PROMPT` with a password configured may or may not be asked
//! for it (NOPASSWD rules, root, a cached sudo timestamp). The password must reach sudo only
//! when sudo asks, never the command. So every such command gets a fresh random
//! [`Challenge`]: sudo prints its prompt on standard error when it wants the password, and the
//! escalated shell prints the marker line on standard error before anything else once sudo has
//! let it run. [`PromptWatch`] reads standard error, removes both tokens from what the user sees
//! and says what the command is waiting for ([`Cue`]).
//!
//! Invariants: the prompt is answered at most once (a second prompt means the password was
//! wrong: [`BecomeError::IncorrectPassword`]); nothing after the marker is inspected, so the
//! command's own output can never trigger the password.

use std::fmt::Write as _;

/// Why privilege escalation could not go ahead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BecomeError {
    /// sudo asked for the password again after it had been sent once.
    #[error(
        "incorrect privilege escalation (sudo) password: sudo asked for it again, so it was \
         not sent a second time"
    )]
    IncorrectPassword,
    /// `su` was asked to take a password, which it reads only from a terminal.
    #[error(
        "become_method su cannot take a become password: su reads it from a terminal, which \
         rpatch does not open, and sending it blindly could hand it to the command instead; \
         use become_method sudo, or su without a password (from root)"
    )]
    SuPassword,
    /// The random tokens for the prompt could not be made.
    #[error("no randomness for the sudo prompt: {0}")]
    Random(String),
}

/// The random tokens of one password exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Challenge {
    /// What sudo prints when it wants the password (`sudo -p`).
    pub prompt: String,
    /// What the escalated shell prints on standard error before the command starts.
    pub marker: String,
}

impl Challenge {
    /// Fresh tokens from the operating system's random source.
    pub fn random() -> Result<Self, BecomeError> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(|e| BecomeError::Random(e.to_string()))?;
        let mut token = String::with_capacity(32);
        for byte in bytes {
            // Writing to a String cannot fail.
            let _ = write!(token, "{byte:02x}");
        }
        Ok(Self::from_token(&token))
    }

    /// Tokens around `token`; hex only, so sudo's `%` escapes and the shell leave them alone.
    pub fn from_token(token: &str) -> Self {
        Self {
            prompt: format!("[rpatch-become-password-{token}]"),
            marker: format!("rpatch-become-ok-{token}"),
        }
    }
}

/// What standard error showed that the standard input feeder must act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cue {
    /// sudo asks for the password: send it, once.
    Password,
    /// The command itself runs now: send its own input, then end of file.
    Started,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Prompt,
    Marker,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Neither prompt nor marker seen yet.
    Waiting,
    /// The prompt was seen once (and answered).
    Answered,
    /// The marker was seen: the rest is the command's own output.
    Running,
}

/// The "wait for the prompt, then feed" state machine over a command's standard error.
#[derive(Debug)]
pub(crate) struct PromptWatch {
    prompt: Vec<u8>,
    /// The marker with its newline.
    marker: Vec<u8>,
    state: State,
    /// Trailing bytes that may be the start of the prompt or the marker.
    held: Vec<u8>,
}

impl PromptWatch {
    /// Watches for `challenge`'s prompt and marker.
    pub fn new(challenge: &Challenge) -> Self {
        let mut marker = challenge.marker.clone().into_bytes();
        marker.push(b'\n');
        Self {
            prompt: challenge.prompt.clone().into_bytes(),
            marker,
            state: State::Waiting,
            held: Vec::new(),
        }
    }

    /// Reads the next chunk of standard error: appends what the user should see to `visible`
    /// and returns what happened, in order. Fails when sudo asks a second time.
    pub fn feed(&mut self, chunk: &[u8], visible: &mut Vec<u8>) -> Result<Vec<Cue>, BecomeError> {
        if self.state == State::Running {
            visible.extend_from_slice(chunk);
            return Ok(Vec::new());
        }
        let mut text = std::mem::take(&mut self.held);
        text.extend_from_slice(chunk);
        let mut cues = Vec::new();
        let mut rest = &text[..];
        while self.state != State::Running {
            let next = match (find(rest, &self.prompt), find(rest, &self.marker)) {
                (Some(prompt), Some(marker)) if marker < prompt => Some((marker, Token::Marker)),
                (Some(prompt), _) => Some((prompt, Token::Prompt)),
                (None, marker) => marker.map(|at| (at, Token::Marker)),
            };
            let Some((at, token)) = next else {
                let keep =
                    partial_suffix(rest, &self.prompt).max(partial_suffix(rest, &self.marker));
                let (shown, held) = rest.split_at(rest.len() - keep);
                visible.extend_from_slice(shown);
                self.held = held.to_vec();
                return Ok(cues);
            };
            visible.extend_from_slice(&rest[..at]);
            match token {
                Token::Prompt if self.state == State::Answered => {
                    return Err(BecomeError::IncorrectPassword);
                }
                Token::Prompt => {
                    rest = &rest[at + self.prompt.len()..];
                    self.state = State::Answered;
                    cues.push(Cue::Password);
                }
                Token::Marker => {
                    rest = &rest[at + self.marker.len()..];
                    self.state = State::Running;
                    cues.push(Cue::Started);
                }
            }
        }
        visible.extend_from_slice(rest);
        Ok(cues)
    }

    /// The stream ended: whatever was held back was not a token after all.
    pub fn finish(&mut self, visible: &mut Vec<u8>) {
        visible.append(&mut self.held);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The length of the longest end of `text` that is a proper beginning of `token`.
fn partial_suffix(text: &[u8], token: &[u8]) -> usize {
    let longest = text.len().min(token.len().saturating_sub(1));
    (1..=longest)
        .rev()
        .find(|&len| text[text.len() - len..] == token[..len])
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch() -> (PromptWatch, Challenge) {
        let challenge = Challenge::from_token("abc123");
        (PromptWatch::new(&challenge), challenge)
    }

    /// Feeds every chunk, collecting what is shown and the cues (or the error).
    fn run(chunks: &[&[u8]]) -> (String, Vec<Cue>, Option<BecomeError>) {
        let (mut watch, _) = watch();
        let mut visible = Vec::new();
        let mut cues = Vec::new();
        for chunk in chunks {
            match watch.feed(chunk, &mut visible) {
                Ok(more) => cues.extend(more),
                Err(error) => return (String::from_utf8_lossy(&visible).into(), cues, Some(error)),
            }
        }
        watch.finish(&mut visible);
        (String::from_utf8_lossy(&visible).into(), cues, None)
    }

    #[test]
    fn prompt_then_marker_cues_password_then_start_and_hides_both() {
        let (_, c) = watch();
        let first = c.prompt.clone();
        let second = format!("{}\nout of the command\n", c.marker);
        let (shown, cues, error) = run(&[first.as_bytes(), second.as_bytes()]);
        assert_eq!(cues, [Cue::Password, Cue::Started]);
        assert_eq!(shown, "out of the command\n");
        assert_eq!(error, None);
    }

    #[test]
    fn prompt_split_across_reads_is_still_recognised() {
        let (_, c) = watch();
        let whole = format!("warning: x\n{}{}\n", c.prompt, c.marker);
        let bytes = whole.as_bytes();
        // Every split point, and one byte at a time.
        for cut in 1..bytes.len() {
            let (shown, cues, error) = run(&[&bytes[..cut], &bytes[cut..]]);
            assert_eq!(cues, [Cue::Password, Cue::Started], "cut at {cut}");
            assert_eq!(shown, "warning: x\n", "cut at {cut}");
            assert_eq!(error, None);
        }
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        let (shown, cues, _) = run(&singles);
        assert_eq!(cues, [Cue::Password, Cue::Started]);
        assert_eq!(shown, "warning: x\n");
    }

    #[test]
    fn no_prompt_means_no_password_only_the_start() {
        let (_, c) = watch();
        let text = format!("{}\nerr of the command\n", c.marker);
        let (shown, cues, error) = run(&[text.as_bytes()]);
        assert_eq!(cues, [Cue::Started]);
        assert_eq!(shown, "err of the command\n");
        assert_eq!(error, None);
    }

    #[test]
    fn neither_prompt_nor_marker_shows_everything_and_cues_nothing() {
        let (_, c) = watch();
        // Ends with what looks like the start of the prompt: shown at the end of the stream.
        let tail = &c.prompt[..5];
        let text = format!("sudo: a password is required\n{tail}");
        let (shown, cues, error) = run(&[text.as_bytes()]);
        assert!(cues.is_empty());
        assert_eq!(shown, text);
        assert_eq!(error, None);
    }

    #[test]
    fn a_second_prompt_is_an_incorrect_password() {
        let (_, c) = watch();
        let again = format!("Sorry, try again.\n{}", c.prompt);
        let (shown, cues, error) = run(&[c.prompt.as_bytes(), again.as_bytes()]);
        assert_eq!(cues, [Cue::Password]);
        assert_eq!(error, Some(BecomeError::IncorrectPassword));
        assert!(!shown.contains(&c.prompt), "{shown}");

        // Both prompts in one read: the password is cued once, never twice.
        let both = format!("{}Sorry, try again.\n{}", c.prompt, c.prompt);
        let (mut watch, _) = watch();
        let mut visible = Vec::new();
        assert_eq!(
            watch.feed(both.as_bytes(), &mut visible),
            Err(BecomeError::IncorrectPassword)
        );
    }

    #[test]
    fn the_commands_own_output_is_never_inspected() {
        let (_, c) = watch();
        let text = format!("{}\n{}{}\n", c.marker, c.prompt, c.marker);
        let (shown, cues, error) = run(&[text.as_bytes()]);
        assert_eq!(cues, [Cue::Started]);
        assert_eq!(shown, format!("{}{}\n", c.prompt, c.marker));
        assert_eq!(error, None);
    }

    #[test]
    fn challenges_are_random_and_shell_safe() {
        let one = Challenge::random().expect("random");
        let two = Challenge::random().expect("random");
        assert_ne!(one, two);
        for text in [&one.prompt, &one.marker] {
            assert!(
                text.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "[]-".contains(c)),
                "{text}"
            );
        }
    }
}
