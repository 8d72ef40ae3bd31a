//! Foreign text on its way into the XMPP stream. One character XML 1.0
//! forbids makes the server close the component link for every user, so
//! every string from a foreign network passes through here.

use std::borrow::Cow;

fn allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
}

/// Drops the characters XML 1.0 forbids; borrows when there are none.
pub fn clean(text: &str) -> Cow<'_, str> {
    if text.chars().all(allowed) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.chars().filter(|c| allowed(*c)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn strips_controls_and_nonchars_keeps_whitespace() {
        assert_eq!(
            clean("a\u{0}b\u{1}c\u{1b}[1m\td\ne\rf\u{FFFE}\u{FFFF}g"),
            "abc[1m\td\ne\rfg"
        );
        assert!(matches!(clean("plain ünïcode ☃"), Cow::Borrowed(_)));
    }

    proptest! {
        #[test]
        fn output_is_always_xml_text(s in "\\PC*|[\\x00-\\x1f\u{fffe}\u{ffff}a]*") {
            let out = clean(&s);
            prop_assert!(out.chars().all(allowed));
            prop_assert_eq!(out.chars().count(), s.chars().filter(|c| allowed(*c)).count());
        }
    }
}
