//! The INI inventory format: `[group]`, `[group:vars]` and `[group:children]` sections, host
//! lines with inline `key=value` variables, `#`/`;` comments.

use std::sync::{Arc, LazyLock};

use regex::Regex;

use crate::diagnostic::{Location, Source, Span};
use crate::vars::{self, Vars};

use super::address;
use super::error::InventoryError;
use super::literal;
use super::model::{Inventory, UNGROUPED};

/// `[name]` or `[name:suffix]`, optionally followed by a comment (as Ansible's INI plugin).
static SECTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$").unwrap_or_else(|_| unreachable!())
});

#[derive(Clone, Copy, PartialEq)]
enum State {
    Hosts,
    Vars,
    Children,
}

/// Adds the hosts, groups and variables of an INI inventory to `inventory`.
pub(crate) fn parse(inventory: &mut Inventory, source: &Arc<Source>) -> Result<(), InventoryError> {
    let mut state = State::Hosts;
    let mut group = UNGROUPED.to_string();
    let mut seen = address::Listed::default();
    for (index, raw) in source.text().lines().enumerate() {
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let indent = raw.chars().take_while(|c| c.is_whitespace()).count();
        let at = |offset: usize, len: usize| {
            Location::new(
                source.clone(),
                Span::new(number, to_u32(indent + offset + 1), to_u32(len.max(1))),
            )
        };
        if line.starts_with('[') {
            if let Some(captures) = SECTION.captures(line) {
                let name = captures.get(1).map_or("", |m| m.as_str());
                state = match captures.get(2) {
                    None => State::Hosts,
                    Some(suffix) => match suffix.as_str() {
                        "hosts" => State::Hosts,
                        "vars" => State::Vars,
                        "children" => State::Children,
                        other => {
                            return Err(InventoryError::UnknownSectionType {
                                group: name.to_string(),
                                suffix: other.to_string(),
                                at: at(char_offset(line, suffix.start()), other.chars().count()),
                            })
                        }
                    },
                };
                group = name.to_string();
                inventory.add_group(&group);
                continue;
            }
            if line.ends_with(']') {
                return Err(InventoryError::InvalidSection {
                    text: line.to_string(),
                    at: at(0, line.chars().count()),
                });
            }
        }
        match state {
            State::Hosts => {
                let tokens = split(line).ok_or_else(|| InventoryError::UnclosedQuote {
                    at: at(0, line.chars().count()),
                })?;
                let Some((entry, entry_col, entry_len)) = tokens.first().cloned() else {
                    continue;
                };
                let mut host_vars = Vars::new();
                for (token, col, len) in &tokens[1..] {
                    let Some((key, value)) = token.split_once('=') else {
                        return Err(InventoryError::ExpectedKeyValue {
                            text: token.clone(),
                            at: at(*col, *len),
                        });
                    };
                    host_vars.insert(key.to_string(), vars::from_json(&literal::parse(value)));
                }
                address::add_entry(
                    inventory,
                    &group,
                    &entry,
                    host_vars,
                    &at(entry_col, entry_len),
                    &mut seen,
                    source.path(),
                )?;
            }
            State::Vars => {
                let Some((key, value)) = line.split_once('=') else {
                    return Err(InventoryError::ExpectedKeyValue {
                        text: line.to_string(),
                        at: at(0, line.chars().count()),
                    });
                };
                let mut group_vars = Vars::new();
                group_vars.insert(
                    key.trim().to_string(),
                    vars::from_json(&literal::parse(value.trim())),
                );
                inventory.set_group_vars(&group, group_vars);
            }
            State::Children => {
                let tokens = split(line).ok_or_else(|| InventoryError::UnclosedQuote {
                    at: at(0, line.chars().count()),
                })?;
                if let Some((child, col, len)) = tokens.first() {
                    inventory.add_child(&group, child, Some(at(*col, *len)));
                }
            }
        }
    }
    Ok(())
}

