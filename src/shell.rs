//! Quoting words for a POSIX shell: the one function every command line rpatch builds relies on.

/// Quotes a word so that a POSIX shell passes it on exactly as given.
///
/// The same output as Python's `shlex.quote` (Ansible's `quote` filter): words made only of
/// characters no shell treats specially are left alone; anything else is put in single quotes,
/// each `'` inside written as `'"'"'`. That is correct for every string, since a shell
/// interprets nothing between single quotes. A word holding a NUL byte is quoted too, but can
/// never reach a command intact: [`crate::transport::ExecRequest::shell_line`] refuses it.
pub fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@%+=:,./-_".contains(&b));
    if plain {
        return word.to_owned();
    }
    let mut quoted = String::with_capacity(word.len() + 2);
    quoted.push('\'');
    for ch in word.chars() {
        if ch == '\'' {
            quoted.push_str("'\"'\"'");
        } else {
            quoted.push(ch);
        }
    }
    quoted.push('\'');
    quoted
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use proptest::prelude::*;

    use super::quote;

    /// Runs `printf %s WORD` through `/bin/sh -c` and returns what the shell passed on.
    fn through_sh(words: &[String]) -> Vec<Vec<u8>> {
        let line = words
            .iter()
            .map(|w| format!("printf '%s\\0' {}", quote(w)))
            .collect::<Vec<_>>()
            .join("; ");
        let output = Command::new("/bin/sh")
            .arg("-c")
            .arg(line)
            .output()
            .expect("run /bin/sh");
        assert!(output.status.success(), "{output:?}");
        let mut parts: Vec<Vec<u8>> = output
            .stdout
            .split(|&b| b == 0)
            .map(<[u8]>::to_vec)
            .collect();
        parts.pop();
        parts
    }

    #[test]
    fn plain_words_stay_plain_and_the_rest_is_single_quoted() {
        assert_eq!(quote("plain/path-1.2_x"), "plain/path-1.2_x");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a b;c"), "'a b;c'");
        assert_eq!(quote("it's"), "'it'\"'\"'s'");
        assert_eq!(
            quote("'; touch /tmp/x; echo '"),
            "''\"'\"'; touch /tmp/x; echo '\"'\"''"
        );
    }

    #[test]
    fn every_byte_value_round_trips_through_sh() {
        // Every non-NUL character of one byte in UTF-8, alone and between other characters.
        let words: Vec<String> = (1u8..=0x7f)
            .flat_map(|b| {
                let c = char::from(b);
                [c.to_string(), format!("a{c}b{c}"), format!("{c}{c}'{c}")]
            })
            .chain([
                "é".into(),
                "\u{feff}x".into(),
                "$(id)`id`".into(),
                "~root".into(),
            ])
            .collect();
        let expected: Vec<Vec<u8>> = words.iter().map(|w| w.as_bytes().to_vec()).collect();
        assert_eq!(through_sh(&words), expected);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_string_without_nul_round_trips_through_sh(
            words in prop::collection::vec("[^\\x00]{0,40}", 1..8)
        ) {
            let expected: Vec<Vec<u8>> = words.iter().map(|w| w.as_bytes().to_vec()).collect();
            prop_assert_eq!(through_sh(&words), expected);
        }

        #[test]
        fn quoted_words_with_shell_syntax_round_trip(
            words in prop::collection::vec("[ '\"$`\\\\;|&<>(){}*?~#!\\n\\ta-z]{0,30}", 1..8)
        ) {
            let expected: Vec<Vec<u8>> = words.iter().map(|w| w.as_bytes().to_vec()).collect();
            prop_assert_eq!(through_sh(&words), expected);
        }
    }
}
