//! XEP-0106 JID escaping, ours: the `jid` crate has no escape and its
//! unescape panics on a trailing backslash, which any remote user can send.

use std::fmt::Write;

/// The characters XEP-0106 escapes, with their sequences.
const ESCAPES: [(char, &str); 10] = [
    (' ', "20"),
    ('"', "22"),
    ('&', "26"),
    ('\'', "27"),
    ('/', "2f"),
    (':', "3a"),
    ('<', "3c"),
    ('>', "3e"),
    ('@', "40"),
    ('\\', "5c"),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a localpart may not start or end with a space")]
pub struct EdgeSpace;

/// The character a two-hex-digit sequence stands for, if it is one of the
/// ten (lowercase only, as the XEP says).
fn decode(seq: &str) -> Option<char> {
    ESCAPES.iter().find(|(_, s)| *s == seq).map(|(c, _)| *c)
}

fn starts_sequence(rest: &str) -> bool {
    rest.get(..2).and_then(decode).is_some()
}

/// Escapes a foreign name into a JID localpart.
pub fn escape(name: &str) -> Result<String, EdgeSpace> {
    if name.starts_with(' ') || name.ends_with(' ') {
        return Err(EdgeSpace);
    }
    let mut out = String::with_capacity(name.len() + 8);
    for (i, c) in name.char_indices() {
        let escaped = match c {
            '\\' => starts_sequence(&name[i + 1..]),
            _ => ESCAPES.iter().any(|(e, _)| *e == c),
        };
        if escaped {
            let seq = ESCAPES.iter().find(|(e, _)| *e == c).map(|(_, s)| *s);
            let _ = write!(out, "\\{}", seq.unwrap_or_default());
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// Unescapes a JID localpart; anything that is not one of the ten
/// sequences stays as it is.
pub fn unescape(local: &str) -> Result<String, EdgeSpace> {
    let mut out = String::with_capacity(local.len());
    let mut rest = local;
    while let Some(pos) = rest.find('\\') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        match after.get(..2).and_then(decode) {
            Some(c) => {
                out.push(c);
                rest = &after[2..];
            }
            None => {
                out.push('\\');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    if out.starts_with(' ') || out.ends_with(' ') {
        return Err(EdgeSpace);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// XEP-0106 §5.1 examples.
    const EXAMPLES: [(&str, &str); 12] = [
        ("space cadet", "space\\20cadet"),
        ("call me \"ishmael\"", "call\\20me\\20\\22ishmael\\22"),
        ("at&t guy", "at\\26t\\20guy"),
        ("d'artagnan", "d\\27artagnan"),
        ("/.fanboy", "\\2f.fanboy"),
        ("::foo::", "\\3a\\3afoo\\3a\\3a"),
        ("<foo>", "\\3cfoo\\3e"),
        ("user@host", "user\\40host"),
        ("c:\\net", "c\\3a\\net"),
        ("c:\\\\net", "c\\3a\\\\net"),
        ("c:\\cool stuff", "c\\3a\\cool\\20stuff"),
        ("c:\\5commas", "c\\3a\\5c5commas"),
    ];

    #[test]
    fn xep_examples_both_ways() {
        for (plain, escaped) in EXAMPLES {
            assert_eq!(escape(plain).unwrap(), escaped, "escape {plain}");
            assert_eq!(unescape(escaped).unwrap(), plain, "unescape {escaped}");
        }
    }

    #[test]
    fn edge_spaces_are_refused() {
        assert_eq!(escape(" a"), Err(EdgeSpace));
        assert_eq!(escape("a "), Err(EdgeSpace));
        assert_eq!(unescape("\\20a"), Err(EdgeSpace));
        assert_eq!(unescape("a\\20"), Err(EdgeSpace));
    }

    #[test]
    fn odd_input_never_panics_and_stays_literal() {
        assert_eq!(unescape("trailing\\").unwrap(), "trailing\\");
        assert_eq!(unescape("\\4").unwrap(), "\\4");
        assert_eq!(unescape("\\41").unwrap(), "\\41");
        assert_eq!(
            unescape("\\3A").unwrap(),
            "\\3A",
            "uppercase is not a sequence"
        );
        assert_eq!(unescape("\\é9").unwrap(), "\\é9");
    }

    proptest! {
        #[test]
        fn round_trip(s in "[^ ]([ -~é\\\\]{0,20}[^ ])?") {
            let escaped = escape(&s).unwrap();
            prop_assert_eq!(unescape(&escaped).unwrap(), s);
        }

        #[test]
        fn escaped_has_no_forbidden_characters(s in "[^ ]([ -~]{0,20}[^ ])?") {
            let escaped = escape(&s).unwrap();
            prop_assert!(!escaped.contains([' ', '"', '&', '\'', '/', ':', '<', '>', '@']));
        }

        #[test]
        fn unescape_any_input_is_total(s in "\\PC{0,30}") {
            let _ = unescape(&s);
        }
    }
}
