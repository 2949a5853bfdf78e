//! JSON parsing that notices duplicate object keys. serde_json keeps the last value of a key
//! that appears twice in one object and says nothing; a DLQ body like that loses the earlier
//! values when it is re-emitted, so the drain reports it (and still re-emits it: EventBridge's
//! matcher, aws/event-ruler, also reads the last value of a duplicate key).
//!
//! One pass over the text, building the same `Value` as `serde_json::from_str` does, so
//! noticing costs no second parse.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::map::Entry;
use serde_json::{Map, Number, Value};

/// Parses `text` as one JSON value. Answers the value (the last value of a duplicate key
/// kept) and the keys that appeared more than once in an object, at any depth, each named
/// once in the order met.
pub(crate) fn parse_noting_duplicates(text: &str) -> serde_json::Result<(Value, Vec<String>)> {
    let mut duplicates = Vec::new();
    let mut de = serde_json::Deserializer::from_str(text);
    let value = Noting(&mut duplicates).deserialize(&mut de)?;
    de.end()?;
    Ok((value, duplicates))
}

/// Builds a `Value` and adds each duplicate key it meets to the list.
struct Noting<'a>(&'a mut Vec<String>);

impl<'de> DeserializeSeed<'de> for Noting<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Noting<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // JSON text has no NaN or infinity, so this is always a number.
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(v) = seq.next_element_seed(Noting(&mut *self.0))? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(Noting(&mut *self.0))?;
            match out.entry(key) {
                Entry::Vacant(e) => {
                    e.insert(value);
                }
                Entry::Occupied(mut e) => {
                    if !self.0.iter().any(|k| k == e.key()) {
                        self.0.push(e.key().clone());
                    }
                    e.insert(value);
                }
            }
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_what_serde_json_builds() {
        for text in [
            r#"{"a":1,"b":[true,null,-2,3.5,"x",{"c":{}}],"d":"é\n","e":18446744073709551615}"#,
            "[]",
            "\"s\"",
            "1e300",
            " 12 ",
        ] {
            let (v, dups) = parse_noting_duplicates(text).unwrap();
            assert_eq!(v, serde_json::from_str::<Value>(text).unwrap(), "{text}");
            assert!(dups.is_empty());
        }
        for bad in ["", "{", "{\"a\":1} x", "[1,]", "nul"] {
            assert!(parse_noting_duplicates(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn duplicate_keys_at_any_depth_are_named_once_and_the_last_value_is_kept() {
        let text = r#"{"id":"a","detail":{"amount":1,"x":{"amount":2,"amount":3},"amount":4},"id":"b","id":"c"}"#;
        let (v, dups) = parse_noting_duplicates(text).unwrap();
        assert_eq!(v, serde_json::from_str::<Value>(text).unwrap());
        assert_eq!(v["id"], "c");
        assert_eq!(v["detail"]["amount"], 4);
        assert_eq!(v["detail"]["x"]["amount"], 3);
        assert_eq!(dups, ["amount", "id"]);
        // Inside arrays too.
        let (_, dups) = parse_noting_duplicates(r#"[{"k":1,"k":2}]"#).unwrap();
        assert_eq!(dups, ["k"]);
    }
}
