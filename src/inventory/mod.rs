//! The inventory: hosts and groups loaded from Ansible INI/YAML inventories and their
//! `group_vars/`/`host_vars/`, each host's merged variables, host patterns, and
//! `ansible-inventory`-style output.
//!
//! [`Inventory::load`] reads sources, [`Inventory::host_vars`] merges a host's variables in
//! Ansible's precedence order, [`Inventory::select`] evaluates a play's `hosts:` and
//! [`Inventory::select_limit`] a `--limit`.

mod address;
pub mod discover;
pub mod discovered;
mod error;
mod ini;
mod literal;
mod load;
mod model;
mod pattern;
mod query;
mod range;
mod render;
mod vars_dirs;
mod yaml_format;

#[cfg(test)]
mod test_support;

pub use error::{EmptyLimit, InventoryError, PatternError};
pub use model::{Group, Host, Inventory, ALL, LOCALHOST_NAMES, UNGROUPED};
pub use pattern::{order_elements, split_pattern, Selection};
pub use range::RangeError;

pub(crate) use ini::parse as parse_ini;
pub(crate) use yaml_format::parse as parse_yaml;
