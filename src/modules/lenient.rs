//! Ansible-style loose argument types: `yes`/`no` booleans and numbers written as strings,
//! as `key=value` arguments always arrive.

use serde::de::{Deserializer, Error};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(untagged)]
enum Loose {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

fn to_bool<E: Error>(value: Loose) -> Result<bool, E> {
    match value {
        Loose::Bool(b) => Ok(b),
        Loose::Int(0) => Ok(false),
        Loose::Int(1) => Ok(true),
        Loose::Text(text) => match text.trim().to_ascii_lowercase().as_str() {
            "yes" | "y" | "true" | "t" | "on" | "1" => Ok(true),
            "no" | "n" | "false" | "f" | "off" | "0" | "" => Ok(false),
            _ => Err(E::custom(format!("`{text}` is not a boolean"))),
        },
        _ => Err(E::custom("expected a boolean")),
    }
}

fn to_number<E: Error>(value: Loose) -> Result<f64, E> {
    match value {
        Loose::Int(n) => Ok(n as f64),
        Loose::Float(n) => Ok(n),
        Loose::Text(text) => text
            .trim()
            .parse()
            .map_err(|_| E::custom(format!("`{text}` is not a number"))),
        Loose::Bool(_) => Err(E::custom("expected a number")),
    }
}

/// A boolean, also from `yes`/`no`/`true`/`false`/`on`/`off`/`1`/`0` strings.
pub fn bool<'de, D: Deserializer<'de>>(de: D) -> Result<bool, D::Error> {
    to_bool(Loose::deserialize(de)?)
}

/// An optional boolean, read like [`bool`].
pub fn opt_bool<'de, D: Deserializer<'de>>(de: D) -> Result<Option<bool>, D::Error> {
    Option::<Loose>::deserialize(de)?.map(to_bool).transpose()
}

/// An optional non-negative number of seconds, also from a numeric string: finite and at
/// most [`crate::seconds::MAX_SECONDS`].
pub fn opt_seconds<'de, D: Deserializer<'de>>(de: D) -> Result<Option<f64>, D::Error> {
    let Some(value) = Option::<Loose>::deserialize(de)?
        .map(to_number)
        .transpose()?
    else {
        return Ok(None);
    };
    crate::seconds::seconds(value)
        .map(|_| Some(value))
        .map_err(D::Error::custom)
}

/// A non-negative whole number, also from a numeric string.
pub fn whole<'de, D: Deserializer<'de>>(de: D) -> Result<u64, D::Error> {
    to_whole(to_number(Loose::deserialize(de)?)?)
}

fn to_whole<E: Error>(value: f64) -> Result<u64, E> {
    if value.is_finite() && value >= 0.0 && value.fract() == 0.0 && value <= f64::from(u32::MAX) {
        Ok(value as u64)
    } else {
        Err(E::custom(format!("{value} is not a whole number")))
    }
}

/// An optional non-negative whole number, also from a numeric string.
pub fn opt_whole<'de, D: Deserializer<'de>>(de: D) -> Result<Option<u64>, D::Error> {
    Option::<Loose>::deserialize(de)?
        .map(|loose| to_whole(to_number(loose)?))
        .transpose()
}

/// An optional TCP port, also from a numeric string.
pub fn opt_port<'de, D: Deserializer<'de>>(de: D) -> Result<Option<u16>, D::Error> {
    let Some(value) = Option::<Loose>::deserialize(de)?
        .map(to_number)
        .transpose()?
    else {
        return Ok(None);
    };
    if value.fract() == 0.0 && (1.0..=65535.0).contains(&value) {
        Ok(Some(value as u16))
    } else {
        Err(D::Error::custom(format!("{value} is not a TCP port")))
    }
}

/// A list of words: a YAML list, or one string split at commas (as `k=v` arguments arrive).
pub fn word_list<'de, D: Deserializer<'de>>(de: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(de)? {
        None => Vec::new(),
        Some(OneOrMany::One(text)) => text
            .split(',')
            .map(str::trim)
            .filter(|word| !word.is_empty())
            .map(str::to_string)
            .collect(),
        Some(OneOrMany::Many(words)) => words,
    })
}
