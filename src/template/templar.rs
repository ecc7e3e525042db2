//! [`Templar`]: renders playbook strings, evaluates conditions and checks templates, with
//! Ansible's semantics (native values, strict undefined variables, Python truthiness).

use minijinja::value::ValueKind;
use minijinja::ErrorKind;

use super::cache::Cache;
use super::check::{self, Used};
use super::environment::engines;
use super::error::{describe, TemplateError};
use crate::diagnostic::did_you_mean;
use crate::vars::Value;

/// Renders templates and evaluates expressions. Build once and share (it is `Send + Sync`);
/// compiled templates are cached inside.
pub struct Templar {
    strict: Cache,
    chainable: Cache,
}

impl Default for Templar {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Templar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templar").finish_non_exhaustive()
    }
}

/// Whether a text being reported on is a template or a bare expression.
#[derive(Clone, Copy)]
enum Source {
    Template,
    Expression,
}

/// Whether `text` contains any Jinja markup at all.
pub fn has_jinja(text: &str) -> bool {
    text.contains("{{") || text.contains("{%") || text.contains("{#")
}

/// Whether `text` holds a `{% raw %}` block (any whitespace control).
pub(crate) fn has_raw(text: &str) -> bool {
    text.match_indices("{%").any(|(at, _)| {
        text[at + 2..]
            .trim_start_matches(['-', '+'])
            .trim_start()
            .starts_with("raw")
    })
}

/// The expression of a string that is exactly one `{{ expr }}` (surrounding whitespace and
/// whitespace-control markers allowed).
fn single_expression(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    if has_jinja(inner) || inner.contains("}}") {
        return None;
    }
    let inner = inner.strip_prefix(['-', '+']).unwrap_or(inner);
    let inner = inner.strip_suffix(['-', '+']).unwrap_or(inner);
    Some(inner.trim())
}

/// An expression given to `when:` and friends, without the optional `{{ }}` around it.
fn bare_expression(expr: &str) -> &str {
    single_expression(expr).unwrap_or(expr.trim())
}

/// Whether a failed template might succeed with chainable undefined values: only templates that
/// handle undefined values themselves.
fn wants_fallback(text: &str) -> bool {
    text.contains("default")
        || text.contains("defined")
        || text.contains("|d")
        || text.contains("| d")
}

/// Whether `expr` is a plain variable path (`a`, `a.b`, `a['b'].c`), so an undefined result can
/// be blamed on it.
fn is_path(expr: &str) -> bool {
    !expr.is_empty()
        && expr.starts_with(|c: char| c.is_alphabetic() || c == '_')
        && expr
            .chars()
            .all(|c| c.is_alphanumeric() || "_.[]'\"".contains(c))
}

/// Every variable path (`a`, `a.b`, `a['b'][0]`) written in `text`, in order of appearance.
fn variable_paths(text: &str) -> Vec<String> {
    static PATH: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    let Some(re) = PATH.get_or_init(|| {
        regex::Regex::new(
            r#"[A-Za-z_]\w*(?:\s*\.\s*[A-Za-z_]\w*|\[\s*(?:'[^']*'|"[^"]*"|\d+)\s*\])*"#,
        )
        .ok()
    }) else {
        return Vec::new();
    };
    re.find_iter(text)
        .map(|m| m.as_str().split_whitespace().collect())
        .collect()
}

/// The variable a path starts from.
fn path_root(path: &str) -> &str {
    let end = path.find(['.', '[']).unwrap_or(path.len());
    &path[..end]
}

/// Splits `a.b.c` into (`a.b`, `c`) and `a['b']` into (`a`, `b`).
fn split_path(path: &str) -> Option<(&str, String)> {
    if let Some(stripped) = path.strip_suffix(']') {
        let open = stripped.rfind('[')?;
        let key = stripped[open + 1..].trim_matches(|c| c == '\'' || c == '"');
        return Some((&path[..open], key.to_string()));
    }
    let dot = path.rfind('.')?;
    Some((&path[..dot], path[dot + 1..].to_string()))
}

impl Templar {
    /// A templar with all of rpatch's filters, tests and functions.
    pub fn new() -> Templar {
        let engines = engines();
        Templar {
            strict: Cache::new(&engines.strict),
            chainable: Cache::new(&engines.chainable),
        }
    }

