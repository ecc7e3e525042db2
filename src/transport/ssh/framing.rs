//! The wire format of the persistent remote shell: the shell text written for each command
//! (framed with a random per-shell token) and the scanner that splits the shell's output
//! streams back into each command's bytes and its end marker.
//!
//! Every command runs in its own subshell (or, with a timeout, its own session through
//! `setsid`), so `cd`, variables, traps and umask never leak into the next command. After it
//! ends, the shell prints `PREFIX:STATUS\n` on standard output and `PREFIX:\n` on standard
//! error; a timed command first prints `PREFIX+PID\n` on standard error. `PREFIX` is the
//! shell's 32-hex-digit random token and the command's sequence number, so no command can
//! forge or accidentally print another command's marker.

use base64::Engine;

use crate::shell::quote;

/// Random hex digits that make this shell's markers unguessable.
pub(super) fn new_token() -> Result<String, std::io::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The marker prefix of command number `seq` (0 is the start-up handshake).
pub(super) fn prefix(token: &str, seq: u64) -> Vec<u8> {
    format!("{token}{seq:016x}").into_bytes()
}

/// What the shell reports it can do, from its start-up line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Abilities {
    /// `base64` is installed: commands can get binary standard input.
    pub base64: bool,
    /// `setsid` is installed: a timed command can be killed with its whole process group.
    pub setsid: bool,
}

/// The first text written to the shell: probe for helpers, then print the ready line.
pub(super) fn handshake(token: &str) -> Vec<u8> {
    let marker = String::from_utf8_lossy(&prefix(token, 0)).into_owned();
    format!(
        "if command -v base64 >/dev/null 2>&1; then __rp_b=1; else __rp_b=0; fi; \
         if command -v setsid >/dev/null 2>&1; then __rp_t=1; else __rp_t=0; fi; \
         printf '%s:%s%s\\n' {marker} \"$__rp_b\" \"$__rp_t\"\n"
    )
    .into_bytes()
}

/// Parses the handshake payload (`:BT`, two digits).
pub(super) fn abilities(payload: &[u8]) -> Option<Abilities> {
    match payload {
        [b':', b, t] => Some(Abilities {
            base64: *b == b'1',
            setsid: *t == b'1',
        }),
        _ => None,
    }
}

/// The shell text that runs `line` as command `seq`: with `stdin` decoded by `base64 -d`
/// (binary-safe), and with `timed`, in a new session whose PID is reported first so that a
/// timeout can kill exactly its process group.
pub(super) fn command(
    token: &str,
    seq: u64,
    line: &str,
    stdin: Option<&[u8]>,
    timed: bool,
) -> Vec<u8> {
    let marker = String::from_utf8_lossy(&prefix(token, seq)).into_owned();
    // The line travels as one single-quoted word, so the loop shell never parses it: a
    // syntax error in it fails only the subshell that evaluates it.
    let mut text = format!("__rp_c={}\n", quote(line));
    let feed = match stdin {
        Some(_) => format!("base64 -d <<'RPATCH_IN_{marker}' | "),
        None => String::new(),
    };
    let no_stdin = if stdin.is_some() { "" } else { " </dev/null" };
    if timed {
        text.push_str(&format!(
            "{feed}setsid /bin/sh -c \"$__rp_c\"{no_stdin} & __rp_p=$!; \
             printf '%s+%s\\n' {marker} \"$__rp_p\" >&2; wait \"$__rp_p\"; __rp_s=$?; "
        ));
    } else {
        text.push_str(&format!(
            "{feed}( eval \"$__rp_c\" ){no_stdin}; __rp_s=$?; "
        ));
    }
    text.push_str(&format!(
        "printf '%s:%s\\n' {marker} \"$__rp_s\"; printf '%s:\\n' {marker} >&2\n"
    ));
    if let Some(data) = stdin {
        let encoded = base64::engine::general_purpose::STANDARD.encode(data);
        let mut bytes = text.into_bytes();
        for line in encoded.as_bytes().chunks(76) {
            bytes.extend_from_slice(line);
            bytes.push(b'\n');
        }
        bytes.extend_from_slice(format!("RPATCH_IN_{marker}\n").as_bytes());
        return bytes;
    }
    text.into_bytes()
}

/// Splits one output stream of the shell into a command's bytes and its end marker line.
/// Bytes that arrive after a marker stay held for the next command.
#[derive(Debug, Default)]
pub(super) struct Demux {
    held: Vec<u8>,
}

