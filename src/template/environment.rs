//! The two minijinja environments rpatch renders with, built once per process, and the names of
//! every filter and test they know (for `rpatch check`).
//!
//! Ansible's undefined handling is strict everywhere except attribute access on an undefined
//! value (`foo.bar | default(1)` works when `foo` is undefined). minijinja offers either strict
//! or chainable, not this mix, so rendering uses a `Strict` environment and, only when that fails
//! on an undefined value in a template that asks for a fallback (`default`, `is defined`, ...),
//! retries in a `Chainable` one whose formatter still refuses to print undefined values.

use std::sync::OnceLock;

use minijinja::value::Value;
use minijinja::{AutoEscape, Environment, Error, ErrorKind, Output, State, UndefinedBehavior};

use super::{filters_convert as convert, filters_data as data, filters_text as text};
use super::{filters_lists as lists, filters_math as math, filters_path as path};
use super::{jinja_tests as tests, lookups, path_tests, repr};

/// Filters minijinja provides that rpatch keeps.
const BUILTIN_FILTERS: &[&str] = &[
    "safe",
    "escape",
    "e",
    "lower",
    "upper",
    "title",
    "capitalize",
    "replace",
    "length",
    "count",
    "dictsort",
    "items",
    "reverse",
    "trim",
    "join",
    "split",
    "lines",
    "default",
    "d",
    "round",
    "abs",
    "float",
    "attr",
    "first",
    "last",
    "min",
    "max",
    "sort",
    "list",
    "batch",
    "slice",
    "sum",
    "indent",
    "select",
    "reject",
    "selectattr",
    "rejectattr",
    "groupby",
    "unique",
    "chain",
    "zip",
    "pprint",
    "format",
    "tojson",
    // minijinja-contrib
    "pluralize",
    "filesizeformat",
    "truncate",
    "striptags",
];

/// Tests minijinja provides that rpatch keeps.
const BUILTIN_TESTS: &[&str] = &[
    "undefined",
    "defined",
    "none",
    "safe",
    "escaped",
    "boolean",
    "odd",
    "even",
    "divisibleby",
    "number",
    "integer",
    "int",
    "float",
    "string",
    "sequence",
    "iterable",
    "mapping",
    "startingwith",
    "endingwith",
    "lower",
    "upper",
    "sameas",
    "eq",
    "equalto",
    "==",
    "ne",
    "!=",
    "lt",
    "lessthan",
    "<",
    "le",
    "<=",
    "gt",
    "greaterthan",
    ">",
    "ge",
    ">=",
    "in",
    "true",
    "false",
    "filter",
    "test",
];

/// The environments and the known names, built once.
pub(crate) struct Engines {
    /// Renders everything first: undefined values are errors.
    pub strict: Environment<'static>,
    /// Second chance for templates that handle undefined values themselves.
    pub chainable: Environment<'static>,
    /// Every filter name, builtin and ours (including `ansible.builtin.` aliases).
    pub filters: Vec<String>,
    /// Every test name, builtin and ours (including `ansible.builtin.` aliases).
    pub tests: Vec<String>,
}

/// The process-wide environments.
pub(crate) fn engines() -> &'static Engines {
    static ENGINES: OnceLock<Engines> = OnceLock::new();
    ENGINES.get_or_init(|| {
        let mut names = Names::default();
        let strict = build(UndefinedBehavior::Strict, &mut names);
        let chainable = build(UndefinedBehavior::Chainable, &mut Names::default());
        names
            .filters
            .extend(BUILTIN_FILTERS.iter().map(|s| s.to_string()));
        names
            .tests
            .extend(BUILTIN_TESTS.iter().map(|s| s.to_string()));
        Engines {
            strict,
            chainable,
            filters: names.filters,
            tests: names.tests,
        }
    })
}

/// Names registered while building an environment.
#[derive(Default)]
struct Names {
    filters: Vec<String>,
    tests: Vec<String>,
}

