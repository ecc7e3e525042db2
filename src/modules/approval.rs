//! Approval rules of the package modules: `approve: { security: 0d, other: 7d }` (an update
//! is approved that long after it was published) and `reject: [names or globs]`. An update
//! that is not approved, or rejected, is held back and reported as [`HeldBack`], never silently
//! dropped. Where the publication date comes from is the module's business (apt: the `Date` of
//! the Release file of the suite the candidate comes from; dnf: the advisory's `issued` date,
//! else the package's build time).

use serde::{Deserialize, Serialize};

/// `approve:` as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproveArgs {
    /// Delay for security updates (`0d`).
    #[serde(default)]
    security: Option<String>,
    /// Delay for every other update (`7d`).
    #[serde(default)]
    other: Option<String>,
}

/// Checked approval rules, as the host scripts use them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Approval {
    /// Seconds after publication a security update is approved (`None`: no delay rule).
    pub security: Option<u64>,
    /// Seconds after publication any other update is approved.
    pub other: Option<u64>,
    /// Names or globs never upgraded.
    pub reject: Vec<String>,
}

impl Approval {
    /// The rules of `approve` and `reject`; `None` when there are none. Errors say what is
    /// wrong with which value.
    pub fn from_args(
        approve: Option<&ApproveArgs>,
        reject: &[String],
    ) -> Result<Option<Self>, String> {
        let delay = |key: &str, text: &Option<String>| -> Result<Option<u64>, String> {
            text.as_deref()
                .map(|text| {
                    crate::stages::parse_period(text)
                        .map(|d| d.as_secs())
                        .ok_or_else(|| {
                            format!(
                                "approve.{key}: `{text}` is not a period (a number and a unit: \
                                 s, m, h, d or w, e.g. `0d`, `7d`)"
                            )
                        })
                })
                .transpose()
        };
        for glob in reject {
            let allowed = |c: char| c.is_ascii_alphanumeric() || "._+-:*?[]~".contains(c);
            if glob.is_empty() || glob.starts_with('-') || !glob.chars().all(allowed) {
                return Err(format!(
                    "reject: `{glob}` is not a package name or glob (letters, digits and \
                     `._+-:*?[]~` only)"
                ));
            }
        }
        let (security, other) = match approve {
            Some(args) => (
                delay("security", &args.security)?,
                delay("other", &args.other)?,
            ),
            None => (None, None),
        };
        if approve.is_some() && security.is_none() && other.is_none() {
            return Err(
                "approve: give `security` and/or `other` (e.g. `{ security: 0d, other: 7d }`)"
                    .into(),
            );
        }
        let rules = Self {
            security,
            other,
            reject: reject.to_vec(),
        };
        Ok((rules != Self::default()).then_some(rules))
    }

    /// The rules as shell assignments: `approve_security`, `approve_other` (seconds, `-1` for no
    /// rule) and `reject` (the globs, space-separated, quoted).
    pub fn shell_vars(&self) -> String {
        let seconds = |delay: Option<u64>| delay.map_or("-1".to_string(), |s| s.to_string());
        format!(
            "approve_security={}\napprove_other={}\nreject={}\n",
            seconds(self.security),
            seconds(self.other),
            crate::shell::quote(&self.reject.join(" "))
        )
    }
}

/// An update held back by the approval rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeldBack {
    /// The package.
    pub name: String,
    /// The version held back.
    pub version: String,
    /// `rejected` or `not_approved`.
    pub reason: String,
    /// The rule: the `reject` glob, or `security: 0d`-style delay rule that applied.
    pub rule: String,
    /// When it was published (RFC 3339), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    /// When it is approved (RFC 3339), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approved_from: Option<String>,
}

impl HeldBack {
    /// Reads a script's `held-back NAME VERSION rejected GLOB` or
    /// `held-back NAME VERSION unapproved CLASS PUBLISHED|- APPROVED|-` words (epoch seconds).
    pub fn from_words(words: &[&str], approval: Option<&Approval>) -> Option<Self> {
        let instant = |word: &str| {
            word.parse::<i64>()
                .ok()
                .and_then(|s| jiff::Timestamp::from_second(s).ok())
                .map(|t| t.to_string())
        };
        match words {
            [name, version, "rejected", glob] => Some(Self {
                name: name.to_string(),
                version: version.to_string(),
                reason: "rejected".into(),
                rule: format!("reject: {glob}"),
                published: None,
                approved_from: None,
            }),
            [name, version, "unapproved", class, published, approved] => {
                let delay = approval.and_then(|a| {
                    if *class == "security" {
                        a.security
                    } else {
                        a.other
                    }
                });
                Some(Self {
                    name: name.to_string(),
                    version: version.to_string(),
                    reason: "not_approved".into(),
                    rule: match delay {
                        Some(seconds) if seconds % 86_400 == 0 => {
                            format!("{class}: {}d", seconds / 86_400)
                        }
                        Some(seconds) => format!("{class}: {seconds}s"),
                        None => class.to_string(),
                    },
                    published: instant(published),
                    approved_from: instant(approved),
                })
            }
            _ => None,
        }
    }

    /// One line for a task's message.
    pub fn describe(&self) -> String {
        match (&self.published, &self.approved_from) {
            (_, Some(from)) => format!(
                "{} {} (approved from {from}, {})",
                self.name, self.version, self.rule
            ),
            _ if self.reason == "rejected" => {
                format!("{} {} ({})", self.name, self.version, self.rule)
            }
            _ => format!(
                "{} {} (publication date unknown, {})",
                self.name, self.version, self.rule
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approval_rules_read_periods_and_globs() {
        let args = ApproveArgs {
            security: Some("0d".into()),
            other: Some("7d".into()),
        };
        let rules = Approval::from_args(Some(&args), &["linux-image-*".into()])
            .expect("valid")
            .expect("rules");
        assert_eq!(rules.security, Some(0));
        assert_eq!(rules.other, Some(7 * 86_400));
        assert!(rules.shell_vars().contains("approve_other=604800\n"));
        assert_eq!(Approval::from_args(None, &[]), Ok(None));
        let bad = ApproveArgs {
            security: None,
            other: Some("7x".into()),
        };
        let error = Approval::from_args(Some(&bad), &[]).expect_err("7x");
        assert!(
            error.contains("approve.other: `7x` is not a period"),
            "{error}"
        );
        let error = Approval::from_args(None, &["a;b".into()]).expect_err("a;b");
        assert!(
            error.contains("`a;b` is not a package name or glob"),
            "{error}"
        );
    }

    #[test]
    fn held_back_words_become_dated_entries() {
        let rules = Approval {
            security: Some(0),
            other: Some(7 * 86_400),
            reject: vec![],
        };
        let held = HeldBack::from_words(
            &[
                "curl",
                "7.88",
                "unapproved",
                "other",
                "1764547200",
                "1765152000",
            ],
            Some(&rules),
        )
        .expect("parsed");
        assert_eq!(held.rule, "other: 7d");
        assert_eq!(held.published.as_deref(), Some("2025-12-01T00:00:00Z"));
        assert_eq!(held.approved_from.as_deref(), Some("2025-12-08T00:00:00Z"));
        let rejected =
            HeldBack::from_words(&["kernel", "6.1", "rejected", "kern*"], None).expect("parsed");
        assert_eq!(rejected.describe(), "kernel 6.1 (reject: kern*)");
        assert_eq!(HeldBack::from_words(&["x"], None), None);
    }
}
