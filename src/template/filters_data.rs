//! Collection filters Ansible adds to Jinja: `combine`, `dict2items`, `items2dict`, the set
//! filters (`difference`, `intersect`, `union`), `flatten` and `dict`.

use indexmap::IndexMap;
use minijinja::value::{Kwargs, Rest, ValueKind};
use minijinja::{Error, ErrorKind, Value};

/// An ordered map of values, the working form for building dicts.
type Map = IndexMap<Value, Value>;

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

/// The entries of a mapping value, in order; an error naming `filter` otherwise.
fn entries(value: &Value, filter: &str) -> Result<Map, Error> {
    if value.kind() != ValueKind::Map {
        return Err(invalid(format!(
            "{filter} expects a dictionary, got {}",
            super::filters_convert::type_debug(value)
        )));
    }
    let mut map = Map::new();
    for key in value.try_iter()? {
        let item = value.get_item(&key)?;
        map.insert(key, item);
    }
    Ok(map)
}

/// The items of a list value; an error naming `filter` otherwise.
fn items(value: &Value, filter: &str) -> Result<Vec<Value>, Error> {
    match value.kind() {
        ValueKind::Seq | ValueKind::Iterable => Ok(value.try_iter()?.collect()),
        _ => Err(invalid(format!(
            "{filter} expects a list, got {}",
            super::filters_convert::type_debug(value)
        ))),
    }
}

/// How `combine` merges two lists found under the same key.
#[derive(Clone, Copy)]
enum ListMerge {
    Replace,
    Keep,
    Append,
    Prepend,
    AppendRp,
    PrependRp,
}

impl ListMerge {
    fn parse(name: &str) -> Result<Self, Error> {
        Ok(match name {
            "replace" => Self::Replace,
            "keep" => Self::Keep,
            "append" => Self::Append,
            "prepend" => Self::Prepend,
            "append_rp" => Self::AppendRp,
            "prepend_rp" => Self::PrependRp,
            other => {
                return Err(invalid(format!(
                    "combine: list_merge must be one of replace, keep, append, prepend, \
                     append_rp, prepend_rp; got {other:?}"
                )))
            }
        })
    }

    fn merge(self, old: Vec<Value>, new: Vec<Value>) -> Vec<Value> {
        let without_new = |old: Vec<Value>, new: &[Value]| -> Vec<Value> {
            old.into_iter().filter(|x| !new.contains(x)).collect()
        };
        match self {
            Self::Replace => new,
            Self::Keep => old,
            Self::Append => old.into_iter().chain(new).collect(),
            Self::Prepend => new.into_iter().chain(old).collect(),
            Self::AppendRp => {
                let mut out = without_new(old, &new);
                out.extend(new);
                out
            }
            Self::PrependRp => {
                let rest = without_new(old, &new);
                new.into_iter().chain(rest).collect()
            }
        }
    }
}

/// Ansible's `merge_hash`: `new` over `old`; nested dicts merge when `recursive`, lists per
/// `list_merge`.
fn merge(mut old: Map, new: Map, recursive: bool, list_merge: ListMerge) -> Result<Map, Error> {
    for (key, new_value) in new {
        let Some(old_value) = old.get(&key) else {
            old.insert(key, new_value);
            continue;
        };
        let merged = match (old_value.kind(), new_value.kind()) {
            (ValueKind::Map, ValueKind::Map) if recursive => Value::from_pairs(merge(
                entries(old_value, "combine")?,
                entries(&new_value, "combine")?,
                recursive,
                list_merge,
            )?),
            (ValueKind::Seq, ValueKind::Seq) => Value::from(
                list_merge.merge(items(old_value, "combine")?, items(&new_value, "combine")?),
            ),
            _ => new_value,
        };
        old.insert(key, merged);
    }
    Ok(old)
}

