//! PowerShell command lines for Windows hosts reached over OpenSSH: the script travels as
//! `-EncodedCommand` (base64 of its UTF-16LE text), so no quoting of cmd.exe or PowerShell
//! can break it, whichever of the two is the SSH server's default shell.

use base64::Engine as _;

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
}