/// Registers a filter under its name and its `ansible.builtin.` alias.
macro_rules! filter {
    ($env:expr, $names:expr, $name:literal, $f:expr) => {{
        $env.add_filter($name, $f);
        $env.add_filter(concat!("ansible.builtin.", $name), $f);
        $names.filters.push($name.to_string());
        $names
            .filters
            .push(concat!("ansible.builtin.", $name).to_string());
    }};
}

/// Registers a test under its name and its `ansible.builtin.` alias.
macro_rules! test {
    ($env:expr, $names:expr, $name:literal, $f:expr) => {{
        $env.add_test($name, $f);
        $env.add_test(concat!("ansible.builtin.", $name), $f);
        $names.tests.push($name.to_string());
        $names
            .tests
            .push(concat!("ansible.builtin.", $name).to_string());
    }};
}

/// Prints values the way Python's `str()` does, and refuses undefined values (the chainable
/// environment would otherwise print them as empty strings).
fn python_formatter(out: &mut Output, state: &mut State, value: &Value) -> Result<(), Error> {
    if value.is_undefined() {
        if state.undefined_behavior() == UndefinedBehavior::Chainable {
            return Err(Error::new(ErrorKind::UndefinedError, "value is undefined"));
        }
        return minijinja::escape_formatter(out, state, value);
    }
    if let Some(text) = value.as_str() {
        if value.is_safe() && super::templar::has_jinja(text) {
            // Text that must not be templated (from `{% raw %}` or `!unsafe`) printed into a
            // template: kept in a raw block, which the templar's last pass unwraps.
            let text = text.replace("{% endraw %}", "{% endraw %}{{ '{% endraw %}' }}{% raw %}");
            return out
                .write_str(&format!("{{% raw %}}{text}{{% endraw %}}"))
                .map_err(|_| Error::new(ErrorKind::WriteFailure, "could not write output"));
        }
        return minijinja::escape_formatter(out, state, value);
    }
    if value.is_none() {
        // Ansible prints None inside a string as nothing.
        return Ok(());
    }
    out.write_str(&repr::python_str(value))
        .map_err(|_| Error::new(ErrorKind::WriteFailure, "could not write output"))
}