/// `combine(*dicts, recursive=False, list_merge='replace')`; lists of dicts are accepted too.
pub fn combine(value: &Value, others: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let recursive = kwargs.get::<Option<bool>>("recursive")?.unwrap_or(false);
    let list_merge = ListMerge::parse(
        kwargs
            .get::<Option<&str>>("list_merge")?
            .unwrap_or("replace"),
    )?;
    kwargs.assert_all_used()?;
    let mut dicts = Vec::new();
    for v in std::iter::once(value).chain(others.iter()) {
        if v.kind() == ValueKind::Seq {
            dicts.extend(items(v, "combine")?);
        } else {
            dicts.push(v.clone());
        }
    }
    let mut result = Map::new();
    for dict in &dicts {
        result = merge(result, entries(dict, "combine")?, recursive, list_merge)?;
    }
    Ok(Value::from_pairs(result))
}

/// `dict2items(key_name='key', value_name='value')`.
pub fn dict2items(value: &Value, kwargs: Kwargs) -> Result<Value, Error> {
    let key_name = kwargs.get::<Option<&str>>("key_name")?.unwrap_or("key");
    let value_name = kwargs.get::<Option<&str>>("value_name")?.unwrap_or("value");
    kwargs.assert_all_used()?;
    Ok(entries(value, "dict2items")?
        .into_iter()
        .map(|(k, v)| Value::from_pairs([(key_name, k), (value_name, v)]))
        .collect())
}

/// `items2dict(key_name='key', value_name='value')`.
pub fn items2dict(value: &Value, kwargs: Kwargs) -> Result<Value, Error> {
    let key_name = kwargs.get::<Option<&str>>("key_name")?.unwrap_or("key");
    let value_name = kwargs.get::<Option<&str>>("value_name")?.unwrap_or("value");
    kwargs.assert_all_used()?;
    let mut map = Map::new();
    for item in items(value, "items2dict")? {
        let key = item.get_attr(key_name)?;
        let val = item.get_attr(value_name)?;
        if key.is_undefined() || val.is_undefined() {
            return Err(invalid(format!(
                "items2dict: every item needs '{key_name}' and '{value_name}' keys"
            )));
        }
        map.insert(key, val);
    }
    Ok(Value::from_pairs(map))
}

/// `dict`: a list of `[key, value]` pairs as a dict (a dict is returned unchanged).
pub fn dict(value: &Value) -> Result<Value, Error> {
    if value.kind() == ValueKind::Map {
        return Ok(value.clone());
    }
    let mut map = Map::new();
    for pair in items(value, "dict")? {
        let parts: Vec<Value> = pair.try_iter()?.collect();
        let [key, val] = <[Value; 2]>::try_from(parts)
            .map_err(|_| invalid("dict expects a list of [key, value] pairs"))?;
        map.insert(key, val);
    }
    Ok(Value::from_pairs(map))
}

