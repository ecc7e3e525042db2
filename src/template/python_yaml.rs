//! `yaml.dump` as Ansible's `to_yaml` / `to_nice_yaml` print it (PyYAML's `CSafeDumper`, that is
//! libyaml's emitter): indentation, flow style for collections of scalars when
//! `default_flow_style` is `None`, sorted keys, scalar quoting chosen by the emitter's analysis
//! and the YAML 1.1 resolver, and line folding at `width`. A port of the parts of libyaml's
//! `emitter.c` plain data needs.

use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value as Json;

/// How to dump, as `yaml.dump`'s keyword arguments.
pub(crate) struct DumpOptions {
    /// `None`: collections holding only scalars are written in flow style.
    pub default_flow_style: Option<bool>,
    /// Spaces per level (PyYAML keeps 2 unless 1 < indent < 10).
    pub indent: usize,
    /// Preferred line width.
    pub width: usize,
    /// Mapping keys sorted.
    pub sort_keys: bool,
    /// `---` before the document.
    pub explicit_start: bool,
}

/// `yaml.dump(value, allow_unicode=True, ...)`.
pub(crate) fn dump(value: &Json, options: &DumpOptions) -> String {
    let best_indent = if options.indent > 1 && options.indent < 10 {
        options.indent
    } else {
        2
    };
    let best_width = if options.width > best_indent * 2 {
        options.width
    } else {
        80
    };
    let mut emitter = Emitter {
        out: String::new(),
        options,
        best_indent,
        best_width,
        indent: None,
        indents: Vec::new(),
        flow_level: 0,
        column: 0,
        whitespace: true,
        indention: true,
        sequence: false,
        mapping: false,
        simple_key: false,
    };
    if options.explicit_start {
        emitter.write_indicator("---", true, false, false);
    }
    emitter.node(value, false, false, false);
    // The document end: libyaml writes no `...` after an open-ended plain scalar.
    emitter.write_indent();
    emitter.out
}

struct Emitter<'a> {
    out: String,
    options: &'a DumpOptions,
    best_indent: usize,
    best_width: usize,
    indent: Option<usize>,
    indents: Vec<Option<usize>>,
    flow_level: usize,
    column: usize,
    whitespace: bool,
    indention: bool,
    sequence: bool,
    mapping: bool,
    simple_key: bool,
}