fn to_u32(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

fn char_offset(line: &str, byte: usize) -> usize {
    line.get(..byte).map_or(0, |prefix| prefix.chars().count())
}

/// Splits a line like POSIX `shlex.split(line, comments=True)`: whitespace separates tokens,
/// quotes group and are removed, `\` escapes, an unquoted `#` ends the line. Each token comes
/// with its 0-based character column and width in the line. `None` for an unclosed quote.
fn split(line: &str) -> Option<Vec<(String, usize, usize)>> {
    let mut tokens = Vec::new();
    // Counted once: re-counting at every character made long lines quadratic.
    let width = line.chars().count();
    let mut chars = line.chars().enumerate().peekable();
    let mut current: Option<(String, usize)> = None;
    let mut end = 0;
    while let Some((col, c)) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if let Some((text, start)) = current.take() {
                    tokens.push((text, start, end - start));
                }
                continue;
            }
            '#' => break,
            '\'' | '"' => {
                let token = current.get_or_insert_with(|| (String::new(), col));
                let mut closed = false;
                while let Some((_, inner)) = chars.next() {
                    if inner == c {
                        closed = true;
                        break;
                    }
                    if c == '"' && inner == '\\' {
                        if let Some((_, escaped)) =
                            chars.next_if(|(_, e)| matches!(e, '\\' | '"' | '$' | '`'))
                        {
                            token.0.push(escaped);
                            continue;
                        }
                    }
                    token.0.push(inner);
                }
                if !closed {
                    return None;
                }
            }
            '\\' => {
                let token = current.get_or_insert_with(|| (String::new(), col));
                if let Some((_, escaped)) = chars.next() {
                    token.0.push(escaped);
                }
            }
            c => current
                .get_or_insert_with(|| (String::new(), col))
                .0
                .push(c),
        }
        end = chars.peek().map_or(width, |(next, _)| *next);
    }
    if let Some((text, start)) = current {
        tokens.push((text, start, end - start));
    }
    Some(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::render;
    use crate::inventory::test_support::{json_vars, load_text, load_text_err};
    use serde_json::json;

    #[test]
    fn split_handles_quotes_escapes_and_comments() {
        let tokens = split(r#"web1 a=1 b="x y" c='q "r"' d=e\ f # comment"#).unwrap();
        let texts: Vec<&str> = tokens.iter().map(|t| t.0.as_str()).collect();
        assert_eq!(texts, ["web1", "a=1", "b=x y", r#"c=q "r""#, "d=e f"]);
        assert_eq!((tokens[2].1, tokens[2].2), (9, 7));
        assert!(split("web1 a='open").is_none());
    }

    #[test]
    fn hosts_before_any_section_are_ungrouped() {
        let inventory = load_text("hosts", "lonely\n[web]\nweb1\n");
        assert_eq!(inventory.group("ungrouped").unwrap().hosts, ["lonely"]);
        assert_eq!(inventory.group("web").unwrap().hosts, ["web1"]);
    }

    #[test]
    fn host_line_vars_are_python_literals() {
        let inventory = load_text(
            "hosts",
            "[web]\nweb1 port=8080 ratio=0.5 on=True off=false mode=0644 name=\"a b\" l=\"[1, 'x']\"\n",
        );
        let vars = json_vars(&inventory, "web1");
        assert_eq!(vars["port"], json!(8080));
        assert_eq!(vars["ratio"], json!(0.5));
        assert_eq!(vars["on"], json!(true));
        assert_eq!(vars["off"], json!("false"));
        assert_eq!(vars["mode"], json!("0644"));
        assert_eq!(vars["name"], json!("a b"));
        assert_eq!(vars["l"], json!([1, "x"]));
    }

    #[test]
    fn group_vars_sections_take_the_rest_of_the_line() {
        let inventory = load_text(
            "hosts",
            "[web]\nweb1\n[web:vars]\nmotd = hello world = yes\ncount=3\nquoted='x'\n",
        );
        let vars = json_vars(&inventory, "web1");
        assert_eq!(vars["motd"], json!("hello world = yes"));
        assert_eq!(vars["count"], json!(3));
        assert_eq!(vars["quoted"], json!("x"));
    }

    #[test]
    fn a_port_suffix_sets_ansible_port() {
        let inventory = load_text(
            "hosts",
            "[web]\nweb1:2222\nfe80::1\n[db]\n[2001:db8::5]:2200\n",
        );
        assert_eq!(json_vars(&inventory, "web1")["ansible_port"], json!(2222));
        assert!(json_vars(&inventory, "fe80::1")
            .get("ansible_port")
            .is_none());
        assert_eq!(
            json_vars(&inventory, "2001:db8::5")["ansible_port"],
            json!(2200)
        );
    }

    #[test]
    fn children_sections_nest_groups_and_create_missing_ones() {
        let inventory = load_text(
            "hosts",
            "[web]\nweb1\n[prod:children]\nweb\ndb ; a comment\n",
        );
        assert_eq!(inventory.group("prod").unwrap().children, ["web", "db"]);
        assert!(inventory.group("db").is_some());
    }

    #[test]
    fn ranges_expand_in_host_lines() {
        let inventory = load_text("hosts", "[web]\nweb[01:03] role=front\n");
        let names: Vec<&str> = inventory.hosts().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["web01", "web02", "web03"]);
        assert_eq!(json_vars(&inventory, "web02")["role"], json!("front"));
    }

    fn error_text(text: &str) -> String {
        render(&load_text_err("hosts", text))
    }

    #[test]
    fn several_ranges_and_strides_expand_together() {
        let inventory = load_text(
            "hosts",
            "[r]
rack[1:2]-n[a:b]
odd[1:5:2]
",
        );
        let names: Vec<&str> = inventory.hosts().map(|h| h.name.as_str()).collect();
        assert_eq!(
            names,
            ["rack1-na", "rack1-nb", "rack2-na", "rack2-nb", "odd1", "odd3", "odd5"]
        );
    }

    #[test]
    fn a_range_repeating_a_host_of_the_same_group_is_an_error_at_its_position() {
        let text = error_text(
            "[web]
web02
  web[01:03] x=1
",
        );
        assert!(
            text.contains("host `web02` is listed twice in group `web`"),
            "{text}"
        );
        assert!(text.contains("hosts:3:3"), "{text}");
        assert!(text.contains("web[01:03]"), "{text}");
    }

    #[test]
    fn the_same_range_in_another_group_is_fine() {
        let inventory = load_text(
            "hosts",
            "[web]
web[1:2]
[prod]
web[1:2]
",
        );
        assert_eq!(inventory.group_names("web1"), ["prod", "web"]);
    }

    #[test]
    fn a_malformed_range_is_an_error_at_the_host() {
        let text = error_text(
            "[web]
ok1
web[1:x] a=1
",
        );
        assert!(text.contains("invalid host range `web[1:x]`"), "{text}");
        assert!(text.contains("hosts:3:1"), "{text}");
        let text = error_text(
            "[web]
web[1:3
",
        );
        assert!(text.contains("`[` is never closed"), "{text}");
    }

    #[test]
    fn an_unknown_section_suffix_is_an_error_at_the_suffix() {
        let text = error_text(
            "[web]
web1
[web:varz]
a=1
",
        );
        assert!(
            text.contains("section `[web:varz]` has unknown type `varz`"),
            "{text}"
        );
        assert!(text.contains("hosts:3:6"), "{text}");
    }

    #[test]
    fn a_section_header_with_spaces_is_an_error() {
        let text = error_text(
            "[web servers]
web1
",
        );
        assert!(
            text.contains("invalid section header `[web servers]`"),
            "{text}"
        );
        assert!(text.contains("hosts:1:1"), "{text}");
    }

    #[test]
    fn a_host_token_without_equals_is_an_error_at_the_token() {
        let text = error_text(
            "[web]
web1 a=1 oops
",
        );
        assert!(
            text.contains("expected `key=value`, found `oops`"),
            "{text}"
        );
        assert!(text.contains("hosts:2:10"), "{text}");
        let text = error_text(
            "[web:vars]
just_a_word
",
        );
        assert!(
            text.contains("expected `key=value`, found `just_a_word`"),
            "{text}"
        );
    }

    #[test]
    fn an_unclosed_quote_is_an_error() {
        let text = error_text(
            "[web]
web1 motd='hello
",
        );
        assert!(text.contains("unclosed quote"), "{text}");
        assert!(text.contains("hosts:2:1"), "{text}");
    }

    #[test]
    fn a_non_numeric_port_is_an_error() {
        let text = error_text(
            "[web]
web1:ssh
",
        );
        assert!(text.contains("invalid port in host `web1:ssh`"), "{text}");
    }

    /// About a megabyte of text on one line.
    const MEGABYTE: usize = 1 << 20;

    #[test]
    fn a_megabyte_host_line_of_variables_parses_in_one_pass() {
        // Splitting once re-counted the line at every character: such a line took ~30 s.
        let count = MEGABYTE / 8;
        let pairs: Vec<String> = (0..count).map(|i| format!("k{i}=v")).collect();
        let text = format!("[web]\nweb1 {}\n", pairs.join(" "));
        assert!(text.len() > MEGABYTE);
        let inventory = load_text("hosts", &text);
        let vars = json_vars(&inventory, "web1");
        assert_eq!(vars.keys().filter(|k| k.starts_with('k')).count(), count);
        assert_eq!(vars[&format!("k{}", count - 1)], json!("v"));
    }

    #[test]
    fn a_megabyte_host_name_and_literal_parse() {
        let name = "a".repeat(MEGABYTE);
        let list = vec!["1"; MEGABYTE / 2].join(",");
        let inventory = load_text("hosts", &format!("[web]\n{name} l=[{list}]\n"));
        let vars = json_vars(&inventory, &name);
        assert_eq!(vars["l"].as_array().map(Vec::len), Some(MEGABYTE / 2));
    }

    #[test]
    fn a_megabyte_line_with_an_unclosed_quote_is_an_error_at_its_start() {
        let text = error_text(&format!("[web]\nweb1 motd='{}\n", "x".repeat(MEGABYTE)));
        assert!(text.contains("unclosed quote"), "{text}");
        assert!(text.contains("hosts:2:1"), "{text}");
    }

    #[test]
    fn a_megabyte_of_ranges_on_one_line_is_expanded_or_refused_without_recursion() {
        let inventory = load_text(
            "hosts",
            &format!("[web]\nh{}\n", "[1:1]".repeat(MEGABYTE / 5)),
        );
        assert_eq!(inventory.hosts().count(), 1);
        let text = error_text("[web]\nweb[0:99999]\ndb[0:1]\n");
        assert!(text.contains("expand to more than 100000 names"), "{text}");
        assert!(text.contains("hosts:3:1"), "{text}");
    }

    #[test]
    fn a_long_chain_of_children_sections_is_refused_without_recursing() {
        let chain: String = (0..100_000)
            .map(|i| format!("[g{i}:children]\ng{}\n", i + 1))
            .collect();
        let text = error_text(&chain);
        assert!(text.contains("levels below `all`; at most 256"), "{text}");
        let inventory = load_text("hosts", "[a:children]\nb\n[b:children]\nc\n[c]\nh1\n");
        assert_eq!(inventory.group("c").map(|g| g.depth), Some(3));
    }

    #[test]
    fn a_hundred_thousand_hosts_in_one_group_load_in_linear_time() {
        let hosts: String = (0..100_000).map(|i| format!("h{i}\n")).collect();
        let inventory = load_text("hosts", &format!("[web]\n{hosts}more[0:9999]\n"));
        assert_eq!(inventory.group("web").map(|g| g.hosts.len()), Some(110_000));
        let inventory = load_text("hosts", &hosts);
        assert_eq!(
            inventory.group("ungrouped").map(|g| g.hosts.len()),
            Some(100_000)
        );
    }

    #[test]
    fn comments_with_hash_and_semicolon_are_skipped() {
        let inventory = load_text(
            "hosts",
            "# top
; also
[web] # trailing
web1 a=1 # note
  ; indented
",
        );
        assert_eq!(inventory.group("web").unwrap().hosts, ["web1"]);
        assert_eq!(json_vars(&inventory, "web1").get("a"), Some(&json!(1)));
    }
}