/// Keeps the first occurrence of each item, in order.
fn unique(values: impl IntoIterator<Item = Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// `difference(other)`: unique items of the list not in `other`.
pub fn difference(value: &Value, other: &Value) -> Result<Value, Error> {
    let other = items(other, "difference")?;
    let a = items(value, "difference")?;
    Ok(Value::from(unique(
        a.into_iter().filter(|x| !other.contains(x)),
    )))
}

/// `intersect(other)`: unique items in both lists.
pub fn intersect(value: &Value, other: &Value) -> Result<Value, Error> {
    let other = items(other, "intersect")?;
    let a = items(value, "intersect")?;
    Ok(Value::from(unique(
        a.into_iter().filter(|x| other.contains(x)),
    )))
}

/// `union(other)`: unique items of both lists.
pub fn union(value: &Value, other: &Value) -> Result<Value, Error> {
    let a = items(value, "union")?;
    let b = items(other, "union")?;
    Ok(Value::from(unique(a.into_iter().chain(b))))
}

/// `symmetric_difference(other)`: unique items in exactly one of the lists.
pub fn symmetric_difference(value: &Value, other: &Value) -> Result<Value, Error> {
    let a = items(value, "symmetric_difference")?;
    let b = items(other, "symmetric_difference")?;
    let only_a = a.iter().filter(|x| !b.contains(x)).cloned();
    let only_b = b.iter().filter(|x| !a.contains(x)).cloned();
    Ok(Value::from(unique(only_a.chain(only_b))))
}

fn flatten_into(out: &mut Vec<Value>, value: &Value, levels: Option<usize>, skip_nulls: bool) {
    for item in value.try_iter().into_iter().flatten() {
        if item.kind() == ValueKind::Seq && levels != Some(0) {
            flatten_into(out, &item, levels.map(|l| l - 1), skip_nulls);
        } else if !(skip_nulls && item.is_none()) {
            out.push(item);
        }
    }
}

/// `flatten(levels=None, skip_nulls=True)`.
pub fn flatten(value: &Value, levels: Option<usize>, kwargs: Kwargs) -> Result<Value, Error> {
    let levels = match levels {
        Some(l) => Some(l),
        None => kwargs.get::<Option<usize>>("levels")?,
    };
    let skip_nulls = kwargs.get::<Option<bool>>("skip_nulls")?.unwrap_or(true);
    kwargs.assert_all_used()?;
    items(value, "flatten")?;
    let mut out = Vec::new();
    flatten_into(&mut out, value, levels, skip_nulls);
    Ok(Value::from(out))
}

/// `map`: minijinja's, except that `map(attribute='x')` over an item without `x` (and no
/// `default=`) fails, as Ansible's does, instead of giving undefined values.
pub fn map(
    state: &mut minijinja::State,
    value: Value,
    args: minijinja::value::Rest<minijinja::value::ValueOrKwargs>,
) -> Result<Vec<Value>, Error> {
    let mapped = minijinja::filters::map(state, value, args)?;
    if mapped.iter().any(Value::is_undefined) {
        return Err(Error::new(
            ErrorKind::UndefinedError,
            "map(attribute=...): an item has no such attribute",
        ));
    }
    Ok(mapped)
}

#[cfg(test)]
mod tests {
    use crate::template::testing::{eval, eval_err};
    use serde_json::json;

    #[test]
    fn combine_merges_left_to_right() {
        assert_eq!(
            eval("{'a': 1, 'b': {'x': 1}} | combine({'b': {'y': 2}}, {'c': 3})"),
            json!({"a": 1, "b": {"y": 2}, "c": 3})
        );
        assert_eq!(
            eval("{'a': 1, 'b': {'x': 1}} | combine({'b': {'y': 2}}, recursive=true)"),
            json!({"a": 1, "b": {"x": 1, "y": 2}})
        );
        assert_eq!(eval("[{'a': 1}, {'a': 2}] | combine"), json!({"a": 2}));
    }

    #[test]
    fn combine_list_merge_modes() {
        let base = "{'l': [1, 2]} | combine({'l': [2, 3]}, list_merge=";
        assert_eq!(eval(&format!("{base}'replace')")), json!({"l": [2, 3]}));
        assert_eq!(eval(&format!("{base}'keep')")), json!({"l": [1, 2]}));
        assert_eq!(
            eval(&format!("{base}'append')")),
            json!({"l": [1, 2, 2, 3]})
        );
        assert_eq!(
            eval(&format!("{base}'prepend')")),
            json!({"l": [2, 3, 1, 2]})
        );
        assert_eq!(
            eval(&format!("{base}'append_rp')")),
            json!({"l": [1, 2, 3]})
        );
        assert_eq!(
            eval(&format!("{base}'prepend_rp')")),
            json!({"l": [2, 3, 1]})
        );
        assert!(eval_err(&format!("{base}'bogus')")).contains("list_merge"));
        assert!(eval_err("[1] | combine({})").contains("dictionary"));
    }

    #[test]
    fn dict2items_and_items2dict_round_trip() {
        assert_eq!(
            eval("{'a': 1} | dict2items"),
            json!([{"key": "a", "value": 1}])
        );
        assert_eq!(
            eval("{'a': 1} | dict2items(key_name='k', value_name='v')"),
            json!([{"k": "a", "v": 1}])
        );
        assert_eq!(
            eval("[{'key': 'a', 'value': 1}] | items2dict"),
            json!({"a": 1})
        );
        assert_eq!(
            eval("[{'n': 'a', 'v': 1}] | items2dict(key_name='n', value_name='v')"),
            json!({"a": 1})
        );
        assert!(eval_err("[{'x': 1}] | items2dict").contains("items2dict"));
    }

    #[test]
    fn dict_and_list_conversions() {
        assert_eq!(eval("[['a', 1], ['b', 2]] | dict"), json!({"a": 1, "b": 2}));
        assert_eq!(eval("{'a': 1} | list"), json!(["a"]));
        assert_eq!(eval("'ab' | list"), json!(["a", "b"]));
    }

    #[test]
    fn set_filters_keep_order_and_uniqueness() {
        assert_eq!(eval("[1, 2, 2, 3] | difference([2])"), json!([1, 3]));
        assert_eq!(eval("[1, 2, 2, 3] | intersect([3, 2])"), json!([2, 3]));
        assert_eq!(eval("[1, 2] | union([2, 3])"), json!([1, 2, 3]));
        assert_eq!(eval("[1, 2] | symmetric_difference([2, 3])"), json!([1, 3]));
    }

    #[test]
    fn flatten_levels_and_nulls() {
        assert_eq!(eval("[1, [2, [3, none]]] | flatten"), json!([1, 2, 3]));
        assert_eq!(eval("[1, [2, [3]]] | flatten(1)"), json!([1, 2, [3]]));
        assert_eq!(
            eval("[1, [none]] | flatten(skip_nulls=false)"),
            json!([1, null])
        );
    }

    #[test]
    fn builtin_list_filters_behave_like_jinja() {
        assert_eq!(eval("[3, 1, 2] | length"), json!(3));
        assert_eq!(eval("'abc' | count"), json!(3));
        assert_eq!(eval("[3, 1] | first"), json!(3));
        assert_eq!(eval("[3, 1] | last"), json!(1));
        assert_eq!(eval("['a', 'b', 'a'] | unique"), json!(["a", "b"]));
        assert_eq!(eval("[3, 1, 2] | sort"), json!([1, 2, 3]));
        assert_eq!(eval("[3, 1, 2] | sort(reverse=true)"), json!([3, 2, 1]));
        assert_eq!(
            eval("[{'n': 2}, {'n': 1}] | sort(attribute='n') | map(attribute='n') | list"),
            json!([1, 2])
        );
        assert_eq!(eval("[3, 1, 2] | min"), json!(1));
        assert_eq!(eval("[3, 1, 2] | max"), json!(3));
        assert_eq!(eval("[3, 1, 2] | sum"), json!(6));
        assert_eq!(
            eval("[{'n': 2}, {'n': 5}] | max(attribute='n')"),
            json!({"n": 5})
        );
    }

    #[test]
    fn select_reject_and_map_forms() {
        assert_eq!(eval("[1, 0, 2] | select | list"), json!([1, 2]));
        assert_eq!(eval("[1, 2, 3, 4] | select('even') | list"), json!([2, 4]));
        assert_eq!(
            eval("['ab', 'cd'] | select('match', 'a') | list"),
            json!(["ab"])
        );
        assert_eq!(eval("[1, 2, 3] | reject('odd') | list"), json!([2]));
        let hosts = "[{'n': 'a', 'up': true}, {'n': 'b', 'up': false}, {'n': 'c'}]";
        assert_eq!(
            eval(&format!(
                "{hosts} | selectattr('up') | map(attribute='n') | list"
            )),
            json!(["a"])
        );
        assert_eq!(
            eval(&format!(
                "{hosts} | rejectattr('up') | map(attribute='n') | list"
            )),
            json!(["b", "c"])
        );
        assert_eq!(
            eval(&format!(
                "{hosts} | selectattr('up', 'defined') | map(attribute='n') | list"
            )),
            json!(["a", "b"])
        );
        assert_eq!(eval("['a', 'b'] | map('upper') | list"), json!(["A", "B"]));
        assert_eq!(eval("['1', '2'] | map('int') | list"), json!([1, 2]));
    }

    #[test]
    fn map_attribute_fails_on_an_item_without_it() {
        let err = eval_err("[{'name': 'a'}, {'uid': 1}] | map(attribute='uid') | list");
        assert!(err.contains("no such attribute"), "{err}");
        assert_eq!(
            eval("[{'name': 'a'}] | map(attribute='uid', default=0) | list"),
            json!([0])
        );
        assert_eq!(eval("['a'] | map('upper') | list"), json!(["A"]));
    }
}
