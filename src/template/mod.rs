//! TEMPORARY stand-in for the templating layer (replaced by the template branch).
#![allow(missing_docs)]
use std::sync::Arc;

use crate::vars::{Value, Vars};

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("template syntax error: {message}")]
    Syntax { message: String },
    #[error("'{name}' is undefined")]
    UndefinedVariable { name: String },
    #[error("{message}")]
    Render { message: String },
}
impl crate::diagnostic::Diagnose for TemplateError {}

pub struct Templar {
    env: minijinja::Environment<'static>,
}

impl Default for Templar {
    fn default() -> Self {
        Self::new()
    }
}

fn conv(e: minijinja::Error) -> TemplateError {
    match e.kind() {
        minijinja::ErrorKind::UndefinedError => TemplateError::UndefinedVariable {
            name: e.to_string(),
        },
        minijinja::ErrorKind::SyntaxError => TemplateError::Syntax {
            message: e.to_string(),
        },
        _ => TemplateError::Render {
            message: e.to_string(),
        },
    }
}

impl Templar {
    pub fn new() -> Self {
        let mut env = minijinja::Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        Self { env }
    }
    pub fn render_str(&self, text: &str, scope: &Value) -> Result<Value, TemplateError> {
        if !text.contains("{{") && !text.contains("{%") {
            return Ok(Value::from(text));
        }
        let t = text.trim();
        if t.starts_with("{{") && t.ends_with("}}") && t[2..].find("{{").is_none() {
            return self.eval_expression(&t[2..t.len() - 2], scope);
        }
        self.render_to_string(text, scope).map(Value::from)
    }
    pub fn render_value(&self, value: &Value, scope: &Value) -> Result<Value, TemplateError> {
        if let Some(s) = value.as_str() {
            return self.render_str(s, scope);
        }
        match value.kind() {
            minijinja::value::ValueKind::Seq => {
                let mut out = Vec::new();
                for item in value.try_iter().map_err(conv)? {
                    out.push(self.render_value(&item, scope)?);
                }
                Ok(Value::from(out))
            }
            minijinja::value::ValueKind::Map => {
                let mut out = Vars::new();
                for key in value.try_iter().map_err(conv)? {
                    let item = value.get_item(&key).map_err(conv)?;
                    out.insert(key.to_string(), self.render_value(&item, scope)?);
                }
                Ok(crate::vars::to_value(out))
            }
            _ => Ok(value.clone()),
        }
    }
    pub fn render_to_string(&self, text: &str, scope: &Value) -> Result<String, TemplateError> {
        self.env.render_str(text, scope).map_err(conv)
    }
    pub fn eval_condition(&self, expr: &str, scope: &Value) -> Result<bool, TemplateError> {
        let e = expr.trim();
        let e = e
            .strip_prefix("{{")
            .and_then(|e| e.strip_suffix("}}"))
            .unwrap_or(e);
        Ok(self.eval_expression(e, scope)?.is_true())
    }
    pub fn eval_condition_value(&self, cond: &Value, scope: &Value) -> Result<bool, TemplateError> {
        match cond.as_str() {
            Some(s) => self.eval_condition(s, scope),
            None => Ok(cond.is_true()),
        }
    }
    pub fn eval_expression(&self, expr: &str, scope: &Value) -> Result<Value, TemplateError> {
        let e = self.env.compile_expression(expr).map_err(conv)?;
        e.eval(scope).map_err(conv)
    }
    pub fn check_template(&self, text: &str) -> Result<(), TemplateError> {
        self.env.template_from_str(text).map(|_| ()).map_err(conv)
    }
    pub fn check_expression(&self, expr: &str) -> Result<(), TemplateError> {
        self.env.compile_expression(expr).map(|_| ()).map_err(conv)
    }
}

pub struct Scope;
impl Scope {
    pub fn new(layers: Vec<Arc<Vars>>) -> Value {
        let mut merged = Vars::new();
        for layer in layers {
            for (k, v) in layer.iter() {
                merged.insert(k.clone(), v.clone());
            }
        }
        crate::vars::to_value(merged)
    }
}
