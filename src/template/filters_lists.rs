//! List-building filters Ansible takes from Python's itertools and its own plugins:
//! `product`, `permutations`, `combinations`, `zip_longest`, `subelements` and `extract`.

use minijinja::value::{Kwargs, Rest, ValueKind};
use minijinja::{Error, ErrorKind, Value};

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

/// The items of an iterable value (a mapping gives its keys, as Python iterates dicts).
fn items(value: &Value, filter: &str) -> Result<Vec<Value>, Error> {
    match value.kind() {
        ValueKind::Seq | ValueKind::Iterable | ValueKind::Map | ValueKind::String => {
            if let Some(text) = value.as_str() {
                return Ok(text.chars().map(|c| Value::from(c.to_string())).collect());
            }
            Ok(value.try_iter()?.collect())
        }
        _ => Err(invalid(format!(
            "{filter} expects a list, got {}",
            super::filters_convert::type_debug(value)
        ))),
    }
}

/// No more combinations than this: a typo in a template must not exhaust memory.
const LIMIT: usize = 1_000_000;

fn too_many(filter: &str) -> Error {
    invalid(format!("{filter}: more than {LIMIT} results"))
}

/// `product(*others, repeat=1)`: the cartesian product, as lists.
pub fn product(value: &Value, others: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let repeat = kwargs.get::<Option<usize>>("repeat")?.unwrap_or(1);
    kwargs.assert_all_used()?;
    let mut pools = vec![items(value, "product")?];
    for other in others.iter() {
        pools.push(items(other, "product")?);
    }
    let pools: Vec<Vec<Value>> = (0..repeat).flat_map(|_| pools.clone()).collect();
    let mut out: Vec<Vec<Value>> = vec![Vec::new()];
    for pool in &pools {
        if out.len().saturating_mul(pool.len()) > LIMIT {
            return Err(too_many("product"));
        }
        out = out
            .iter()
            .flat_map(|prefix| {
                pool.iter().map(move |item| {
                    let mut next = prefix.clone();
                    next.push(item.clone());
                    next
                })
            })
            .collect();
    }
    Ok(Value::from_iter(out.into_iter().map(Value::from)))
}

/// `permutations(r=len)`: ordered arrangements of `r` items, in itertools order.
pub fn permutations(value: &Value, r: Option<usize>) -> Result<Value, Error> {
    let pool = items(value, "permutations")?;
    let r = r.unwrap_or(pool.len());
    let mut out = Vec::new();
    if r <= pool.len() {
        let mut chosen = Vec::new();
        let mut used = vec![false; pool.len()];
        permute(&pool, r, &mut chosen, &mut used, &mut out)?;
    }
    Ok(Value::from_iter(out.into_iter().map(Value::from)))
}

fn permute(
    pool: &[Value],
    r: usize,
    chosen: &mut Vec<Value>,
    used: &mut [bool],
    out: &mut Vec<Vec<Value>>,
) -> Result<(), Error> {
    if chosen.len() == r {
        if out.len() >= LIMIT {
            return Err(too_many("permutations"));
        }
        out.push(chosen.clone());
        return Ok(());
    }
    for index in 0..pool.len() {
        if !used[index] {
            used[index] = true;
            chosen.push(pool[index].clone());
            permute(pool, r, chosen, used, out)?;
            chosen.pop();
            used[index] = false;
        }
    }
    Ok(())
}

/// `combinations(r)`: unordered selections of `r` items, in itertools order.
pub fn combinations(value: &Value, r: usize) -> Result<Value, Error> {
    let pool = items(value, "combinations")?;
    let mut out = Vec::new();
    let mut chosen = Vec::new();
    combine(&pool, r, 0, &mut chosen, &mut out)?;
    Ok(Value::from_iter(out.into_iter().map(Value::from)))
}

fn combine(
    pool: &[Value],
    r: usize,
    from: usize,
    chosen: &mut Vec<Value>,
    out: &mut Vec<Vec<Value>>,
) -> Result<(), Error> {
    if chosen.len() == r {
        if out.len() >= LIMIT {
            return Err(too_many("combinations"));
        }
        out.push(chosen.clone());
        return Ok(());
    }
    for index in from..pool.len() {
        chosen.push(pool[index].clone());
        combine(pool, r, index + 1, chosen, out)?;
        chosen.pop();
    }
    Ok(())
}

/// `zip_longest(*others, fillvalue=None)`: lists zipped, the shorter ones padded.
pub fn zip_longest(value: &Value, others: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let fill = kwargs
        .get::<Option<Value>>("fillvalue")?
        .unwrap_or(Value::from(()));
    kwargs.assert_all_used()?;
    let mut lists = vec![items(value, "zip_longest")?];
    for other in others.iter() {
        lists.push(items(other, "zip_longest")?);
    }
    let longest = lists.iter().map(Vec::len).max().unwrap_or(0);
    Ok(Value::from_iter((0..longest).map(|index| {
        Value::from_iter(
            lists
                .iter()
                .map(|list| list.get(index).cloned().unwrap_or_else(|| fill.clone())),
        )
    })))
}

