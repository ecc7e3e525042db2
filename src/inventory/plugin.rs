//! Inventory plugin configs: a YAML file whose top level names a plugin (`plugin: NAME`, as
//! Ansible's `auto` plugin reads it, or `rpatch: NAME`). `constructed` builds groups and
//! variables over the other sources; a discovery plugin produces hosts of its own, optionally
//! cached, and its `compose`/`groups`/`keyed_groups` apply to those hosts.
//!
//! Adding a discovery source (libvirt, govc, a CMDB) is one file implementing [`Discovery`]
//! and one line in [`DISCOVERY`]; caching and the constructed options come for free.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::constructed::Constructable;
use super::dynamic_error::DynamicError;
use super::error::InventoryError;
use super::source_data::SourceData;

/// Names of the constructed layer.
pub const CONSTRUCTED: [&str; 2] = ["constructed", "ansible.builtin.constructed"];

/// Options every discovery plugin shares besides the constructed ones.
const CACHE_KEYS: [&str; 2] = ["cache", "cache_timeout"];
/// The constructed options, which every discovery plugin also takes.
const CONSTRUCTED_KEYS: [&str; 6] = [
    "compose",
    "groups",
    "keyed_groups",
    "strict",
    "leading_separator",
    "use_vars_plugins",
];
/// How long a cached discovery stays fresh unless `cache_timeout` says (Ansible's default).
pub const DEFAULT_CACHE_TIMEOUT: Duration = Duration::from_secs(3600);

/// A plugin config file, read.
#[derive(Debug, Clone)]
pub struct PluginConfig {
    /// The file.
    pub path: PathBuf,
    /// The plugin it names.
    pub name: String,
    /// Its text (part of the cache key).
    pub text: String,
    /// Every other top-level key.
    pub options: Map<String, Value>,
    /// Where each top-level key is written, for errors.
    pub keys: Vec<(String, crate::diagnostic::Location)>,
}

/// What the loader needs from a discovery plugin.
pub trait Discovery: Sync {
    /// The names a config may give in `plugin:`.
    fn names(&self) -> &'static [&'static str];
    /// The plugin's own option names (besides the shared cache and constructed ones).
    fn options(&self) -> &'static [&'static str];
    /// What, besides the config text, decides the discovered data for the cache key (a
    /// script's path, size and mtime, ...).
    fn cache_inputs(
        &self,
        config: &PluginConfig,
        own: &Map<String, Value>,
    ) -> Result<String, InventoryError>;
    /// Discovers hosts and groups. `own` holds the options that are the plugin's own (the
    /// shared cache and constructed options taken out); `timeout` bounds each command it runs.
    fn discover(
        &self,
        config: &PluginConfig,
        own: &Map<String, Value>,
        timeout: Duration,
    ) -> Result<SourceData, InventoryError>;
}

/// The discovery plugins, one line each.
pub static DISCOVERY: &[&dyn Discovery] = &[
    &super::script_plugin::ScriptPlugin,
    &super::libvirt_plugin::LibvirtPlugin,
    &super::govc_plugin::GovcPlugin,
];

/// Every plugin name, for help texts.
pub fn known_names() -> String {
    let mut names: Vec<&str> = CONSTRUCTED.to_vec();
    names.extend(DISCOVERY.iter().flat_map(|d| d.names().iter().copied()));
    names.join(", ")
}

/// The plugin config in `text`, or `None` when the YAML is not one (an ordinary inventory).
pub fn read(path: &Path, text: &str) -> Result<Option<PluginConfig>, InventoryError> {
    let source = crate::diagnostic::Source::new(path, text);
    let node = crate::yaml::parse(&source)?;
    let keys = match &node.kind {
        crate::yaml::NodeKind::Map(entries) => entries
            .iter()
            .map(|(key, _)| {
                let at = crate::diagnostic::Location::new(source.clone(), key.span);
                (key.name.clone(), at)
            })
            .collect(),
        _ => Vec::new(),
    };
    let Value::Object(mut options) = crate::vars::to_json(&crate::vars::from_node(&node)) else {
        return Ok(None);
    };
    let key = ["plugin", "rpatch"]
        .into_iter()
        .find(|k| options.get(*k).is_some_and(Value::is_string));
    let Some(key) = key else { return Ok(None) };
    let name = options
        .remove(key)
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    Ok(Some(PluginConfig {
        path: path.to_path_buf(),
        name,
        text: text.to_string(),
        options,
        keys,
    }))
}