impl Demux {
    /// Takes `chunk`; passes bytes that are certainly the command's own to `out`; returns the
    /// rest of the marker line (without the prefix and newline) once it is complete.
    pub fn feed(
        &mut self,
        prefix: &[u8],
        chunk: &[u8],
        out: &mut dyn FnMut(&[u8]),
    ) -> Option<Vec<u8>> {
        self.held.extend_from_slice(chunk);
        self.next(prefix, out)
    }

    /// Looks for the marker in what is held (after a previous marker, say).
    pub fn next(&mut self, prefix: &[u8], out: &mut dyn FnMut(&[u8])) -> Option<Vec<u8>> {
        match find(&self.held, prefix) {
            Some(at) => {
                out(&self.held[..at]);
                self.held.drain(..at);
                let rest = &self.held[prefix.len()..];
                let newline = rest.iter().position(|&b| b == b'\n')?;
                let payload = rest[..newline].to_vec();
                self.held.drain(..prefix.len() + newline + 1);
                Some(payload)
            }
            None => {
                // Keep what could be the start of a marker split across chunks.
                let keep = prefix.len().saturating_sub(1).min(self.held.len());
                let certain = self.held.len() - keep;
                if certain > 0 {
                    out(&self.held[..certain]);
                    self.held.drain(..certain);
                }
                None
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let first = *needle.first()?;
    let mut start = 0;
    while start + needle.len() <= haystack.len() {
        let at = start + haystack[start..].iter().position(|&b| b == first)?;
        if haystack.get(at..at + needle.len()) == Some(needle) {
            return Some(at);
        }
        start = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_demux(prefix: &[u8], chunks: &[&[u8]]) -> (Vec<u8>, Option<Vec<u8>>, Vec<u8>) {
        let mut demux = Demux::default();
        let mut out = Vec::new();
        let mut marker = None;
        for chunk in chunks {
            if let Some(found) = demux.feed(prefix, chunk, &mut |b| out.extend_from_slice(b)) {
                marker = Some(found);
            }
        }
        (out, marker, demux.held)
    }

    #[test]
    fn marker_split_across_chunks_is_found_and_output_kept_whole() {
        let (out, marker, held) = run_demux(b"TOKEN1", &[b"abcTO", b"KE", b"N1:0", b"\nnext"]);
        assert_eq!(out, b"abc");
        assert_eq!(marker.as_deref(), Some(&b":0"[..]));
        assert_eq!(held, b"next");
    }

    #[test]
    fn binary_output_without_newline_passes_through() {
        let data: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        let mut stream = data.clone();
        stream.extend_from_slice(b"PFX:3\n");
        let chunks: Vec<&[u8]> = stream.chunks(7).collect();
        let (out, marker, _) = run_demux(b"PFX", &chunks);
        assert_eq!(out, data);
        assert_eq!(marker.as_deref(), Some(&b":3"[..]));
    }

    #[test]
    fn a_partial_prefix_that_is_not_the_marker_is_output() {
        let (out, marker, held) = run_demux(b"PFX", &[b"xxPF", b"Yzz"]);
        assert_eq!(marker, None);
        let mut all = out;
        all.extend_from_slice(&held);
        assert_eq!(all, b"xxPFYzz");
    }

    #[test]
    fn handshake_payload_reports_the_helpers() {
        assert_eq!(
            abilities(b":10"),
            Some(Abilities {
                base64: true,
                setsid: false
            })
        );
        assert_eq!(abilities(b"junk"), None);
    }

    #[test]
    fn the_command_line_is_one_quoted_word() {
        let text =
            String::from_utf8(command("t", 1, "echo 'a'\nexit 3", None, false)).expect("utf8");
        assert!(
            text.starts_with("__rp_c='echo '\"'\"'a'\"'\"'\nexit 3'\n"),
            "{text}"
        );
        assert!(text.contains("( eval \"$__rp_c\" ) </dev/null"), "{text}");
    }

    #[test]
    fn stdin_travels_as_base64_in_a_here_document() {
        let text =
            String::from_utf8(command("t", 2, "cat", Some(b"\0\x01bin"), false)).expect("utf8");
        assert!(
            text.contains("base64 -d <<'RPATCH_IN_t0000000000000002' | ( eval"),
            "{text}"
        );
        assert!(
            text.ends_with("AAFiaW4=\nRPATCH_IN_t0000000000000002\n"),
            "{text}"
        );
    }
}
