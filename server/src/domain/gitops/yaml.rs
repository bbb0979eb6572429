//! The YAML Strongroom writes for Git: block mappings and sequences whose
//! every scalar is a double-quoted JSON string (or `true`/`false`), so no
//! reader can take a value for a number, a date or a null. SOPS, kubectl,
//! Flux and Argo CD read it like any other YAML; and since a SOPS MAC
//! covers each value's bytes as the reader types them, a value that could
//! read as a date or a number would break it.

/// A YAML node in the order it is written.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    Str(String),
    Bool(bool),
    Map(Vec<(String, Node)>),
    List(Vec<Node>),
}

impl Node {
    pub fn str(s: impl Into<String>) -> Node {
        Node::Str(s.into())
    }

    /// A JSON value as a node (object keys in the JSON map's order).
    pub fn from_json(v: &serde_json::Value) -> Node {
        match v {
            serde_json::Value::Object(m) => Node::Map(
                m.iter()
                    .map(|(k, v)| (k.clone(), Node::from_json(v)))
                    .collect(),
            ),
            serde_json::Value::Array(a) => Node::List(a.iter().map(Node::from_json).collect()),
            serde_json::Value::Bool(b) => Node::Bool(*b),
            serde_json::Value::String(s) => Node::Str(s.clone()),
            other => Node::Str(other.to_string()),
        }
    }
}

/// A double-quoted YAML scalar. Beyond JSON's escapes, the characters a
/// YAML reader refuses or folds (DEL and the C1 controls, NEL, the line and
/// paragraph separators, the byte-order mark, U+FFFE/U+FFFF) are escaped,
/// so every reader gets back exactly `s`.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20
                || (0x7f..=0x9f).contains(&(c as u32))
                || matches!(
                    c,
                    '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
                ) =>
            {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A mapping key: bare when it cannot read as anything but that string.
fn key(k: &str) -> String {
    let plain = !k.is_empty()
        && k.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/'))
        && !matches!(
            k.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null"
        );
    if plain { k.to_string() } else { quoted(k) }
}

fn write(node: &Node, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match node {
        Node::Map(entries) => {
            for (k, v) in entries {
                out.push_str(&pad);
                out.push_str(&key(k));
                out.push(':');
                match v {
                    Node::Map(m) if m.is_empty() => out.push_str(" {}\n"),
                    Node::List(l) if l.is_empty() => out.push_str(" []\n"),
                    Node::Map(_) | Node::List(_) => {
                        out.push('\n');
                        write(v, indent + 2, out);
                    }
                    scalar => {
                        out.push(' ');
                        write_scalar(scalar, out);
                        out.push('\n');
                    }
                }
            }
        }
        Node::List(items) => {
            for item in items {
                out.push_str(&pad);
                out.push('-');
                match item {
                    Node::Map(m) if !m.is_empty() => {
                        // The first entry on the dash's line, the rest below it.
                        let mut first = String::new();
                        write(item, indent + 2, &mut first);
                        out.push(' ');
                        out.push_str(&first[indent + 2..]);
                    }
                    Node::List(l) if !l.is_empty() => {
                        out.push('\n');
                        write(item, indent + 2, out);
                    }
                    Node::Map(_) => out.push_str(" {}\n"),
                    Node::List(_) => out.push_str(" []\n"),
                    scalar => {
                        out.push(' ');
                        write_scalar(scalar, out);
                        out.push('\n');
                    }
                }
            }
        }
        scalar => {
            out.push_str(&pad);
            write_scalar(scalar, out);
            out.push('\n');
        }
    }
}

fn write_scalar(node: &Node, out: &mut String) {
    match node {
        Node::Str(s) => out.push_str(&quoted(s)),
        Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        _ => unreachable!("only scalars"),
    }
}

/// The YAML document of `node`.
pub fn to_string(node: &Node) -> String {
    let mut out = String::new();
    write(node, 0, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_reads_back_as_the_string_it_was() {
        let tricky = [
            "2026-11-30T12:00:00Z",
            "2026-01-01",
            "true",
            "null",
            "0x1F",
            "1e3",
            "~",
            "- a",
            "a: b",
            "#x",
            "line\nbreak\t\u{1}",
            "",
            "'single'",
            "\"double\"",
            "ünïcode",
            "a\u{85}b",
            "del\u{7f}c1\u{9b}",
            "\u{2028}\u{2029}",
            "\u{feff}bom\u{fffe}\u{ffff}",
            "emoji 🗝",
        ];
        let doc = Node::Map(vec![
            (
                "data".into(),
                Node::Map(
                    tricky
                        .iter()
                        .map(|v| (format!("k{v}"), Node::str(*v)))
                        .collect(),
                ),
            ),
            (
                "list".into(),
                Node::List(vec![
                    Node::Map(vec![
                        ("recipient".into(), Node::str("age1x")),
                        ("enc".into(), Node::str("a\nb\n")),
                    ]),
                    Node::str("no"),
                ]),
            ),
            ("immutable".into(), Node::Bool(true)),
            ("on".into(), Node::Map(vec![])),
        ]);
        let text = to_string(&doc);
        let back: serde_json::Value = serde_norway::from_str(&text).unwrap();
        for v in tricky {
            assert_eq!(
                back["data"][format!("k{v}")],
                serde_json::json!(v),
                "{text}"
            );
        }
        assert_eq!(back["list"][0]["enc"], "a\nb\n", "{text}");
        assert_eq!(back["list"][1], "no");
        assert_eq!(back["immutable"], true);
        assert!(back["on"].is_object(), "{text}");
    }
}
