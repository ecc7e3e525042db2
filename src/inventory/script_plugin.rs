//! `plugin: rpatch.script`: an inventory script run through a config file, so that its output
//! can be cached (`cache: true`, `cache_timeout`) and its hosts given `compose`/`keyed_groups`.
//!
//! ```yaml
//! plugin: rpatch.script
//! path: cmdb.sh        # relative to this file
//! timeout: 120         # seconds for each call (default $RPATCH_INVENTORY_TIMEOUT, else 30)
//! cache: true
//! cache_timeout: 600
//! ```

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::dynamic_error::DynamicError;
use super::error::InventoryError;
use super::plugin::{Discovery, PluginConfig};
use super::source_data::SourceData;

/// The `rpatch.script` plugin.
pub struct ScriptPlugin;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    path: PathBuf,
    timeout: Option<f64>,
}

impl ScriptPlugin {
    fn options(
        config: &PluginConfig,
        own: &Map<String, Value>,
    ) -> Result<(PathBuf, Option<Duration>), InventoryError> {
        let options: Options = config.typed(&Value::Object(own.clone()))?;
        let dir = config.path.parent().unwrap_or(std::path::Path::new("."));
        let timeout = options
            .timeout
            .map(|t| {
                crate::seconds::seconds(t).map_err(|e| DynamicError::BadConfig {
                    path: config.path.clone(),
                    message: format!("`timeout`: {e}"),
                })
            })
            .transpose()?;
        Ok((dir.join(options.path), timeout))
    }
}

impl Discovery for ScriptPlugin {
    fn names(&self) -> &'static [&'static str] {
        &["rpatch.script"]
    }

    fn options(&self) -> &'static [&'static str] {
        &["path", "timeout"]
    }

    fn cache_inputs(
        &self,
        config: &PluginConfig,
        own: &Map<String, Value>,
    ) -> Result<String, InventoryError> {
        let (path, _) = Self::options(config, own)?;
        let meta = std::fs::metadata(&path).map_err(|source| InventoryError::Io {
            path: path.clone(),
            source,
        })?;
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        Ok(format!("{}\0{}\0{modified}", path.display(), meta.len()))
    }

    fn discover(
        &self,
        config: &PluginConfig,
        own: &Map<String, Value>,
        timeout: Duration,
    ) -> Result<SourceData, InventoryError> {
        let (path, own_timeout) = Self::options(config, own)?;
        if !super::script::is_executable(&path) {
            return Err(DynamicError::BadConfig {
                path: config.path.clone(),
                message: format!("`path`: {} is not an executable file", path.display()),
            }
            .into());
        }
        super::script::discover(&path, own_timeout.unwrap_or(timeout))?.ok_or_else(|| {
            DynamicError::BadConfig {
                path: config.path.clone(),
                message: format!(
                    "`path`: {} cannot be executed (no `#!` line?)",
                    path.display()
                ),
            }
            .into()
        })
    }
}