fn is_break(c: char) -> bool {
    matches!(c, '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_space_or_break(c: char) -> bool {
    matches!(
        c,
        '\0' | ' ' | '\t' | '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

impl Emitter<'_> {
    fn write(&mut self, data: &str) {
        self.out.push_str(data);
    }

    fn write_indicator(
        &mut self,
        indicator: &str,
        need_space: bool,
        whitespace: bool,
        indention: bool,
    ) {
        let data = if self.whitespace || !need_space {
            indicator.to_string()
        } else {
            format!(" {indicator}")
        };
        self.whitespace = whitespace;
        self.indention = self.indention && indention;
        self.column += data.chars().count();
        self.write(&data);
    }

    fn write_indent(&mut self) {
        let indent = self.indent.unwrap_or(0);
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.write_line_break(None);
        }
        if self.column < indent {
            self.whitespace = true;
            let pad = " ".repeat(indent - self.column);
            self.column = indent;
            self.write(&pad);
        }
    }

    fn write_line_break(&mut self, data: Option<char>) {
        self.whitespace = true;
        self.indention = true;
        self.column = 0;
        self.out.push(data.unwrap_or('\n'));
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        match self.indent {
            None => self.indent = Some(if flow { self.best_indent } else { 0 }),
            Some(indent) if !indentless => self.indent = Some(indent + self.best_indent),
            Some(_) => {}
        }
    }

    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().flatten();
    }

    /// `represent_*`: a collection is flow style when every child is a scalar.
    fn flow_style(&self, value: &Json) -> bool {
        if let Some(style) = self.options.default_flow_style {
            return style;
        }
        let scalar = |v: &Json| !matches!(v, Json::Array(_) | Json::Object(_));
        match value {
            Json::Array(items) => items.iter().all(scalar),
            Json::Object(map) => map.values().all(scalar),
            _ => false,
        }
    }

    fn entries<'v>(&self, map: &'v serde_json::Map<String, Json>) -> Vec<(&'v String, &'v Json)> {
        let mut entries: Vec<_> = map.iter().collect();
        if self.options.sort_keys {
            entries.sort_by(|a, b| a.0.cmp(b.0));
        }
        entries
    }

    fn node(&mut self, value: &Json, sequence: bool, mapping: bool, simple_key: bool) {
        self.sequence = sequence;
        self.mapping = mapping;
        self.simple_key = simple_key;
        match value {
            Json::Array(items) => {
                if self.flow_level > 0 || self.flow_style(value) || items.is_empty() {
                    self.flow_sequence(items);
                } else {
                    self.block_sequence(items);
                }
            }
            Json::Object(map) => {
                if self.flow_level > 0 || self.flow_style(value) || map.is_empty() {
                    self.flow_mapping(map);
                } else {
                    self.block_mapping(map);
                }
            }
            scalar => {
                self.increase_indent(true, false);
                self.scalar(scalar);
                self.pop_indent();
            }
        }
    }

    fn flow_sequence(&mut self, items: &[Json]) {
        self.write_indicator("[", true, true, false);
        self.flow_level += 1;
        self.increase_indent(true, false);
        for (index, item) in items.iter().enumerate() {
            if index > 0 {
                self.write_indicator(",", false, false, false);
            }
            if self.column > self.best_width {
                self.write_indent();
            }
            self.node(item, true, false, false);
        }
        self.pop_indent();
        self.flow_level -= 1;
        self.write_indicator("]", false, false, false);
    }

    fn flow_mapping(&mut self, map: &serde_json::Map<String, Json>) {
        self.write_indicator("{", true, true, false);
        self.flow_level += 1;
        self.increase_indent(true, false);
        for (index, (key, value)) in self.entries(map).into_iter().enumerate() {
            if index > 0 {
                self.write_indicator(",", false, false, false);
            }
            if self.column > self.best_width {
                self.write_indent();
            }
            self.node(&Json::String(key.clone()), false, true, true);
            self.write_indicator(":", false, false, false);
            self.node(value, false, true, false);
        }
        self.pop_indent();
        self.flow_level -= 1;
        self.write_indicator("}", false, false, false);
    }

    fn block_sequence(&mut self, items: &[Json]) {
        let indentless = self.mapping && !self.indention;
        self.increase_indent(false, indentless);
        for item in items {
            self.write_indent();
            self.write_indicator("-", true, false, true);
            self.node(item, true, false, false);
        }
        self.pop_indent();
    }

    fn block_mapping(&mut self, map: &serde_json::Map<String, Json>) {
        self.increase_indent(false, false);
        for (key, value) in self.entries(map) {
            self.write_indent();
            self.node(&Json::String(key.clone()), false, true, true);
            self.write_indicator(":", false, false, false);
            self.node(value, false, true, false);
        }
        self.pop_indent();
    }

    fn scalar(&mut self, value: &Json) {
        let (text, is_str) = match value {
            Json::Null => ("null".to_string(), false),
            Json::Bool(b) => (b.to_string(), false),
            Json::Number(n) => (number(n), false),
            Json::String(s) => (s.clone(), true),
            _ => (String::new(), false),
        };
        let analysis = analyze(&text);
        // A string that would read back as another type (`yes`, `1`, `~`) is never plain.
        let implicit = !is_str || !resolves_to_other(&text);
        let multiline_key = self.simple_key && (analysis.empty || analysis.multiline);
        let plain_allowed = if self.flow_level > 0 {
            analysis.allow_flow_plain
        } else {
            analysis.allow_block_plain
        };
        let split = !self.simple_key;
        if implicit && !multiline_key && plain_allowed {
            self.write_plain(&text, split);
        } else if analysis.allow_single_quoted && !(self.simple_key && analysis.multiline) {
            self.write_single_quoted(&text, split);
        } else {
            self.write_double_quoted(&text, split);
        }
    }

    fn write_plain(&mut self, text: &str, split: bool) {
        if text.is_empty() {
            return;
        }
        if !self.whitespace {
            self.column += 1;
            self.write(" ");
        }
        self.whitespace = false;
        self.indention = false;
        let chars: Vec<char> = text.chars().collect();
        let (mut spaces, mut start) = (false, 0);
        for end in 0..=chars.len() {
            let ch = chars.get(end).copied();
            if spaces {
                if ch != Some(' ') {
                    if start + 1 == end && self.column > self.best_width && split {
                        self.write_indent();
                        self.whitespace = false;
                        self.indention = false;
                    } else {
                        self.write_chunk(&chars[start..end]);
                    }
                    start = end;
                }
            } else if ch.is_none_or(|c| c == ' ' || is_break(c)) {
                self.write_chunk(&chars[start..end]);
                start = end;
            }
            if let Some(c) = ch {
                spaces = c == ' ';
            }
        }
    }

    fn write_chunk(&mut self, chunk: &[char]) {
        self.column += chunk.len();
        let text: String = chunk.iter().collect();
        self.write(&text);
    }

    fn write_breaks(&mut self, chunk: &[char]) {
        if chunk.first() == Some(&'\n') {
            self.write_line_break(None);
        }
        for br in chunk {
            self.write_line_break(Some(*br));
        }
        self.write_indent();
    }

    fn write_single_quoted(&mut self, text: &str, split: bool) {
        self.write_indicator("'", true, false, false);
        let chars: Vec<char> = text.chars().collect();
        let (mut spaces, mut breaks, mut start) = (false, false, 0);
        for end in 0..=chars.len() {
            let ch = chars.get(end).copied();
            if spaces {
                if ch != Some(' ') {
                    if start + 1 == end
                        && self.column > self.best_width
                        && split
                        && start != 0
                        && end != chars.len()
                    {
                        self.write_indent();
                    } else {
                        self.write_chunk(&chars[start..end]);
                    }
                    start = end;
                }
            } else if breaks {
                if ch.is_none_or(|c| !is_break(c)) {
                    self.write_breaks(&chars[start..end]);
                    start = end;
                }
            } else if ch.is_none_or(|c| c == ' ' || is_break(c) || c == '\'') && start < end {
                self.write_chunk(&chars[start..end]);
                start = end;
            }
            if ch == Some('\'') {
                self.column += 2;
                self.write("''");
                start = end + 1;
            }
            if let Some(c) = ch {
                spaces = c == ' ';
                breaks = is_break(c);
            }
        }
        self.write_indicator("'", false, false, false);
    }

    fn write_double_quoted(&mut self, text: &str, split: bool) {
        self.write_indicator("\"", true, false, false);
        let chars: Vec<char> = text.chars().collect();
        let mut spaces = false;
        for (index, &c) in chars.iter().enumerate() {
            if !printable(c) || matches!(c, '\u{FEFF}' | '"' | '\\') || is_break(c) || c == '\r' {
                let data = match c {
                    '\0' => "\\0".to_string(),
                    '\u{07}' => "\\a".to_string(),
                    '\u{08}' => "\\b".to_string(),
                    '\t' => "\\t".to_string(),
                    '\n' => "\\n".to_string(),
                    '\u{0B}' => "\\v".to_string(),
                    '\u{0C}' => "\\f".to_string(),
                    '\r' => "\\r".to_string(),
                    '\u{1B}' => "\\e".to_string(),
                    '"' => "\\\"".to_string(),
                    '\\' => "\\\\".to_string(),
                    '\u{85}' => "\\N".to_string(),
                    '\u{A0}' => "\\_".to_string(),
                    '\u{2028}' => "\\L".to_string(),
                    '\u{2029}' => "\\P".to_string(),
                    c if (c as u32) <= 0xFF => format!("\\x{:02X}", c as u32),
                    c if (c as u32) <= 0xFFFF => format!("\\u{:04X}", c as u32),
                    c => format!("\\U{:08X}", c as u32),
                };
                self.column += data.len();
                self.write(&data);
                spaces = false;
            } else if c == ' ' {
                if split
                    && !spaces
                    && self.column > self.best_width
                    && index != 0
                    && index + 1 != chars.len()
                {
                    self.write_indent();
                    if chars.get(index + 1) == Some(&' ') {
                        self.column += 1;
                        self.write("\\");
                    }
                } else {
                    self.write_chunk(&[c]);
                }
                spaces = true;
            } else {
                self.write_chunk(&[c]);
                spaces = false;
            }
        }
        self.write_indicator("\"", false, false, false);
    }
}

