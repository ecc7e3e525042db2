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
    /// More names than [`MAX_EXPANDED`] from one entry.
    #[error("the ranges expand to more than {MAX_EXPANDED} names")]
    TooMany,
}

/// The most names one host entry may expand to (a typo such as `web[1:100000000]` must not
/// exhaust memory; real fleets are a few thousand hosts).
pub const MAX_EXPANDED: usize = 100_000;

const LETTERS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// True if `name` contains a range to expand.
pub fn has_range(name: &str) -> bool {
    name.contains('[')
}

/// Expands every range in `name`, left to right; a name without ranges is returned as is.
///
/// The name is split once into literal text and ranges, then the product is built
/// iteratively: time is linear in the name plus the output, and no input recurses deeply.
pub fn expand(name: &str) -> Result<Vec<String>, RangeError> {
    let mut parts: Vec<(&str, Vec<String>)> = Vec::new();
    let mut rest = name;
    let mut total: usize = 1;
    while let Some(open) = rest.find('[') {
        let close = rest[open..].find(']').ok_or(RangeError::Unclosed)? + open;
        let items = range_items(&rest[open + 1..close])?;
        total = total
            .checked_mul(items.len())
            .filter(|total| *total <= MAX_EXPANDED)
            .ok_or(RangeError::TooMany)?;
        parts.push((&rest[..open], items));
        rest = &rest[close + 1..];
    }
    // Each name is built once from its parts, the rightmost range varying fastest (an
    // odometer), so the work is proportional to the text produced.
    let mut names = Vec::with_capacity(total);
    let mut odometer = vec![0usize; parts.len()];
    for _ in 0..total {
        let mut name = String::new();
        for ((head, items), &digit) in parts.iter().zip(&odometer) {
            name.push_str(head);
            name.push_str(items.get(digit).map_or("", String::as_str));
        }
        name.push_str(rest);
        names.push(name);
        for (digit, (_, items)) in odometer.iter_mut().zip(&parts).rev() {
            *digit += 1;
            if *digit < items.len() {
                break;
            }
            *digit = 0;
        }
    }
    Ok(names)
}

/// The items of one range body (`01:20`, `a:c`, `1:10:2`), at most [`MAX_EXPANDED`].
fn range_items(body: &str) -> Result<Vec<String>, RangeError> {
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
    match (LETTERS.find(begin), LETTERS.find(end)) {
        (Some(b), Some(e)) if begin.len() == 1 && end.len() == 1 => {
            if b > e {
                return Err(RangeError::Backwards);
            }
            Ok(LETTERS[b..=e]
                .chars()
                .step_by(step)
                .map(String::from)
                .collect())
        }
        _ => numeric(begin, end, step),
    }
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
    let step = u64::try_from(step).map_err(|_| RangeError::TooMany)?;
    let count = match last.checked_sub(first) {
        None => 0,
        Some(span) => (span / step).saturating_add(1),
    };
    if count > MAX_EXPANDED as u64 {
        return Err(RangeError::TooMany);
    }
    Ok((0..count)
        .map(|index| format!("{:0width$}", first + index * step))
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

    #[test]
    fn a_huge_range_is_an_error_not_an_allocation() {
        assert_eq!(
            expand("web[0:18446744073709551615]"),
            Err(RangeError::TooMany)
        );
        assert_eq!(expand("web[1:1000][1:1000]"), Err(RangeError::TooMany));
        assert_eq!(expand("h[0:99999]").map(|names| names.len()), Ok(100_000));
    }

    #[test]
    fn a_name_with_many_ranges_expands_without_recursing() {
        let name = format!("h{}", "[1:1]".repeat(200_000));
        assert_eq!(expand(&name), Ok(vec![format!("h{}", "1".repeat(200_000))]));
    }

    #[test]
    fn a_backwards_numeric_range_is_empty() {
        assert_eq!(expand("h[5:1]"), Ok(Vec::new()));
        assert_eq!(
            expand("h[0:18446744073709551615:18446744073709551615]").map(|n| n.len()),
            Ok(2)
        );
    }
}
