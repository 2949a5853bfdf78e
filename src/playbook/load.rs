//! Reading a playbook: TOML read with every value's line kept, checked against the step
//! kinds, so that each mistake is reported with its file, line and what to write instead.
//! Loading changes nothing and calls nothing.
//!
//! The parts live beside it: `schema` (kinds and field types), `model` (the loaded
//! playbook), `diagnostics`, `walk` (the TOML walk) and `checks` (ranges and references).

use std::collections::BTreeSet;

use toml::de::DeValue;

use super::checks::check_refs;
use super::diagnostics::Ctx;
pub use super::diagnostics::Diagnostic;
use super::diagnostics::unknown_key_hint;
pub use super::model::{Field, Param, Playbook, Step, Value, split_list};
pub use super::schema::{KINDS, Kind, Ty};
use super::walk::{entries, get, is_ident, read_params, read_step};

/// Reads and checks a playbook. All problems are returned, in line order.
pub fn load(file: &str, src: &str) -> Result<Playbook, Vec<Diagnostic>> {
    let mut ctx = Ctx::new(file, src);
    let doc = match toml::de::DeTable::parse(src) {
        Ok(d) => d,
        Err(e) => {
            let line = e.span().map(|s| ctx.line(s)).unwrap_or(1);
            let msg = e.message().trim().to_string();
            ctx.err(
                line,
                format!("TOML syntax error: {msg}"),
                "fix the TOML syntax (strings in double quotes, one key = value per line, [[steps]] tables)",
            );
            return Err(ctx.diags);
        }
    };
    let root = doc.get_ref();
    const KEYS: &[&str] = &["name", "description", "when", "params", "steps"];
    for (k, _) in entries(root) {
        if !KEYS.contains(&k.get_ref().as_ref()) {
            let l = ctx.line(k.span());
            let hint = unknown_key_hint(k.get_ref(), KEYS);
            ctx.err(l, format!("unknown top-level key `{}`", k.get_ref()), hint);
        }
    }
    let mut top = |key: &str, example: &str| -> String {
        match get(root, key) {
            Some(v) => match v.get_ref().as_str() {
                Some(s) if !s.trim().is_empty() => s.to_string(),
                _ => {
                    let l = ctx.line(v.span());
                    ctx.err(
                        l,
                        format!("`{key}` must be non-empty text"),
                        format!("write {key} = {example}"),
                    );
                    String::new()
                }
            },
            None => {
                ctx.err(
                    1,
                    format!("the playbook has no `{key}`"),
                    format!("add {key} = {example} at the top"),
                );
                String::new()
            }
        }
    };
    let name = top("name", "\"subscription-outage\"");
    let description = top("description", "\"what it recovers\"");
    let when = top("when", "\"the symptom that calls for it\"");
    if !name.is_empty() && !is_ident(&name) {
        let l = get(root, "name").map(|v| ctx.line(v.span())).unwrap_or(1);
        ctx.err(
            l,
            format!("playbook name {name:?} is not usable as a command argument"),
            "use lowercase letters, digits and -, e.g. name = \"subscription-outage\"",
        );
    }
    let params = get(root, "params")
        .map(|v| read_params(&mut ctx, v))
        .unwrap_or_default();
    let mut steps = Vec::new();
    match get(root, "steps") {
        Some(v) => match v.get_ref() {
            DeValue::Array(items) if !items.is_empty() => {
                for (i, item) in items.iter().enumerate() {
                    if let Some(s) = read_step(&mut ctx, i + 1, item) {
                        steps.push(s);
                    }
                }
            }
            _ => {
                let l = ctx.line(v.span());
                ctx.err(
                    l,
                    "`steps` must be a non-empty array of tables",
                    "write each step as a [[steps]] table with a kind",
                );
            }
        },
        None => ctx.err(
            1,
            "the playbook has no steps",
            "add [[steps]] tables, e.g. [[steps]] kind = \"doctor\" bus = \"${bus}\"",
        ),
    }
    let mut seen = BTreeSet::new();
    for s in &steps {
        if let Some(id) = &s.id
            && !seen.insert(id.clone())
        {
            ctx.err(
                s.line,
                format!("step {}: id `{id}` is used by an earlier step", s.number),
                "give every step a different id",
            );
        }
    }
    check_refs(&mut ctx, &params, &steps);
    if ctx.diags.is_empty() {
        Ok(Playbook {
            name,
            description,
            when,
            params,
            steps,
            file: file.to_string(),
        })
    } else {
        ctx.diags.sort_by_key(|d| d.line);
        Err(ctx.diags)
    }
}