/// `subelements('key.path', skip_missing=False)`: `[parent, child]` for each entry of the
/// list found under the key path of every parent.
pub fn subelements(
    value: &Value,
    path: &str,
    skip_missing: Option<bool>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let skip_missing = match skip_missing {
        Some(skip) => skip,
        None => kwargs.get::<Option<bool>>("skip_missing")?.unwrap_or(false),
    };
    kwargs.assert_all_used()?;
    let parents: Vec<Value> = match value.kind() {
        ValueKind::Map => value
            .try_iter()?
            .map(|key| value.get_item(&key).unwrap_or_default())
            .collect(),
        ValueKind::Seq | ValueKind::Iterable => value.try_iter()?.collect(),
        _ => return Err(invalid("subelements expects a list or a dict of dicts")),
    };
    let mut out = Vec::new();
    for parent in parents {
        let mut current = parent.clone();
        let mut missing = false;
        for key in path.split('.') {
            let next = current.get_attr(key).unwrap_or_default();
            if next.is_undefined() || next.is_none() {
                missing = true;
                break;
            }
            current = next;
        }
        if missing {
            if skip_missing {
                continue;
            }
            return Err(invalid(format!(
                "could not find '{path}' key in iterated item '{parent}'"
            )));
        }
        if current.kind() != ValueKind::Seq {
            return Err(invalid(format!(
                "the key {path} should point to a list, got '{current}'"
            )));
        }
        for child in current.try_iter()? {
            out.push(Value::from(vec![parent.clone(), child]));
        }
    }
    Ok(Value::from(out))
}

/// `extract(container, morekeys=None)`: `container[item]`, then each of `morekeys` in turn.
pub fn extract(item: &Value, container: &Value, morekeys: Option<Value>) -> Result<Value, Error> {
    let mut keys = vec![item.clone()];
    match morekeys {
        Some(more) if more.kind() == ValueKind::Seq => keys.extend(more.try_iter()?),
        Some(more) if !more.is_none() && !more.is_undefined() => keys.push(more),
        _ => {}
    }
    let mut current = container.clone();
    for key in keys {
        let next = current.get_item(&key)?;
        if next.is_undefined() {
            return Err(Error::new(
                ErrorKind::UndefinedError,
                format!("extract: no key {key} in {current}"),
            ));
        }
        current = next;
    }
    Ok(current)
}

#[cfg(test)]
mod tests {
    use crate::template::testing::{eval, eval_err};
    use serde_json::json;

    #[test]
    fn product_permutations_and_combinations_follow_itertools() {
        assert_eq!(
            eval("['a', 'b'] | product([1, 2]) | list"),
            json!([["a", 1], ["a", 2], ["b", 1], ["b", 2]])
        );
        assert_eq!(
            eval("[0, 1] | product(repeat=2)"),
            json!([[0, 0], [0, 1], [1, 0], [1, 1]])
        );
        assert_eq!(
            eval("[1, 2, 3] | permutations(2)"),
            json!([[1, 2], [1, 3], [2, 1], [2, 3], [3, 1], [3, 2]])
        );
        assert_eq!(
            eval("[1, 2, 3] | combinations(2)"),
            json!([[1, 2], [1, 3], [2, 3]])
        );
        assert!(
            eval_err("range(100) | product(range(100), range(100), range(100))")
                .contains("more than")
        );
    }

    #[test]
    fn zip_longest_pads_and_subelements_pairs_parents_with_children() {
        assert_eq!(
            eval("[1, 2, 3] | zip_longest(['a'], fillvalue='-')"),
            json!([[1, "a"], [2, "-"], [3, "-"]])
        );
        assert_eq!(
            eval("[{'n': 'x', 'k': [1, 2]}, {'n': 'y'}] | subelements('k', skip_missing=True)"),
            json!([[{"n": "x", "k": [1, 2]}, 1], [{"n": "x", "k": [1, 2]}, 2]])
        );
        assert!(eval_err("[{'n': 'y'}] | subelements('k')").contains("could not find 'k'"));
    }

    #[test]
    fn extract_follows_keys_into_the_container() {
        assert_eq!(
            eval("[0, 2] | map('extract', ['a', 'b', 'c']) | list"),
            json!(["a", "c"])
        );
        assert_eq!(
            eval("'h' | extract({'h': {'ip': {'v4': 1}}}, ['ip', 'v4'])"),
            json!(1)
        );
    }
}
