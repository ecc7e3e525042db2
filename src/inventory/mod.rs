//! The inventory: hosts and groups loaded from Ansible INI/YAML inventories and their
//! `group_vars/`/`host_vars/`, each host's merged variables, host patterns, and
//! `ansible-inventory`-style output. Dynamic sources: executable scripts (Ansible's protocol),
//! plugin configs (`plugin: constructed`, `plugin: rpatch.script`) and a cache for slow ones.
//!
//! [`Inventory::load`] reads sources, [`Inventory::host_vars`] merges a host's variables in
//! Ansible's precedence order, [`Inventory::select`] evaluates a play's `hosts:` and
//! [`Inventory::select_limit`] a `--limit`.

mod address;
mod constructed;
pub mod discover;
pub mod discovered;
mod dynamic_error;
mod error;
mod govc_plugin;
mod ini;
mod libvirt_plugin;
mod literal;
mod load;
mod model;
mod pattern;
mod plugin;
mod query;
mod range;
mod render;
mod runtime;
mod script;
mod script_plugin;
mod source_cache;
mod source_data;
mod trust;
mod vars_dirs;
mod yaml_format;

#[cfg(test)]
mod test_support;

pub use dynamic_error::DynamicError;
pub use error::{EmptyLimit, InventoryError, PatternError};
pub use load::LoadOptions;
pub use model::{Group, Host, Inventory, ALL, LOCALHOST_NAMES, UNGROUPED};
pub use pattern::{order_elements, split_pattern, Selection};
pub use range::RangeError;
pub use script::{DEFAULT_TIMEOUT as DEFAULT_SCRIPT_TIMEOUT, TIMEOUT_ENV as SCRIPT_TIMEOUT_ENV};

pub(crate) use ini::parse as parse_ini;
pub(crate) use yaml_format::parse as parse_yaml;