/// What a plugin config asks for.
pub enum Plan<'a> {
    /// A constructed layer over every host.
    Constructed(Constructable),
    /// A discovery plugin with its own options, cache settings and constructed options.
    Discover {
        /// The plugin.
        plugin: &'a dyn Discovery,
        /// Its own options.
        own: Map<String, Value>,
        /// `Some(timeout)` when `cache: true`.
        cache: Option<Duration>,
        /// Constructed options over its hosts.
        constructed: Constructable,
    },
}

impl PluginConfig {
    /// Works out which plugin runs and with which options.
    pub fn plan(&self) -> Result<Plan<'static>, InventoryError> {
        if CONSTRUCTED.contains(&self.name.as_str()) {
            self.check_keys(&CONSTRUCTED_KEYS)?;
            return Ok(Plan::Constructed(
                self.typed(&Value::Object(self.options.clone()))?,
            ));
        }
        let Some(plugin) = DISCOVERY
            .iter()
            .find(|d| d.names().contains(&self.name.as_str()))
        else {
            let mut names: Vec<&str> = CONSTRUCTED.to_vec();
            names.extend(DISCOVERY.iter().flat_map(|d| d.names().iter().copied()));
            return Err(DynamicError::UnknownPlugin {
                path: self.path.clone(),
                name: self.name.clone(),
                suggestion: crate::diagnostic::did_you_mean(&self.name, names),
            }
            .into());
        };
        let mut known: Vec<&str> = CONSTRUCTED_KEYS.to_vec();
        known.extend(CACHE_KEYS);
        known.extend(plugin.options());
        self.check_keys(&known)?;
        let (mut own, mut constructed, mut cache) = (Map::new(), Map::new(), Map::new());
        for (key, value) in &self.options {
            let target = if CONSTRUCTED_KEYS.contains(&key.as_str()) {
                &mut constructed
            } else if CACHE_KEYS.contains(&key.as_str()) {
                &mut cache
            } else {
                &mut own
            };
            target.insert(key.clone(), value.clone());
        }
        let cache: CacheOptions = self.typed(&Value::Object(cache))?;
        Ok(Plan::Discover {
            plugin: *plugin,
            own,
            cache: cache.cache.then(|| {
                cache
                    .cache_timeout
                    .map_or(DEFAULT_CACHE_TIMEOUT, Duration::from_secs)
            }),
            constructed: self.typed(&Value::Object(constructed))?,
        })
    }

    /// Refuses a top-level key that is not in `known` (or the plugin name), at its location.
    fn check_keys(&self, known: &[&str]) -> Result<(), InventoryError> {
        for (key, at) in &self.keys {
            if key == "plugin" || key == "rpatch" || known.contains(&key.as_str()) {
                continue;
            }
            return Err(DynamicError::UnknownOption {
                key: key.clone(),
                plugin: self.name.clone(),
                suggestion: crate::diagnostic::did_you_mean(key, known.iter().copied()),
                known: known.join(", "),
                at: at.clone(),
            }
            .into());
        }
        Ok(())
    }

    /// Deserializes options into `T`, naming this file in the error.
    pub fn typed<T: serde::de::DeserializeOwned>(
        &self,
        value: &Value,
    ) -> Result<T, InventoryError> {
        T::deserialize(value).map_err(|e| {
            DynamicError::BadConfig {
                path: self.path.clone(),
                message: format!("{e} (plugin `{}`)", self.name),
            }
            .into()
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CacheOptions {
    #[serde(default)]
    cache: bool,
    cache_timeout: Option<u64>,
}

/// Runs `future` to completion on a runtime of its own, in a thread of its own: inventories
/// load synchronously, possibly inside the CLI's runtime, and discovery plugins talk async.
pub fn block_on<F>(future: F) -> Result<F::Output, String>
where
    F: std::future::Future + Send,
    F::Output: Send,
{
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map(|runtime| runtime.block_on(future))
                    .map_err(|e| format!("cannot start a runtime: {e}"))
            })
            .join()
            .unwrap_or_else(|_| Err("the discovery thread panicked".into()))
    })
}