fn build(behavior: UndefinedBehavior, names: &mut Names) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(behavior);
    env.set_debug(false);
    // Ansible renders with `keep_trailing_newline`: `content: "x\n"` and a template ending in a
    // newline keep it.
    if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
        .keep_trailing_newline(true)
        .build()
    {
        env.set_syntax(syntax);
    }
    // Template names are the template text; never let a name ending in `.html` turn on escaping.
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_formatter(python_formatter);
    // Cached templates are looked up by their text: the loader hands the name back as source.
    // String literals are read as Ansible reads them (`'\1'` stays a backreference).
    env.set_loader(|name| Ok(Some(super::escapes::template(name).into_owned())));
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    minijinja_contrib::add_to_environment(&mut env);

    // Conversions.
    filter!(env, names, "bool", |v: &Value| convert::to_bool(v));
    filter!(env, names, "int", convert::to_int);
    filter!(env, names, "string", |v: &Value| convert::to_string(v));
    filter!(env, names, "type_debug", |v: &Value| convert::type_debug(v));
    filter!(env, names, "to_json", convert::to_json);
    filter!(env, names, "to_nice_json", convert::to_nice_json);
    filter!(env, names, "from_json", convert::from_json);
    filter!(env, names, "to_yaml", convert::to_yaml);
    filter!(env, names, "to_nice_yaml", convert::to_nice_yaml);
    filter!(env, names, "from_yaml", convert::from_yaml);
    filter!(env, names, "mandatory", convert::mandatory);
    filter!(env, names, "ternary", convert::ternary);
    // Text.
    filter!(env, names, "regex_search", text::regex_search);
    filter!(env, names, "regex_replace", text::regex_replace);
    filter!(env, names, "regex_findall", text::regex_findall);
    filter!(env, names, "b64encode", text::b64encode);
    filter!(env, names, "b64decode", text::b64decode);
    filter!(env, names, "basename", text::basename);
    filter!(env, names, "dirname", text::dirname);
    filter!(env, names, "quote", |v: &Value| text::quote(v));
    filter!(env, names, "hash", text::hash);
    filter!(env, names, "checksum", text::checksum);
    filter!(env, names, "regex_escape", text::regex_escape);
    filter!(env, names, "urlencode", text::urlencode);
    // Collections.
    filter!(env, names, "combine", data::combine);
    filter!(env, names, "dict2items", data::dict2items);
    filter!(env, names, "items2dict", data::items2dict);
    filter!(env, names, "dict", data::dict);
    filter!(env, names, "difference", data::difference);
    filter!(env, names, "intersect", data::intersect);
    filter!(env, names, "union", data::union);
    filter!(
        env,
        names,
        "symmetric_difference",
        data::symmetric_difference
    );
    filter!(env, names, "flatten", data::flatten);
    filter!(env, names, "map", data::map);
    filter!(env, names, "product", lists::product);
    filter!(env, names, "permutations", lists::permutations);
    filter!(env, names, "combinations", lists::combinations);
    filter!(env, names, "zip_longest", lists::zip_longest);
    filter!(env, names, "subelements", lists::subelements);
    filter!(env, names, "extract", lists::extract);
    // Numbers.
    filter!(env, names, "log", math::log);
    filter!(env, names, "pow", math::pow);
    filter!(env, names, "root", math::root);
    filter!(env, names, "human_readable", math::human_readable);
    filter!(env, names, "human_to_bytes", math::human_to_bytes);
    // Paths, on the controller.
    filter!(env, names, "path_join", path::path_join);
    filter!(env, names, "splitext", path::splitext);
    filter!(env, names, "realpath", path::realpath);
    filter!(env, names, "relpath", path::relpath);
    filter!(env, names, "expanduser", path::expanduser);

    // Task results.
    test!(env, names, "failed", tests::failed);
    test!(env, names, "failure", tests::failed);
    test!(env, names, "succeeded", tests::succeeded);
    test!(env, names, "success", tests::succeeded);
    test!(env, names, "successful", tests::succeeded);
    test!(env, names, "changed", tests::changed);
    test!(env, names, "change", tests::changed);
    test!(env, names, "skipped", tests::skipped);
    test!(env, names, "skip", tests::skipped);
    // Text and values.
    test!(env, names, "match", tests::is_match);
    test!(env, names, "search", tests::is_search);
    test!(env, names, "regex", tests::is_regex);
    test!(env, names, "truthy", tests::truthy);
    test!(env, names, "falsy", tests::falsy);
    test!(env, names, "version", tests::version);
    test!(env, names, "version_compare", tests::version);
    // Paths, on the controller.
    test!(env, names, "abs", |v: &Value| path_tests::abs(v));
    test!(env, names, "is_abs", |v: &Value| path_tests::abs(v));
    test!(env, names, "exists", |v: &Value| path_tests::exists(v));
    test!(env, names, "file", |v: &Value| path_tests::file(v));
    test!(env, names, "is_file", |v: &Value| path_tests::file(v));
    test!(env, names, "directory", |v: &Value| path_tests::directory(
        v
    ));
    test!(env, names, "is_dir", |v: &Value| path_tests::directory(v));
    test!(env, names, "link", |v: &Value| path_tests::link(v));
    test!(env, names, "is_link", |v: &Value| path_tests::link(v));
    test!(env, names, "same_file", |a: &Value, b: &Value| {
        path_tests::same_file(a, b)
    });
    test!(env, names, "is_same_file", |a: &Value, b: &Value| {
        path_tests::same_file(a, b)
    });

    env.add_function("lookup", lookups::lookup);
    env.add_function("query", lookups::query);
    env.add_function("q", lookups::query);
    env
}
