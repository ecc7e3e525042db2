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
fn has_jinja(text: &str) -> bool {
    text.contains("{{") || text.contains("{%") || text.contains("{#")
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
        if !has_jinja(text) {
            return Ok(Value::from(text));
        }
        if let Some(expr) = single_expression(text) {
            let value = self.eval(expr, scope)?;
            if !value.is_undefined() {
                return Ok(value);
            }
            // Printing reports the undefined value by name (or prints a silent undefined, as
            // `'x' if false` gives, as an empty string).
        }
        self.render_to_string(text, scope).map(Value::from)
    }

    /// Renders every string inside a value recursively (lists, maps; map keys too).
    pub fn render_value(&self, value: &Value, scope: &Value) -> Result<Value, TemplateError> {
        if !needs_render(value) {
            return Ok(value.clone());
        }
        match value.kind() {
            ValueKind::String => self.render_str(value.as_str().unwrap_or(""), scope),
            ValueKind::Seq => {
                let items = iter(value)?
                    .map(|item| self.render_value(&item, scope))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Value::from(items))
            }
            ValueKind::Map => {
                let mut entries = Vec::new();
                for key in iter(value)? {
                    let item = value.get_item(&key).map_err(|e| render_error(&e))?;
                    entries.push((
                        self.render_value(&key, scope)?,
                        self.render_value(&item, scope)?,
                    ));
                }
                Ok(Value::from_pairs(entries))
            }
            _ => Ok(value.clone()),
        }
    }

    /// Renders to text (for the template module and file content).
    pub fn render_to_string(&self, text: &str, scope: &Value) -> Result<String, TemplateError> {
        if !has_jinja(text) {
            return Ok(text.to_string());
        }
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
        let mut names: Vec<String> = undeclared
            .map(|n| n.into_iter().collect())
            .unwrap_or_default();
        names.sort_by_key(|name| text.find(name.as_str()).unwrap_or(usize::MAX));
        let global_names: Vec<String> = env.globals().map(|(name, _)| name.to_string()).collect();
        let missing = names.into_iter().find(|name| {
            !global_names.contains(name) && scope.get_attr(name).map_or(true, |v| v.is_undefined())
        });
        match missing {
            Some(name) => TemplateError::undefined(name),
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
        ValueKind::String => value.as_str().is_some_and(has_jinja),
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
            _ => {}
        }
    }
    Ok(())
}
