//! Host range expansion: `web[01:20]`, `web[1:10:2]`, `db-[a:c]`, as Ansible's
//! `expand_hostname_range`.

/// Why a host range is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// A `[` without its `]`.
    #[error("`[` is never closed")]
    Unclosed,
    /// Not `begin:end` or `begin:end:step`.
    #[error("a range must be `begin:end` or `begin:end:step`")]
    Shape,
    /// `[1:]`.
    #[error("the range has no end")]
    MissingEnd,
    /// `[01:100]`: zero padding needs both bounds the same width.
    #[error("zero-padded bounds `{begin}` and `{end}` differ in width")]
    UnequalWidth {
        /// The begin bound.
        begin: String,
        /// The end bound.
        end: String,
    },
    /// A bound or step that is neither a number nor a single letter.
    #[error("`{0}` is not a number or a letter")]
    NotABound(String),
    /// `[c:a]`.
    #[error("the range begins after it ends")]
    Backwards,
    /// `[1:5:0]`.
    #[error("the step must be a positive number")]
    BadStep,
}

const LETTERS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// True if `name` contains a range to expand.
pub fn has_range(name: &str) -> bool {
    name.contains('[')
}

/// Expands every range in `name`, left to right; a name without ranges is returned as is.
pub fn expand(name: &str) -> Result<Vec<String>, RangeError> {
    let Some(open) = name.find('[') else {
        return Ok(vec![name.to_string()]);
    };
    let close = name[open..].find(']').ok_or(RangeError::Unclosed)? + open;
    let (head, body, tail) = (&name[..open], &name[open + 1..close], &name[close + 1..]);
    let bounds: Vec<&str> = body.split(':').collect();
    if bounds.len() != 2 && bounds.len() != 3 {
        return Err(RangeError::Shape);
    }
    let begin = if bounds[0].is_empty() { "0" } else { bounds[0] };
    let end = bounds[1];
    if end.is_empty() {
        return Err(RangeError::MissingEnd);
    }
    let step = match bounds.get(2) {
        None => 1,
        Some(step) => step
            .parse::<usize>()
            .map_err(|_| RangeError::NotABound((*step).to_string()))?,
    };
    if step == 0 {
        return Err(RangeError::BadStep);
    }
    let items: Vec<String> = match (LETTERS.find(begin), LETTERS.find(end)) {
        (Some(b), Some(e)) if begin.len() == 1 && end.len() == 1 => {
            if b > e {
                return Err(RangeError::Backwards);
            }
            LETTERS[b..=e]
                .chars()
                .step_by(step)
                .map(String::from)
                .collect()
        }
        _ => numeric(begin, end, step)?,
    };
    let mut names = Vec::new();
    for item in items {
        let candidate = format!("{head}{item}{tail}");
        names.extend(expand(&candidate)?);
    }
    Ok(names)
}

fn numeric(begin: &str, end: &str, step: usize) -> Result<Vec<String>, RangeError> {
    let width = if begin.len() > 1 && begin.starts_with('0') {
        if begin.len() != end.len() {
            return Err(RangeError::UnequalWidth {
                begin: begin.to_string(),
                end: end.to_string(),
            });
        }
        begin.len()
    } else {
        0
    };
    let parse = |bound: &str| {
        bound
            .parse::<u64>()
            .map_err(|_| RangeError::NotABound(bound.to_string()))
    };
    let (first, last) = (parse(begin)?, parse(end)?);
    Ok((first..=last)
        .step_by(step)
        .map(|n| format!("{n:0width$}"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_ranges_keep_zero_padding() {
        assert_eq!(expand("web[01:03]").unwrap(), ["web01", "web02", "web03"]);
        assert_eq!(
            expand("web[8:10].lan").unwrap(),
            ["web8.lan", "web9.lan", "web10.lan"]
        );
    }

    #[test]
    fn stride_skips_numbers() {
        assert_eq!(expand("h[1:7:3]").unwrap(), ["h1", "h4", "h7"]);
    }

    #[test]
    fn alphabetic_ranges_expand_letters() {
        assert_eq!(expand("db-[a:c]").unwrap(), ["db-a", "db-b", "db-c"]);
    }

    #[test]
    fn several_ranges_multiply() {
        assert_eq!(
            expand("r[1:2]-[a:b]").unwrap(),
            ["r1-a", "r1-b", "r2-a", "r2-b"]
        );
    }

    #[test]
    fn empty_begin_means_zero() {
        assert_eq!(expand("n[:2]").unwrap(), ["n0", "n1", "n2"]);
    }

    #[test]
    fn malformed_ranges_are_errors() {
        assert_eq!(expand("web[1:3"), Err(RangeError::Unclosed));
        assert_eq!(expand("web[1]"), Err(RangeError::Shape));
        assert_eq!(expand("web[1:]"), Err(RangeError::MissingEnd));
        assert_eq!(expand("web[c:a]"), Err(RangeError::Backwards));
        assert_eq!(expand("web[1:3:0]"), Err(RangeError::BadStep));
        assert!(matches!(
            expand("web[01:100]"),
            Err(RangeError::UnequalWidth { .. })
        ));
        assert!(matches!(expand("web[x:9]"), Err(RangeError::NotABound(_))));
    }
}
