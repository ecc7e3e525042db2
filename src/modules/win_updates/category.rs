//! Windows Update category names for `category_names`: the classifications the Windows Update
//! Agent reports in `IUpdate.Categories`, with the short and space-less spellings Ansible
//! accepts (`Critical`, `SecurityUpdates`), checked on the controller so that a typo is a
//! load error, not an empty search on the host.

use serde::de::{self, Deserializer};
use serde::Deserialize;

/// Every classification name, as the agent spells it.
pub(super) const KNOWN: &[&str] = &[
    "Application",
    "Connectors",
    "Critical Updates",
    "Definition Updates",
    "Developer Kits",
    "Drivers",
    "Feature Packs",
    "Guidance",
    "Security Updates",
    "Service Packs",
    "Tools",
    "Update Rollups",
    "Updates",
    "Upgrades",
];

/// Ansible's default: critical and security updates and update rollups.
pub(super) fn default_categories() -> Vec<String> {
    ["Critical Updates", "Security Updates", "Update Rollups"]
        .map(String::from)
        .to_vec()
}

/// The agent's spelling of `name`, `*` for every category, or `None` for an unknown name.
/// Case and spaces do not matter, and `Critical`, `Security`, `Definition` name their
/// `… Updates` classification.
pub(super) fn canonical(name: &str) -> Option<&'static str> {
    let squashed: String = name
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    if squashed == "*" {
        return Some("*");
    }
    KNOWN.iter().copied().find(|known| {
        let known_squashed = known.replace(' ', "").to_ascii_lowercase();
        known_squashed == squashed
            || known_squashed
                .strip_suffix("updates")
                .is_some_and(|stem| !stem.is_empty() && stem == squashed)
    })
}

/// Deserializes `category_names` (a list or a comma-separated string) into the agent's
/// spellings; an unknown name is an error listing the known ones.
pub(super) fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<Vec<String>, D::Error> {
    let names = super::super::lenient::word_list(de)?;
    if names.is_empty() {
        return Err(de::Error::custom(
            "`category_names` is empty: name at least one category, or `*` for all",
        ));
    }
    names
        .iter()
        .map(|name| {
            canonical(name).map(String::from).ok_or_else(|| {
                de::Error::custom(format!(
                    "unknown update category `{name}` in `category_names`; expected one of: \
                     {}, or `*` for all",
                    KNOWN.join(", ")
                ))
            })
        })
        .collect()
}

/// A wrapper so `Option<Vec<String>>` fields can use [`deserialize`].
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub(super) struct Categories(#[serde(deserialize_with = "deserialize")] pub Vec<String>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_names_accept_ansibles_spellings() {
        assert_eq!(canonical("Critical"), Some("Critical Updates"));
        assert_eq!(canonical("SecurityUpdates"), Some("Security Updates"));
        assert_eq!(canonical("update rollups"), Some("Update Rollups"));
        assert_eq!(canonical("Definition"), Some("Definition Updates"));
        assert_eq!(canonical("Updates"), Some("Updates"));
        assert_eq!(canonical("*"), Some("*"));
        assert_eq!(canonical("Securty"), None);
        assert_eq!(canonical(""), None);
    }

    #[test]
    fn an_unknown_category_is_an_error_naming_it_and_the_known_ones() {
        let json = serde_json::json!(["Security", "Patches"]);
        let error = serde_json::from_value::<Categories>(json).expect_err("unknown");
        let text = error.to_string();
        assert!(text.contains("unknown update category `Patches`"), "{text}");
        assert!(text.contains("Critical Updates, Definition Updates"), "{text}");
        let ok = serde_json::from_value::<Categories>(serde_json::json!("Critical, Security"))
            .expect("known");
        assert_eq!(ok.0, ["Critical Updates", "Security Updates"]);
    }
}
