//! Compiled templates and expressions, cached by their text.
//!
//! A playbook has a few hundred distinct template strings rendered for thousands of hosts, so
//! each is compiled once. The maps sit behind `RwLock`s: every render takes a read lock (shared,
//! uncontended in the steady state), only a first use takes the write lock. Past
//! [`CACHE_LIMIT`] entries new texts are compiled per call instead of growing the cache.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use minijinja::{Environment, Error, Expression, Template, Value};

/// Most distinct texts cached per kind (templates, expressions) and environment.
pub(crate) const CACHE_LIMIT: usize = 8192;

type Expr = Arc<Expression<'static, 'static>>;

/// Compiled templates and expressions of one environment.
pub(crate) struct Cache {
    env: &'static Environment<'static>,
    templates: RwLock<HashMap<Box<str>, Template<'static, 'static>>>,
    expressions: RwLock<HashMap<Box<str>, Expr>>,
}

impl Cache {
    /// An empty cache for `env`.
    pub fn new(env: &'static Environment<'static>) -> Self {
        Self {
            env,
            templates: RwLock::default(),
            expressions: RwLock::default(),
        }
    }

    /// The environment this cache compiles with.
    pub fn env(&self) -> &'static Environment<'static> {
        self.env
    }

    /// Renders `text` as a template.
    pub fn render(&self, text: &str, scope: &Value) -> Result<String, Error> {
        if let Ok(map) = self.templates.read() {
            if let Some(template) = map.get(text) {
                return template.render(scope);
            }
        }
        let has_room = self
            .templates
            .read()
            .map(|map| map.len() < CACHE_LIMIT)
            .unwrap_or(false);
        if !has_room {
            return self.env.render_str(&super::escapes::template(text), scope);
        }
        // The environment's loader returns the name as the source, so the text is its own name;
        // minijinja keeps the compiled form and hands back a `'static` handle we can store.
        let template = self.env.get_template(text)?;
        let rendered = template.render(scope);
        if let Ok(mut map) = self.templates.write() {
            map.insert(text.into(), template);
        }
        rendered
    }

    /// Evaluates `expr` as a bare expression.
    pub fn eval(&self, expr: &str, scope: &Value) -> Result<Value, Error> {
        self.expression(expr)?.eval(scope)
    }

    /// The compiled form of a bare expression.
    pub fn expression(&self, expr: &str) -> Result<Expr, Error> {
        if let Ok(map) = self.expressions.read() {
            if let Some(compiled) = map.get(expr) {
                return Ok(compiled.clone());
            }
        }
        let compiled = Arc::new(
            self.env
                .compile_expression_owned(super::escapes::expression(expr).into_owned())?,
        );
        if let Ok(mut map) = self.expressions.write() {
            if map.len() < CACHE_LIMIT {
                map.insert(expr.into(), compiled.clone());
            }
        }
        Ok(compiled)
    }
}
