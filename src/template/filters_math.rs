//! Numeric filters from Ansible's mathstuff: `log`, `pow`, `root`, `human_readable` and
//! `human_to_bytes`, with Python's results and messages.

use minijinja::value::{Kwargs, Rest};
use minijinja::{Error, ErrorKind, Value};

/// Python-style arguments: each by position or by keyword.
fn arg(args: &[Value], kwargs: &Kwargs, index: usize, name: &str) -> Result<Option<Value>, Error> {
    match args.get(index) {
        Some(v) => Ok(Some(v.clone())),
        None => kwargs.get::<Option<Value>>(name),
    }
}

fn text_arg(value: Option<Value>) -> Option<String> {
    value
        .filter(|v| !v.is_none())
        .map(|v| super::repr::python_str(&v))
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

fn number(value: &Value, filter: &str) -> Result<f64, Error> {
    f64::try_from(value.clone())
        .map_err(|_| invalid(format!("{filter}() can only be used on numbers")))
}

/// `log(base=e)`.
pub fn log(value: &Value, base: Option<f64>) -> Result<f64, Error> {
    let x = number(value, "log")?;
    Ok(match base {
        None => x.ln(),
        Some(10.0) => x.log10(),
        Some(b) => x.ln() / b.ln(),
    })
}

/// `pow(y)`: always a float, as `math.pow`.
pub fn pow(value: &Value, y: &Value) -> Result<f64, Error> {
    Ok(number(value, "pow")?.powf(number(y, "pow")?))
}

/// `root(base=2)`.
pub fn root(value: &Value, base: Option<f64>) -> Result<f64, Error> {
    let x = number(value, "root")?;
    Ok(match base {
        None => x.sqrt(),
        Some(2.0) => x.sqrt(),
        Some(b) => x.powf(1.0 / b),
    })
}

/// Unit letters with their sizes, largest first.
const RANGES: [(char, f64); 9] = [
    ('Y', 1_208_925_819_614_629_174_706_176.0),
    ('Z', 1_180_591_620_717_411_303_424.0),
    ('E', 1_152_921_504_606_846_976.0),
    ('P', 1_125_899_906_842_624.0),
    ('T', 1_099_511_627_776.0),
    ('G', 1_073_741_824.0),
    ('M', 1_048_576.0),
    ('K', 1024.0),
    ('B', 1.0),
];

/// `human_readable(isbits=False, unit=None)`: `1.00 KB`, `500.00 Bytes`.
pub fn human_readable(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<String, Error> {
    let isbits = arg(&args, &kwargs, 0, "isbits")?.is_some_and(|v| v.is_true());
    let unit = text_arg(arg(&args, &kwargs, 1, "unit")?);
    kwargs.assert_all_used()?;
    let size = number(value, "human_readable")?;
    let base = if isbits { "bits" } else { "Bytes" };
    let wanted = unit
        .as_deref()
        .and_then(|u| u.chars().next())
        .map(|c| c.to_ascii_uppercase());
    let (letter, limit) = RANGES
        .iter()
        .copied()
        .find(|(letter, limit)| match wanted {
            Some(w) => w == *letter,
            None => size >= *limit,
        })
        .unwrap_or(('B', 1.0));
    let suffix = if limit == 1.0 {
        base.to_string()
    } else {
        format!("{letter}{}", &base[..1])
    };
    Ok(format!("{:.2} {suffix}", size / limit))
}

/// `human_to_bytes(default_unit=None, isbits=False)`: `'1.5M'` → 1572864.
pub fn human_to_bytes(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<i64, Error> {
    let default_unit = text_arg(arg(&args, &kwargs, 0, "default_unit")?);
    let bits = arg(&args, &kwargs, 1, "isbits")?.is_some_and(|v| v.is_true());
    kwargs.assert_all_used()?;
    let text = super::repr::python_str(value);
    let fail = |why: String| invalid(format!("human_to_bytes() failed to convert {text}. {why}"));
    let trimmed = text.trim_end();
    let digits_end = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (digits, rest) = trimmed.split_at(digits_end);
    let num: f64 = digits.parse().map_err(|_| {
        invalid(format!(
            "human_to_bytes() can't interpret following string: {text}"
        ))
    })?;
    let rest = rest.trim_start();
    if !rest.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(invalid(format!(
            "human_to_bytes() can't interpret following string: {text}"
        )));
    }
    let unit = if rest.is_empty() {
        default_unit
    } else {
        Some(rest.to_string())
    };
    let Some(unit) = unit else {
        return Ok(num.round() as i64);
    };
    let key = unit
        .chars()
        .next()
        .map(|c| c.to_ascii_uppercase())
        .unwrap_or('B');
    let Some((_, limit)) = RANGES.iter().find(|(letter, _)| *letter == key) else {
        return Err(invalid(format!(
            "human_to_bytes() failed to convert {text} (unit = {unit}). The suffix must be one of Y, Z, E, P, T, G, M, K, B"
        )));
    };
    if unit.len() > 1 {
        let class = if bits { 'b' } else { 'B' };
        let (long, short) = match (key, bits) {
            ('B', false) => ("byte".to_string(), "B".to_string()),
            ('B', true) => ("bit".to_string(), "b".to_string()),
            _ => (String::new(), format!("{key}{class}")),
        };
        if unit.to_lowercase() != long && unit != short {
            let expect = if key == 'B' {
                format!("expect {class} or {}", if bits { "bit" } else { "byte" })
            } else {
                format!("expect {key}{class} or {key}")
            };
            return Err(fail(format!("Value is not a valid string ({expect})")));
        }
    }
    Ok((num * limit).round() as i64)
}

#[cfg(test)]
mod tests {
    use crate::template::testing::{eval, eval_err};
    use serde_json::json;

    // Expected values printed by ansible-core 2.19's formatters.
    #[test]
    fn human_readable_and_back() {
        assert_eq!(eval("0 | human_readable"), json!("0.00 Bytes"));
        assert_eq!(eval("1536 | human_readable"), json!("1.50 KB"));
        assert_eq!(eval("1000000000000 | human_readable"), json!("931.32 GB"));
        assert_eq!(
            eval("1048576 | human_readable(isbits=True)"),
            json!("1.00 Mb")
        );
        assert_eq!(
            eval("1048576 | human_readable(unit='K')"),
            json!("1024.00 KB")
        );
        assert_eq!(eval("'1.5M' | human_to_bytes"), json!(1572864));
        assert_eq!(eval("'3 TB' | human_to_bytes"), json!(3298534883328_i64));
        assert_eq!(eval("'10' | human_to_bytes"), json!(10));
        assert_eq!(eval("'1Mb' | human_to_bytes(isbits=True)"), json!(1048576));
        assert_eq!(eval("5 | human_to_bytes('K')"), json!(5120));
        assert!(eval_err("'1Kb' | human_to_bytes").contains("expect KB or K"));
    }

    #[test]
    fn log_pow_and_root_are_pythons() {
        assert_eq!(eval("100 | log(10)"), json!(2.0));
        assert_eq!(eval("8 | log(2)"), json!(3.0));
        assert_eq!(eval("2 | pow(10)"), json!(1024.0));
        assert_eq!(eval("16 | root"), json!(4.0));
        assert!(eval_err("'x' | log").contains("log() can only be used on numbers"));
    }
}