    /// Renders a string. A string that is exactly one `{{ expr }}` (surrounding whitespace
    /// allowed) returns the expression's native value (list, dict, int, bool, ...), like Ansible;
    /// any other string containing `{{`/`{%`/`{#` renders to a string; a string without them is
    /// returned as-is without touching minijinja.
    pub fn render_str(&self, text: &str, scope: &Value) -> Result<Value, TemplateError> {
        self.render_str_nested(text, scope, 0)
    }

    /// Renders `text`, then whatever templates the result still holds: a variable whose value
    /// is itself a template (`base: "/srv/{{ inventory_hostname }}"`) renders to its final
    /// value, as Ansible's lazy templating does. A variable that refers to itself is an error.
    fn render_str_nested(
        &self,
        text: &str,
        scope: &Value,
        depth: usize,
    ) -> Result<Value, TemplateError> {
        const MAX_DEPTH: usize = 20;
        if !has_jinja(text) {
            return Ok(Value::from(text));
        }
        // A lone expression followed by one newline (`content: |` blocks) keeps the newline when
        // it gives text, and drops it for any other value, as Ansible's native rendering does.
        let trailing = text.ends_with('\n') && !text.ends_with("\n\n");
        let (rendered, protected) = match single_expression(text) {
            // Printing reports the undefined value by name (or prints a silent undefined, as
            // `'x' if false` gives, as an empty string).
            Some(expr) => match self.eval(expr, scope)? {
                value if value.is_undefined() || (trailing && value.as_str().is_some()) => {
                    let (text, protected) = self.render_text(text, scope)?;
                    (Value::from(text), protected)
                }
                value => (value, false),
            },
            None => {
                let (text, protected) = self.render_text(text, scope)?;
                (Value::from(text), protected)
            }
        };
        if protected {
            // What a `{% raw %}` block (or an `!unsafe` value) gave is text, never a template:
            // marked so that later rendering passes it through as it is.
            return Ok(Value::from_safe_string(
                rendered.as_str().unwrap_or_default().to_string(),
            ));
        }
        if !needs_render(&rendered) || rendered.as_str() == Some(text) {
            return Ok(rendered);
        }
        if depth >= MAX_DEPTH {
            return Err(TemplateError::Render {
                message: format!("recursive loop detected in template `{text}`"),
            });
        }
        self.render_value_nested(&rendered, scope, depth + 1)
    }

    /// Renders every string inside a value recursively (lists, maps; map keys too).
    pub fn render_value(&self, value: &Value, scope: &Value) -> Result<Value, TemplateError> {
        self.render_value_nested(value, scope, 0)
    }