/// libyaml's printable characters (`\n`, ASCII, and the BMP outside surrogates).
fn printable(c: char) -> bool {
    c == '\n'
        || ('\u{20}'..='\u{7E}').contains(&c)
        || c == '\u{85}'
        || (('\u{A0}'..='\u{D7FF}').contains(&c) || ('\u{E000}'..='\u{FFFD}').contains(&c))
            && c != '\u{FEFF}'
}

/// A number as PyYAML's representer writes it (`repr` for floats, `.inf`, `1.0e+20`).
fn number(n: &serde_json::Number) -> String {
    if let Some(f) = n.as_f64().filter(|_| n.is_f64()) {
        if f.is_nan() {
            return ".nan".into();
        }
        if f.is_infinite() {
            return if f > 0.0 { ".inf" } else { "-.inf" }.into();
        }
        let text = super::python_json::python_float(f).to_lowercase();
        if !text.contains('.') && text.contains('e') {
            return text.replacen('e', ".0e", 1);
        }
        return text;
    }
    n.to_string()
}

/// What PyYAML's `analyze_scalar` decides about a text.
struct Analysis {
    empty: bool,
    multiline: bool,
    allow_flow_plain: bool,
    allow_block_plain: bool,
    allow_single_quoted: bool,
}

fn analyze(text: &str) -> Analysis {
    if text.is_empty() {
        return Analysis {
            empty: true,
            multiline: false,
            allow_flow_plain: false,
            allow_block_plain: true,
            allow_single_quoted: true,
        };
    }
    let chars: Vec<char> = text.chars().collect();
    let (mut block_indicators, mut flow_indicators) = (false, false);
    let (mut line_breaks, mut special) = (false, false);
    let (mut leading_space, mut leading_break) = (false, false);
    let (mut trailing_space, mut trailing_break) = (false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    if text.starts_with("---") || text.starts_with("...") {
        block_indicators = true;
        flow_indicators = true;
    }
    let mut preceded_by_whitespace = true;
    let mut followed_by_whitespace = chars.len() == 1 || is_space_or_break(chars[1]);
    for (index, &ch) in chars.iter().enumerate() {
        if index == 0 {
            if "#,[]{}&*!|>'\"%@`".contains(ch) {
                flow_indicators = true;
                block_indicators = true;
            }
            if ch == '?' || ch == ':' {
                flow_indicators = true;
                if followed_by_whitespace {
                    block_indicators = true;
                }
            }
            if ch == '-' && followed_by_whitespace {
                flow_indicators = true;
                block_indicators = true;
            }
        } else {
            if ",?[]{}".contains(ch) {
                flow_indicators = true;
            }
            if ch == ':' {
                flow_indicators = true;
                if followed_by_whitespace {
                    block_indicators = true;
                }
            }
            if ch == '#' && preceded_by_whitespace {
                flow_indicators = true;
                block_indicators = true;
            }
        }
        if is_break(ch) {
            line_breaks = true;
        }
        if !printable(ch) {
            special = true;
        }
        if ch == ' ' {
            if index == 0 {
                leading_space = true;
            }
            if index == chars.len() - 1 {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if is_break(ch) {
            if index == 0 {
                leading_break = true;
            }
            if index == chars.len() - 1 {
                trailing_break = true;
            }
            if previous_space {
                space_break = true;
            }
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = is_space_or_break(ch);
        followed_by_whitespace = index + 2 >= chars.len() || is_space_or_break(chars[index + 2]);
    }
    let (mut flow_plain, mut block_plain, mut single) = (true, true, true);
    if leading_space || leading_break || trailing_space || trailing_break {
        flow_plain = false;
        block_plain = false;
    }
    if break_space {
        flow_plain = false;
        block_plain = false;
        single = false;
    }
    if space_break || special {
        flow_plain = false;
        block_plain = false;
        single = false;
    }
    if line_breaks {
        flow_plain = false;
        block_plain = false;
    }
    if flow_indicators {
        flow_plain = false;
    }
    if block_indicators {
        block_plain = false;
    }
    Analysis {
        empty: false,
        multiline: line_breaks,
        allow_flow_plain: flow_plain,
        allow_block_plain: block_plain,
        allow_single_quoted: single,
    }
}

/// Whether PyYAML's YAML 1.1 resolver reads the plain text as something other than a string.
fn resolves_to_other(text: &str) -> bool {
    static RESOLVER: OnceLock<Option<Regex>> = OnceLock::new();
    let resolver = RESOLVER.get_or_init(|| {
        Regex::new(concat!(
            r"^(?:",
            r"yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF",
            r"|[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?",
            r"|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?",
            r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*",
            r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
            r"|[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+",
            r"|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+",
            r"|<<|~|null|Null|NULL|=",
            r"|[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]",
            r"|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]",
            r":[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?",
            r")\n?$"
        ))
        .ok()
    });
    text.is_empty() || resolver.as_ref().is_some_and(|re| re.is_match(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn yaml(value: Json) -> String {
        dump(
            &value,
            &DumpOptions {
                default_flow_style: None,
                indent: 2,
                width: 80,
                sort_keys: true,
                explicit_start: false,
            },
        )
    }

    fn nice(value: Json) -> String {
        dump(
            &value,
            &DumpOptions {
                default_flow_style: Some(false),
                indent: 4,
                width: 80,
                sort_keys: true,
                explicit_start: false,
            },
        )
    }

    // Expected texts were printed by PyYAML 6 (`yaml.dump(v, allow_unicode=True, ...)`).
    #[test]
    fn to_yaml_writes_collections_of_scalars_in_flow_style() {
        assert_eq!(yaml(json!({"k": [1, 2]})), "k: [1, 2]\n");
        assert_eq!(yaml(json!({"b": 1, "a": "x"})), "{a: x, b: 1}\n");
        assert_eq!(
            yaml(json!({"a": {"b": [1, {"c": null}]}, "d": []})),
            "a:\n  b:\n  - 1\n  - {c: null}\nd: []\n"
        );
        assert_eq!(yaml(json!("abc")), "abc\n");
        assert_eq!(yaml(json!([[1, 2], "x"])), "- [1, 2]\n- x\n");
    }

    #[test]
    fn to_nice_yaml_sorts_keys_and_indents_by_four() {
        assert_eq!(
            nice(json!({"b": 1, "a": ["x", "y"], "c": {"d": "e"}})),
            "a:\n- x\n- y\nb: 1\nc:\n    d: e\n"
        );
        assert_eq!(nice(json!([{"a": 1, "b": 2}])), "-   a: 1\n    b: 2\n");
        assert_eq!(nice(json!([[1, 2]])), "-   - 1\n    - 2\n");
    }

    #[test]
    fn strings_are_quoted_as_pyyaml_quotes_them() {
        assert_eq!(
            yaml(json!({"a": "yes", "b": "1", "c": "", "d": "x: y", "e": "it's", "f": "a\tb"})),
            "{a: 'yes', b: '1', c: '', d: 'x: y', e: it's, f: \"a\\tb\"}\n"
        );
        assert_eq!(
            nice(json!({"k": "- x", "l": "#c", "m": "a #b", "n": "0644", "o": "~"})),
            "k: '- x'\nl: '#c'\nm: 'a #b'\nn: '0644'\no: '~'\n"
        );
        assert_eq!(nice(json!({"t": "a\nb"})), "t: 'a\n\n    b'\n");
        assert_eq!(
            nice(json!({"u": "héllo", "v": 1.5, "w": true})),
            "u: héllo\nv: 1.5\nw: true\n"
        );
        assert_eq!(yaml(json!(1e20)), "1.0e+20\n");
        assert_eq!(yaml(json!("é😀")), "\"é\\U0001F600\"\n");
        assert_eq!(yaml(json!("x\n")), "'x\n\n  '\n");
        assert_eq!(yaml(json!("")), "''\n");
    }

    #[test]
    fn long_strings_fold_at_the_width() {
        let folded = nice(json!({"long": "word ".repeat(30), "q": "it's ".repeat(25)}));
        assert_eq!(
            folded,
            "long: 'word word word word word word word word word word word word word word word\n    \
             word word word word word word word word word word word word word word word '\n\
             q: 'it''s it''s it''s it''s it''s it''s it''s it''s it''s it''s it''s it''s it''s\n    \
             it''s it''s it''s it''s it''s it''s it''s it''s it''s it''s it''s it''s '\n"
        );
        let quoted = nice(json!({"dq": format!("tab\t{}", "x ".repeat(50))}));
        assert_eq!(
            quoted,
            "dq: \"tab\\tx x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x\n    \
             x x x x x x x x x x x x x x \"\n"
        );
    }
}
