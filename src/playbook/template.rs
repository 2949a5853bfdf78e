//! `${...}` references in playbook values: `${since}` names a parameter,
//! `${steps.replay.name}` an output of an earlier step; `$$` is a literal `$`.

use std::fmt;

/// What a reference points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ref {
    Param(String),
    Output { step: String, field: String },
}

impl fmt::Display for Ref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ref::Param(p) => write!(f, "${{{p}}}"),
            Ref::Output { step, field } => write!(f, "${{steps.{step}.{field}}}"),
        }
    }
}

/// A piece of a templated string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Ref(Ref),
}

/// Splits a value into text and references.
pub fn parse(s: &str) -> Result<Vec<Piece>, String> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        text.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            text.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let Some(end) = body.find('}') else {
                return Err(format!(
                    "unclosed `${{` in {s:?}: write ${{name}} for a parameter, ${{steps.ID.OUTPUT}} for a step output, or $$ for a literal $"
                ));
            };
            if !text.is_empty() {
                out.push(Piece::Text(std::mem::take(&mut text)));
            }
            out.push(Piece::Ref(reference(body[..end].trim(), s)?));
            rest = &body[end + 1..];
        } else {
            text.push('$');
            rest = after;
        }
    }
    text.push_str(rest);
    if !text.is_empty() {
        out.push(Piece::Text(text));
    }
    Ok(out)
}

fn reference(body: &str, whole: &str) -> Result<Ref, String> {
    let parts: Vec<&str> = body.split('.').collect();
    let ident = |p: &str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    match parts.as_slice() {
        [p] if ident(p) && *p != "steps" => Ok(Ref::Param(p.to_string())),
        ["steps", step, field] if ident(step) && ident(field) => Ok(Ref::Output {
            step: step.to_string(),
            field: field.to_string(),
        }),
        _ => Err(format!(
            "`${{{body}}}` in {whole:?} is not a reference: write ${{name}} for a parameter or ${{steps.ID.OUTPUT}} for an earlier step's output"
        )),
    }
}

/// The references of a value, in order.
pub fn refs(s: &str) -> Result<Vec<Ref>, String> {
    Ok(parse(s)?
        .into_iter()
        .filter_map(|p| match p {
            Piece::Ref(r) => Some(r),
            Piece::Text(_) => None,
        })
        .collect())
}

/// The reference when the whole value is exactly one reference (`"${queues}"`).
pub fn whole(s: &str) -> Option<Ref> {
    match parse(s).ok()?.as_slice() {
        [Piece::Ref(r)] => Some(r.clone()),
        _ => None,
    }
}

/// Substitutes every reference with `lookup`'s text.
pub fn render(
    s: &str,
    lookup: &mut dyn FnMut(&Ref) -> Result<String, String>,
) -> Result<String, String> {
    let mut out = String::new();
    for p in parse(s)? {
        match p {
            Piece::Text(t) => out.push_str(&t),
            Piece::Ref(r) => out.push_str(&lookup(&r)?),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_outputs_and_literal_dollars() {
        assert_eq!(
            parse("a ${since} b $${x} $5 ${ steps.replay.name }").unwrap(),
            vec![
                Piece::Text("a ".into()),
                Piece::Ref(Ref::Param("since".into())),
                Piece::Text(" b ${x} $5 ".into()),
                Piece::Ref(Ref::Output {
                    step: "replay".into(),
                    field: "name".into()
                }),
            ]
        );
        assert_eq!(whole("${queues}"), Some(Ref::Param("queues".into())));
        assert_eq!(whole("x${queues}"), None);
    }

    #[test]
    fn malformed_references_say_what_to_write() {
        for bad in ["${since", "${}", "${steps.replay}", "${a b}", "${steps}"] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains("${name}"), "{bad}: {e}");
        }
    }

    #[test]
    fn render_substitutes_in_place() {
        let s = render("replay ${steps.r.name} of ${bus}", &mut |r| {
            Ok(match r {
                Ref::Param(p) => p.to_uppercase(),
                Ref::Output { field, .. } => field.clone(),
            })
        })
        .unwrap();
        assert_eq!(s, "replay name of BUS");
    }
}
