//! PowerShell command lines for Windows hosts reached over OpenSSH: the script travels as
//! `-EncodedCommand` (base64 of its UTF-16LE text), so no quoting of cmd.exe or PowerShell
//! can break it, whichever of the two is the SSH server's default shell. Scripts report back
//! with one `@@rpatch:result {json}` line, read by [`run_script`].

use std::time::Duration;

use base64::Engine as _;

use super::{ModuleContext, ModuleError};
use crate::transport::{ExecRequest, ExitStatus};

/// The marker before the JSON a script prints as its result.
pub(crate) const RESULT_MARKER: &str = "@@rpatch:result ";

/// Lines every script starts with: stop on errors, no progress records (which PowerShell
/// over SSH would write to stderr as CLIXML), UTF-8 output for update titles.
pub(crate) const PRELUDE: &str = "$ErrorActionPreference = 'Stop'\n\
     $ProgressPreference = 'SilentlyContinue'\n\
     [Console]::OutputEncoding = [Text.Encoding]::UTF8\n";

/// `powershell -NoProfile -NonInteractive -EncodedCommand …` running `script`.
pub(crate) fn encoded_command(script: &str) -> String {
    format!(
        "powershell -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand {}",
        encode(script)
    )
}

/// Base64 of the script's UTF-16LE text, as `-EncodedCommand` wants it.
pub(crate) fn encode(script: &str) -> String {
    let bytes: Vec<u8> = script.encode_utf16().flat_map(u16::to_le_bytes).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `text` as a PowerShell single-quoted literal: nothing inside is expanded; a quote
/// (ASCII or one of the typographic ones PowerShell also accepts) is doubled.
pub(crate) fn quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('\'');
    for c in text.chars() {
        if matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}') {
            quoted.push(c);
        }
        quoted.push(c);
    }
    quoted.push('\'');
    quoted
}

/// A PowerShell expression for a JSON value built on the controller: base64 of its UTF-8
/// text, decoded and parsed on the host, so a playbook's strings never meet the parser.
pub(crate) fn json_literal(value: &serde_json::Value) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(value.to_string());
    format!(
        "([Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('{encoded}')) | ConvertFrom-Json)"
    )
}

/// Reads the last `@@rpatch:result` line of a script's output.
pub(crate) fn parse_result(stdout: &str) -> Result<serde_json::Value, String> {
    let line = stdout
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix(RESULT_MARKER.trim_end()))
        .map(str::trim)
        .ok_or_else(|| {
            "the PowerShell script printed no result (is this a Windows host?)".to_string()
        })?;
    serde_json::from_str(line).map_err(|e| format!("unreadable result `{line}`: {e}"))
}

/// Refuses what a Windows host's PowerShell cannot take: `environment` (set through a POSIX
/// shell) and `become` (sudo/su).
pub(crate) fn check_context(ctx: &ModuleContext<'_>) -> Result<(), ModuleError> {
    if !ctx.env.is_empty() || ctx.escalation.is_some() {
        return Err(ModuleError::Failed(
            "`environment` and `become` do not apply to a Windows host's PowerShell".into(),
        ));
    }
    Ok(())
}

/// Runs `script` through `-EncodedCommand` within `limit` and returns its result JSON; the
/// error says what PowerShell wrote on stderr when there is no result.
pub(crate) async fn run_script(
    ctx: &ModuleContext<'_>,
    script: &str,
    limit: Duration,
) -> Result<serde_json::Value, ModuleError> {
    let mut request = ExecRequest::new(encoded_command(script));
    request.timeout = Some(limit);
    let output = ctx.transport.exec(&request).await?;
    if output.status == ExitStatus::TimedOut {
        return Err(ModuleError::Failed(format!(
            "PowerShell did not answer within {} s",
            limit.as_secs()
        )));
    }
    parse_result(&output.stdout_text()).map_err(|error| {
        ModuleError::Failed(format!("{error}; stderr: {}", output.stderr_text().trim()))
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The script inside an `-EncodedCommand` command line.
    pub(crate) fn decode(command: &str) -> String {
        let encoded = command.rsplit(' ').next().expect("a last word");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .expect("base64");
        let units: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
            .collect();
        String::from_utf16(&units).expect("UTF-16")
    }

    /// The JSON inside a [`json_literal`] found in `script` after `before`.
    pub(crate) fn decode_json_literal(script: &str, before: &str) -> serde_json::Value {
        let start = script.find(before).expect("marker") + before.len();
        let rest = &script[start..];
        let open = rest.find("FromBase64String('").expect("literal") + 18;
        let close = rest[open..].find('\'').expect("end") + open;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&rest[open..close])
            .expect("base64");
        serde_json::from_slice(&bytes).expect("json")
    }

    #[test]
    fn scripts_round_trip_through_encoded_command_whatever_they_quote() {
        let script = "Write-Output 'it''s'; \"$env:X\" | % { $_ } # ünïcode & | < >";
        let command = encoded_command(script);
        assert!(command.starts_with("powershell -NoProfile -NonInteractive "));
        assert!(!command.contains('\''), "{command}");
        assert_eq!(decode(&command), script);
        // Known value: "a" is 61 00 in UTF-16LE.
        assert_eq!(encode("a"), "YQA=");
    }

    #[test]
    fn quoting_doubles_every_kind_of_single_quote_and_expands_nothing() {
        assert_eq!(quote("a'b"), "'a''b'");
        assert_eq!(quote("$(x) `n \""), "'$(x) `n \"'");
        assert_eq!(quote("\u{2019}x"), "'\u{2019}\u{2019}x'");
    }

    #[test]
    fn json_literals_carry_any_string_as_base64() {
        let value = serde_json::json!({"name": "x'; Remove-Item C:\\ -Recurse; '"});
        let script = format!("$p = {}", json_literal(&value));
        assert!(!script.contains("Remove-Item"), "{script}");
        assert_eq!(decode_json_literal(&script, "$p = "), value);
    }

    #[test]
    fn the_last_result_line_is_read_and_a_missing_one_is_explained() {
        let out = "noise\r\n@@rpatch:result {\"a\":1}\r\n@@rpatch:result {\"a\":2}\r\n";
        assert_eq!(parse_result(out), Ok(serde_json::json!({"a": 2})));
        assert!(parse_result("sh: powershell: not found")
            .expect_err("no result")
            .contains("Windows host"));
        assert!(parse_result("@@rpatch:result {oops")
            .expect_err("bad json")
            .starts_with("unreadable result"));
    }
}