    fn render_value_nested(
        &self,
        value: &Value,
        scope: &Value,
        depth: usize,
    ) -> Result<Value, TemplateError> {
        if !needs_render(value) {
            return Ok(value.clone());
        }
        match value.kind() {
            ValueKind::String => self.render_str_nested(value.as_str().unwrap_or(""), scope, depth),
            ValueKind::Seq => {
                let items = iter(value)?
                    .map(|item| self.render_value_nested(&item, scope, depth))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Value::from(items))
            }
            ValueKind::Map => {
                let mut entries = Vec::new();
                for key in iter(value)? {
                    let item = value.get_item(&key).map_err(|e| render_error(&e))?;
                    entries.push((
                        self.render_value_nested(&key, scope, depth)?,
                        self.render_value_nested(&item, scope, depth)?,
                    ));
                }
                Ok(Value::from_pairs(entries))
            }
            _ => Ok(value.clone()),
        }
    }

    /// Renders to text (for the template module and file content).
    pub fn render_to_string(&self, text: &str, scope: &Value) -> Result<String, TemplateError> {
        self.render_text(text, scope).map(|(out, _)| out)
    }

    /// Renders to text, and says whether the text holds what a `{% raw %}` block or an
    /// `!unsafe` value gave (which must never be templated again). Such values print into
    /// the first pass inside raw blocks; a second pass unwraps them.
    fn render_text(&self, text: &str, scope: &Value) -> Result<(String, bool), TemplateError> {
        if !has_jinja(text) {
            return Ok((text.to_string(), false));
        }
        let out = self.render_once(text, scope)?;
        if has_raw(&out) {
            return Ok((self.render_once(&out, scope)?, true));
        }
        Ok((out, has_raw(text)))
    }

    fn render_once(&self, text: &str, scope: &Value) -> Result<String, TemplateError> {
        match self.strict.render(text, scope) {
            Ok(out) => Ok(out),
            Err(err) => {
                if err.kind() == ErrorKind::UndefinedError && wants_fallback(text) {
                    if let Ok(out) = self.chainable.render(text, scope) {
                        return Ok(out);
                    }
                }
                Err(self.convert(&err, text, Source::Template, scope))
            }
        }
    }

    /// Evaluates a bare Jinja expression (`when`, `changed_when`, `failed_when`, `until`,
    /// `assert.that`) to a boolean with Python truthiness. An expression wrapped in `{{ }}` is
    /// accepted; an empty one is true. The result is not re-evaluated: the string `"false"` is
    /// true.
    pub fn eval_condition(&self, expr: &str, scope: &Value) -> Result<bool, TemplateError> {
        let expr = bare_expression(expr);
        if expr.is_empty() {
            return Ok(true);
        }
        Ok(self.eval_expression(expr, scope)?.is_true())
    }

    /// Evaluates a condition given as a YAML value: booleans as they are, strings as
    /// expressions, lists as "all of them", null as true, anything else by truthiness.
    pub fn eval_condition_value(&self, cond: &Value, scope: &Value) -> Result<bool, TemplateError> {
        match cond.kind() {
            ValueKind::Bool => Ok(cond.is_true()),
            ValueKind::String => self.eval_condition(cond.as_str().unwrap_or(""), scope),
            ValueKind::Seq => {
                for item in iter(cond)? {
                    if !self.eval_condition_value(&item, scope)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            ValueKind::None | ValueKind::Undefined => Ok(true),
            _ => Ok(cond.is_true()),
        }
    }

    /// Evaluates a bare expression to a value (`that`, `loop` expressions, debug `var:`). An
    /// undefined result is an error naming the variable.
    pub fn eval_expression(&self, expr: &str, scope: &Value) -> Result<Value, TemplateError> {
        let expr = bare_expression(expr);
        let value = self.eval(expr, scope)?;
        if value.is_undefined() {
            if is_path(expr) {
                return Err(self.blame_path(expr, scope));
            }
            return Ok(Value::from(()));
        }
        Ok(value)
    }

    /// Checks the syntax of a template string and that every filter and test it uses exists.
    pub fn check_template(&self, text: &str) -> Result<(), TemplateError> {
        if !has_jinja(text) {
            return Ok(());
        }
        self.strict
            .env()
            .template_from_str(text)
            .map_err(|e| syntax_error(&e, text))?;
        check_names(check::used_in_template(text))
    }

    /// Checks the syntax of a bare expression and that every filter and test it uses exists.
    pub fn check_expression(&self, expr: &str) -> Result<(), TemplateError> {
        let expr = bare_expression(expr);
        if expr.is_empty() {
            return Ok(());
        }
        self.strict
            .env()
            .compile_expression(expr)
            .map_err(|e| syntax_error(&e, expr))?;
        check_names(check::used_in_expression(expr))
    }

    /// Evaluates a bare expression, retrying with chainable undefined values when it handles
    /// undefined values itself.
    fn eval(&self, expr: &str, scope: &Value) -> Result<Value, TemplateError> {
        match self.strict.eval(expr, scope) {
            Ok(value) => Ok(value),
            Err(err) => {
                if err.kind() == ErrorKind::UndefinedError && wants_fallback(expr) {
                    if let Ok(value) = self.chainable.eval(expr, scope) {
                        return Ok(value);
                    }
                }
                Err(self.convert(&err, expr, Source::Expression, scope))
            }
        }
    }

    /// Turns a minijinja error into a [`TemplateError`], naming the undefined variable.
    fn convert(
        &self,
        err: &minijinja::Error,
        text: &str,
        source: Source,
        scope: &Value,
    ) -> TemplateError {
        match err.kind() {
            ErrorKind::SyntaxError | ErrorKind::BadEscape => syntax_error(err, text),
            ErrorKind::UnknownFilter | ErrorKind::UnknownTest => {
                let unknown = err
                    .detail()
                    .and_then(|d| d.split_whitespace().nth(1))
                    .unwrap_or("")
                    .to_string();
                let used = if err.kind() == ErrorKind::UnknownFilter {
                    Used::Filter(unknown)
                } else {
                    Used::Test(unknown)
                };
                check_names(vec![used])
                    .err()
                    .unwrap_or_else(|| render_error(err))
            }
            ErrorKind::UndefinedError => self.undefined_error(err, text, source, scope),
            _ => render_error(err),
        }
    }

    /// Names what is undefined: the expression minijinja blames, or else the first variable
    /// the template uses that the scope lacks.
    fn undefined_error(
        &self,
        err: &minijinja::Error,
        text: &str,
        source: Source,
        scope: &Value,
    ) -> TemplateError {
        let detail = err.detail().unwrap_or("");
        if let Some(end) = detail.rfind("` is undefined") {
            if let Some(start) = detail[..end].rfind('`') {
                let expr = &detail[start + 1..end];
                if is_path(expr) {
                    return self.blame_path(expr, scope);
                }
            }
        }
        let env = self.strict.env();
        let undeclared = match source {
            Source::Template => env
                .template_from_str(text)
                .map(|t| t.undeclared_variables(false)),
            Source::Expression => env
                .compile_expression(text)
                .map(|e| e.undeclared_variables(false)),
        };
        let roots = undeclared.unwrap_or_default();
        // Every variable path written in the text (`foo`, `foo.bar`, `foo['bar'][0]`) whose root
        // the template reads from the scope, in order: the first undefined one is to blame.
        let missing = variable_paths(text)
            .into_iter()
            .filter(|path| roots.contains(path_root(path)))
            .find(|path| {
                self.chainable
                    .eval(path, scope)
                    .map_or(true, |v| v.is_undefined())
            });
        match missing {
            Some(path) => self.blame_path(&path, scope),
            None => render_error(err),
        }
    }

    /// The error for an undefined path: the missing root variable, or the first attribute
    /// missing from a defined parent.
    fn blame_path(&self, path: &str, scope: &Value) -> TemplateError {
        let Some((parent, attribute)) = split_path(path) else {
            return TemplateError::undefined(path);
        };
        match self.chainable.eval(parent, scope) {
            Ok(value) if !value.is_undefined() => {
                TemplateError::missing_attribute(parent, &attribute)
            }
            Ok(_) => self.blame_path(parent, scope),
            Err(_) => TemplateError::undefined(path),
        }
    }
}

/// Whether any string inside `value` contains Jinja markup.
fn needs_render(value: &Value) -> bool {
    match value.kind() {
        ValueKind::String => !value.is_safe() && value.as_str().is_some_and(has_jinja),
        ValueKind::Seq => value
            .try_iter()
            .is_ok_and(|mut it| it.any(|v| needs_render(&v))),
        ValueKind::Map => value.try_iter().is_ok_and(|mut keys| {
            keys.any(|k| needs_render(&k) || value.get_item(&k).is_ok_and(|v| needs_render(&v)))
        }),
        _ => false,
    }
}

fn iter(value: &Value) -> Result<minijinja::value::ValueIter, TemplateError> {
    value.try_iter().map_err(|e| render_error(&e))
}

fn render_error(err: &minijinja::Error) -> TemplateError {
    TemplateError::Render {
        message: describe(err),
    }
}

fn syntax_error(err: &minijinja::Error, text: &str) -> TemplateError {
    let mut message = err.detail().unwrap_or("invalid syntax").to_string();
    if let Some(line) = err.line().filter(|_| text.contains('\n')) {
        message.push_str(&format!(" (line {line})"));
    }
    TemplateError::Syntax {
        message,
        text: text.to_string(),
    }
}

/// Checks that every used filter and test exists, suggesting the closest name otherwise.
fn check_names(used: Vec<Used>) -> Result<(), TemplateError> {
    let engines = engines();
    for item in used {
        match item {
            Used::Filter(name) if !engines.filters.contains(&name) => {
                let suggestion = did_you_mean(&name, engines.filters.iter().map(String::as_str));
                return Err(TemplateError::UnknownFilter { name, suggestion });
            }
            Used::Test(name) if !engines.tests.contains(&name) => {
                let suggestion = did_you_mean(&name, engines.tests.iter().map(String::as_str));
                return Err(TemplateError::UnknownTest { name, suggestion });
            }
            Used::Lookup(name) if !super::lookups::is_known(&name) => {
                let suggestion = did_you_mean(&name, super::lookups::NAMES.iter().copied());
                return Err(TemplateError::UnknownLookup { name, suggestion });
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn variables_holding_templates_render_to_their_final_value() {
        let templar = Templar::new();
        let mut vars = crate::vars::Vars::new();
        vars.insert("host".into(), Value::from("kvm01"));
        vars.insert("base".into(), Value::from("/srv/{{ host }}"));
        vars.insert(
            "dirs".into(),
            Value::from(vec![Value::from("{{ base }}/a")]),
        );
        vars.insert("me".into(), Value::from("{{ me }}x"));
        let scope = crate::template::Scope::new(vec![std::sync::Arc::new(vars)]);
        assert_eq!(
            templar
                .render_str("{{ base }}/etc", &scope)
                .expect("render")
                .as_str(),
            Some("/srv/kvm01/etc")
        );
        let dirs = templar.render_str("{{ dirs }}", &scope).expect("render");
        assert_eq!(
            crate::vars::to_json(&dirs),
            serde_json::json!(["/srv/kvm01/a"])
        );
        assert!(
            templar.render_str("{{ me }}", &scope).is_err(),
            "a self-reference must not loop forever"
        );
    }

    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::template::testing::{eval_with, scope, templar};
    use crate::template::Scope;
    use crate::vars::{to_json, Vars};

    fn render(text: &str, vars: serde_json::Value) -> Result<serde_json::Value, TemplateError> {
        templar()
            .render_str(text, &scope(vars))
            .map(|v| to_json(&v))
    }

    fn cond(expr: &str, vars: serde_json::Value) -> Result<bool, TemplateError> {
        templar().eval_condition(expr, &scope(vars))
    }

    fn undefined_name(result: Result<impl std::fmt::Debug, TemplateError>) -> String {
        match result {
            Err(TemplateError::UndefinedVariable { name, .. }) => name,
            other => panic!("expected an undefined variable error, got {other:?}"),
        }
    }

    #[test]
    fn templar_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Templar>();
    }

    #[test]
    fn lone_expression_renders_to_native_value() {
        assert_eq!(render("{{ [1, 2] }}", json!({})).unwrap(), json!([1, 2]));
        assert_eq!(render("{{ 5 }}", json!({})).unwrap(), json!(5));
        assert_eq!(
            render("  {{ flag }} ", json!({"flag": true})).unwrap(),
            json!(true)
        );
        assert_eq!(
            render("{{ d }}", json!({"d": {"a": [1]}})).unwrap(),
            json!({"a": [1]})
        );
        assert_eq!(render("{{- 5 -}}", json!({})).unwrap(), json!(5));
        assert_eq!(
            render("{{ '[1, 2]' }}", json!({})).unwrap(),
            json!("[1, 2]")
        );
    }

    #[test]
    fn rendered_strings_keep_their_trailing_newline() {
        assert_eq!(render("x\n", json!({})).unwrap(), json!("x\n"));
        assert_eq!(
            render("{{ h }}\n", json!({"h": "web1"})).unwrap(),
            json!("web1\n")
        );
        // Any other value drops it, as Ansible's native rendering does.
        assert_eq!(
            render("{{ n }}\n", json!({"n": 8080})).unwrap(),
            json!(8080)
        );
        assert_eq!(
            render("{% for i in [1, 2] %}{{ i }}\n{% endfor %}", json!({})).unwrap(),
            json!("1\n2\n")
        );
        assert_eq!(
            templar()
                .render_to_string("a {{ 1 }}\n\n", &scope(json!({})))
                .unwrap(),
            "a 1\n\n"
        );
    }

    #[test]
    fn raw_blocks_are_not_templated_twice() {
        let raw = "{% raw %}{{ not_a_var }}{% endraw %}";
        assert_eq!(render(raw, json!({})).unwrap(), json!("{{ not_a_var }}"));
        // A variable holding a raw block, and a value that came out of one, stay literal.
        assert_eq!(
            render("{{ literal }}", json!({"literal": raw})).unwrap(),
            json!("{{ not_a_var }}")
        );
        let once = templar().render_str(raw, &scope(json!({}))).unwrap();
        let scope = Scope::new(vec![Arc::new(Vars::from_iter([(
            "fact".to_string(),
            once,
        )]))]);
        assert_eq!(
            to_json(&templar().render_str("{{ fact }}", &scope).unwrap()),
            json!("{{ not_a_var }}")
        );
    }

    #[test]
    fn unsafe_yaml_values_are_never_templated() {
        let source = crate::diagnostic::Source::new(
            "v.yml",
            "v: !unsafe '{{ lookup(\"pipe\", \"id\") }}'\n",
        );
        let node = crate::yaml::parse(&source).unwrap();
        let vars = crate::vars::vars_from_node(&node).unwrap();
        let scope = Scope::new(vec![Arc::new(vars)]);
        let text = "{{ lookup(\"pipe\", \"id\") }}";
        assert_eq!(
            to_json(&templar().render_str("{{ v }}", &scope).unwrap()),
            json!(text)
        );
        assert_eq!(
            to_json(&templar().render_str("{{ v }}\n", &scope).unwrap()),
            json!(format!("{text}\n"))
        );
    }

    #[test]
    fn mixed_text_renders_to_string() {
        assert_eq!(render("a{{ 1 }}", json!({})).unwrap(), json!("a1"));
        assert_eq!(render("{{ 1 }}{{ 2 }}", json!({})).unwrap(), json!("12"));
        assert_eq!(
            render("{% if true %}yes{% endif %}", json!({})).unwrap(),
            json!("yes")
        );
        assert_eq!(render("{{ 'x' if false }}", json!({})).unwrap(), json!(""));
    }

    #[test]
    fn literals_pass_through_untouched() {
        assert_eq!(
            render("plain { text } %", json!({})).unwrap(),
            json!("plain { text } %")
        );
        assert_eq!(render("", json!({})).unwrap(), json!(""));
    }

    #[test]
    fn html_like_text_is_never_escaped() {
        assert_eq!(
            render("<{{ x }}>.html", json!({"x": "&"})).unwrap(),
            json!("<&>.html")
        );
    }

    #[test]
    fn render_value_renders_nested_strings_and_keys() {
        let value = crate::vars::from_json(&json!({
            "{{ k }}": ["{{ n }}", "lit", {"deep": "v={{ n }}"}],
            "num": 3,
        }));
        let out = templar()
            .render_value(&value, &scope(json!({"k": "key", "n": 7})))
            .unwrap();
        assert_eq!(
            to_json(&out),
            json!({"key": [7, "lit", {"deep": "v=7"}], "num": 3})
        );
    }

    #[test]
    fn render_value_without_templates_returns_the_same_value() {
        let value = crate::vars::from_json(&json!({"a": ["b"]}));
        let out = templar().render_value(&value, &scope(json!({}))).unwrap();
        assert_eq!(out, value);
    }

    #[test]
    fn undefined_variable_is_an_error_naming_it() {
        let err = render("install {{ pkgs }}", json!({})).unwrap_err();
        assert_eq!(err.to_string(), "'pkgs' is undefined");
        assert_eq!(undefined_name(render("{{ pkgs }}", json!({}))), "pkgs");
        assert_eq!(
            undefined_name(render("{{ pkgs | join(' ') }}", json!({}))),
            "pkgs"
        );
        assert_eq!(
            undefined_name(render("{% for p in pkgs %}{{ p }}{% endfor %}", json!({}))),
            "pkgs"
        );
        assert_eq!(undefined_name(eval_with("pkgs", json!({}))), "pkgs");
        assert_eq!(
            undefined_name(eval_with("pkgs | length", json!({}))),
            "pkgs"
        );
    }

    #[test]
    fn missing_attribute_names_parent_and_attribute() {
        let vars = json!({"foo": {"a": 1}});
        let err = render("x={{ foo.bar }}", vars.clone()).unwrap_err();
        assert_eq!(err.to_string(), "'foo' has no attribute 'bar'");
        let err = render("{{ foo.bar }}", vars.clone()).unwrap_err();
        assert_eq!(err.to_string(), "'foo' has no attribute 'bar'");
        let err = render("{{ foo['bar'] }}", vars.clone()).unwrap_err();
        assert_eq!(err.to_string(), "'foo' has no attribute 'bar'");
        let err = eval_with("foo.bar.baz", vars).unwrap_err();
        assert_eq!(err.to_string(), "'foo' has no attribute 'bar'");
        let err = eval_with("nothere.bar", json!({})).unwrap_err();
        assert_eq!(err.to_string(), "'nothere' is undefined");
    }

    #[test]
    fn default_and_defined_handle_undefined_like_ansible() {
        let vars = json!({"foo": {"a": 1}, "empty": ""});
        let check =
            |text: &str| render(text, vars.clone()).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(check("{{ x | default('d') }}"), json!("d"));
        assert_eq!(check("{{ x | d('d') }}"), json!("d"));
        assert_eq!(check("{{ empty | default('d') }}"), json!(""));
        assert_eq!(check("{{ empty | default('d', true) }}"), json!("d"));
        assert_eq!(check("{{ x is defined }}"), json!(false));
        assert_eq!(check("{{ x is undefined }}"), json!(true));
        assert_eq!(check("{{ foo.bar | default(1) }}"), json!(1));
        assert_eq!(check("{{ nofoo.bar | default(1) }}"), json!(1));
        assert_eq!(check("{{ nofoo.bar.baz | default(1) }}"), json!(1));
        assert_eq!(check("{{ nofoo.bar is defined }}"), json!(false));
        assert_eq!(check("v={{ nofoo.bar | default(1) }}"), json!("v=1"));
        assert_eq!(check("{{ foo.a | default(2) }}"), json!(1));
    }

    #[test]
    fn conditions_use_python_truthiness() {
        let vars = json!({"s": "", "l": [], "d": {}, "z": 0, "n": null, "t": "false", "one": [1]});
        for falsy in ["s", "l", "d", "z", "n", "false", "False", "not one"] {
            assert!(!cond(falsy, vars.clone()).unwrap(), "{falsy}");
        }
        for truthy in ["t", "one", "true", "True", "1 < 2", "'x' in 'xy'", ""] {
            assert!(cond(truthy, vars.clone()).unwrap(), "{truthy}");
        }
        assert!(
            cond("{{ one }}", vars.clone()).unwrap(),
            "wrapped in braces"
        );
        assert!(
            cond("{{ t }}", vars).unwrap(),
            "strings are not re-evaluated"
        );
    }

    #[test]
    fn condition_on_undefined_variable_is_an_error_naming_it() {
        assert_eq!(undefined_name(cond("x", json!({}))), "x");
        assert_eq!(undefined_name(cond("not x", json!({}))), "x");
        assert_eq!(undefined_name(cond("x and true", json!({}))), "x");
        assert_eq!(undefined_name(cond("x == 1", json!({}))), "x");
        assert!(cond("x is defined and x", json!({})).is_ok_and(|b| !b));
        assert!(cond("x | default(true)", json!({})).is_ok_and(|b| b));
    }

    #[test]
    fn condition_values_accept_bools_lists_and_null() {
        let s = scope(json!({"a": true, "b": false}));
        let t = templar();
        let v = |j: serde_json::Value| crate::vars::from_json(&j);
        assert!(t.eval_condition_value(&v(json!(true)), &s).unwrap());
        assert!(!t.eval_condition_value(&v(json!(false)), &s).unwrap());
        assert!(t.eval_condition_value(&v(json!(null)), &s).unwrap());
        assert!(t.eval_condition_value(&v(json!(["a", true])), &s).unwrap());
        assert!(!t.eval_condition_value(&v(json!(["a", "b"])), &s).unwrap());
        assert!(!t.eval_condition_value(&v(json!("b")), &s).unwrap());
    }

    #[test]
    fn layered_scope_precedence_reaches_templates() {
        let low: Arc<Vars> = Arc::new(
            [("x", 1), ("y", 1)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), Value::from(v)))
                .collect(),
        );
        let high: Arc<Vars> = Arc::new([("x".to_string(), Value::from(2))].into_iter().collect());
        let s = Scope::new(vec![low, high]);
        let t = templar();
        assert_eq!(t.render_to_string("{{ x }}{{ y }}", &s).unwrap(), "21");
        let s2 = scope(json!({"hostvars": {"h1": {"ip": "10.0.0.1"}}}));
        assert_eq!(
            t.render_to_string("{{ hostvars['h1'].ip }}", &s2).unwrap(),
            "10.0.0.1"
        );
        let s3 = scope(json!({"a": 1, "b": 2}));
        assert_eq!(
            t.render_to_string("{% for k in vars_map %}{{ k }}{% endfor %}", &{
                let inner = s3.clone();
                let layer: Vars = [("vars_map".to_string(), inner)].into_iter().collect();
                Scope::new(vec![Arc::new(layer)])
            })
            .unwrap(),
            "ab"
        );
    }

    #[test]
    fn unterminated_expression_is_a_syntax_error_naming_the_text() {
        let err = render("hello {{ foo", json!({"foo": 1})).unwrap_err();
        match &err {
            TemplateError::Syntax { text, .. } => assert_eq!(text, "hello {{ foo"),
            other => panic!("expected a syntax error, got {other:?}"),
        }
        assert!(err.to_string().contains("hello {{ foo"), "{err}");
        assert!(matches!(
            templar().check_template("{% if x %}"),
            Err(TemplateError::Syntax { .. })
        ));
        assert!(matches!(
            templar().check_expression("x ==="),
            Err(TemplateError::Syntax { .. })
        ));
    }

    #[test]
    fn check_finds_unknown_filters_and_tests_with_suggestions() {
        let t = templar();
        assert_eq!(
            t.check_template("{{ x | to_jsn }}"),
            Err(TemplateError::UnknownFilter {
                name: "to_jsn".into(),
                suggestion: Some("to_json".into())
            })
        );
        assert_eq!(
            t.check_expression("r is sucess"),
            Err(TemplateError::UnknownTest {
                name: "sucess".into(),
                suggestion: Some("success".into())
            })
        );
        assert!(matches!(
            t.check_expression("xs | map('uper')"),
            Err(TemplateError::UnknownFilter { .. })
        ));
        assert!(t
            .check_template("{{ x | default('a') | ansible.builtin.to_json }} {% if y is version('1', '<') %}{% endif %}")
            .is_ok());
        assert!(t.check_expression("{{ r is changed }}").is_ok());
        assert!(t.check_template("no templates here").is_ok());
    }

    #[test]
    fn unknown_filter_at_render_time_is_reported_with_suggestion() {
        let err = render("{{ 1 | to_jsn }}", json!({})).unwrap_err();
        assert!(
            matches!(err, TemplateError::UnknownFilter { ref suggestion, .. } if suggestion.as_deref() == Some("to_json")),
            "{err:?}"
        );
    }

    #[test]
    fn every_known_name_is_registered() {
        let engines = engines();
        let s = scope(json!({}));
        for name in &engines.filters {
            let err = templar()
                .strict
                .render(&format!("{{{{ none | {name} }}}}"), &s)
                .err();
            assert!(
                err.is_none_or(|e| e.kind() != ErrorKind::UnknownFilter),
                "filter {name}"
            );
        }
        for name in &engines.tests {
            if !name
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
            {
                continue;
            }
            let err = templar().strict.eval(&format!("none is {name}"), &s).err();
            assert!(
                err.is_none_or(|e| e.kind() != ErrorKind::UnknownTest),
                "test {name}"
            );
        }
    }

    #[test]
    fn lookup_env_and_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("motd");
        std::fs::write(&path, "hello\n").expect("write");
        let vars = json!({"p": path.to_string_lossy()});
        assert_eq!(
            eval_with("lookup('file', p)", vars.clone()).unwrap(),
            json!("hello")
        );
        assert_eq!(
            eval_with("lookup('env', 'RPATCH_SURELY_UNSET_VAR')", vars.clone()).unwrap(),
            json!("")
        );
        assert_eq!(
            eval_with("lookup('env', 'PATH') == ''", vars.clone()).unwrap(),
            json!(std::env::var("PATH").unwrap_or_default().is_empty())
        );
        assert_eq!(
            eval_with("query('file', p)", vars).unwrap(),
            json!(["hello"])
        );
        assert!(eval_with("lookup('nope', 'x')", json!({})).is_err());
        assert_eq!(
            eval_with("range(3) | list", json!({})).unwrap(),
            json!([0, 1, 2])
        );
    }

    #[test]
    fn rendering_speed_report() {
        // Not an assertion: prints rough per-call costs for the report (`--nocapture`).
        let t = templar();
        let s = scope(json!({"pkgs": ["a", "b"], "host": {"name": "h1"}, "flag": true}));
        let n = 20_000;
        let time = |label: &str, f: &dyn Fn()| {
            let start = std::time::Instant::now();
            for _ in 0..n {
                f();
            }
            println!("{label}: {:?}/call", start.elapsed() / n);
        };
        time("literal", &|| {
            let _ = t.render_str("apt-get install -y", &s);
        });
        time("native {{ pkgs }}", &|| {
            let _ = t.render_str("{{ pkgs }}", &s);
        });
        time("mixed text", &|| {
            let _ = t.render_str("host {{ host.name }} has {{ pkgs | join(',') }}", &s);
        });
        time("condition", &|| {
            let _ = t.eval_condition("flag and pkgs | length > 1", &s);
        });
        time("default fallback", &|| {
            let _ = t.render_str("{{ nope.x | default(1) }}", &s);
        });
    }
}
