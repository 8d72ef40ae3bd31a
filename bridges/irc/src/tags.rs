//! IRCv3 message tags (ircv3.net/specs/extensions/message-tags), kept as
//! the server sent them and read only where a tag is used. Ours rather
//! than `irc-proto`'s, which splits and unescapes every tag of every line
//! into owned strings: a room line fans out to many users' connections and
//! most of its tags (`msgid`, `account`, `batch`) are never looked at.

use std::borrow::Cow;

/// The most a server may send of a line's tags, with the leading `@` and
/// the space after them. A longer tag section is ignored, not the line.
pub const MAX_TAGS: usize = 8191;
/// The most a client may send of tag data (without `@` and the space).
pub const MAX_CLIENT_TAGS: usize = 4094;

/// A line's tags, unparsed (without the `@`): `None` for a line without.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tags(Option<Box<str>>);

impl Tags {
    /// Splits a line into its tags and the rest (the line `irc-proto`
    /// parses). A tag section over `MAX_TAGS` is dropped, the rest kept.
    pub fn split(line: &str) -> (Tags, &str) {
        let Some(tagged) = line.strip_prefix('@') else {
            return (Tags(None), line);
        };
        let (raw, rest) = tagged.split_once(' ').unwrap_or((tagged, ""));
        let rest = rest.trim_start_matches(' ');
        if raw.len() + 2 > MAX_TAGS {
            tracing::debug!(bytes = raw.len(), "overlong IRC tags ignored");
            return (Tags(None), rest);
        }
        let tags = (!raw.is_empty()).then(|| raw.into());
        (Tags(tags), rest)
    }

    /// The value of `key`, unescaped; `Some("")` for a tag without one.
    /// A key given twice counts as its last value.
    pub fn get(&self, key: &str) -> Option<Cow<'_, str>> {
        self.iter()
            .filter(|(k, _)| *k == key)
            .last()
            .map(|(_, v)| v)
    }

    /// Every tag in order, values unescaped.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Cow<'_, str>)> {
        self.0
            .as_deref()
            .unwrap_or("")
            .split(';')
            .map(|tag| match tag.split_once('=') {
                Some((key, value)) => (key, unescape(value)),
                None => (tag, Cow::Borrowed("")),
            })
            // A tag without a key (`@=x`) names nothing: skipped.
            .filter(|(key, _)| !key.is_empty())
    }

    /// `server-time`: when the server says the line was sent, in unix
    /// milliseconds.
    pub fn time_ms(&self) -> Option<i64> {
        let time = self.get("time")?;
        let parsed = chrono::DateTime::parse_from_rfc3339(&time).ok()?;
        Some(parsed.timestamp_millis())
    }
}

/// A line's time for a message (unix seconds) when it is more than
/// `LATE_MS` older than `now_ms`: history, playback or lag, which clients
/// show with its time. A fresh line has none: it is now.
pub fn late(time_ms: i64, now_ms: i64) -> Option<i64> {
    (now_ms - time_ms > LATE_MS).then(|| time_ms.div_euclid(1000))
}

/// How old a line's server time must be to be told (SPEC §9).
const LATE_MS: i64 = 5000;

/// Now, in unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A tag value as the wire carries it: `\:` for `;`, `\s` for a space,
/// `\\`, `\r`, `\n`; an unknown escape stands for the character, and a
/// trailing lone `\` for nothing.
pub fn unescape(raw: &str) -> Cow<'_, str> {
    if !raw.contains('\\') {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(':') => out.push(';'),
            Some('s') => out.push(' '),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    Cow::Owned(out)
}

/// Appends `value` escaped for the wire.
pub fn escape_into(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            ';' => out.push_str("\\:"),
            ' ' => out.push_str("\\s"),
            '\\' => out.push_str("\\\\"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// The tag section of a line we send (`@k=v;k2 `), or "" without tags.
/// Tags that would take it over `MAX_CLIENT_TAGS` are left out: a client
/// tag is an extra, never worth the line.
pub fn prefix(tags: &[(&str, Option<&str>)]) -> String {
    let mut out = String::new();
    for (key, value) in tags {
        let mut tag = String::from(*key);
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            tag.push('=');
            escape_into(value, &mut tag);
        }
        let sep = usize::from(!out.is_empty());
        if out.len() + sep + tag.len() > MAX_CLIENT_TAGS {
            continue;
        }
        if sep == 1 {
            out.push(';');
        }
        out.push_str(&tag);
    }
    if out.is_empty() {
        return out;
    }
    format!("@{out} ")
}

/// The bytes of a line's tag section (with `@` and the space), 0 without.
pub fn section_len(line: &str) -> usize {
    match line.strip_prefix('@') {
        Some(tagged) => tagged.find(' ').map_or(line.len(), |i| i + 2),
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tags(line: &str) -> Tags {
        Tags::split(line).0
    }

    #[test]
    fn split_keeps_the_rest_for_the_parser() {
        let (t, rest) =
            Tags::split("@time=2026-12-06T05:00:00.000Z;msgid=ab :n!u@h PRIVMSG #c :hi");
        assert_eq!(rest, ":n!u@h PRIVMSG #c :hi");
        assert_eq!(t.get("msgid").as_deref(), Some("ab"));
        assert_eq!(t.get("time").as_deref(), Some("2026-12-06T05:00:00.000Z"));
        let (t, rest) = Tags::split(":n PRIVMSG #c :hi");
        assert_eq!(t, Tags::default());
        assert_eq!(rest, ":n PRIVMSG #c :hi");
    }

    /// The message-tags spec's examples.
    #[test]
    fn spec_examples() {
        let t = tags("@aaa=bbb;ccc;example.com/ddd=eee :nick!ident@host.com PRIVMSG me :Hello");
        assert_eq!(t.get("aaa").as_deref(), Some("bbb"));
        assert_eq!(t.get("ccc").as_deref(), Some(""));
        assert_eq!(t.get("example.com/ddd").as_deref(), Some("eee"));
        assert_eq!(t.get("ddd"), None);
        let t =
            tags("@+icon=https://example.com/favicon.png :url_bot!bot@example.com PRIVMSG #x :x");
        assert_eq!(
            t.get("+icon").as_deref(),
            Some("https://example.com/favicon.png")
        );
        // Empty values equal missing ones; the last of a repeated key wins.
        let t = tags("@a=;b=1;b=2 CMD");
        assert_eq!(t.get("a").as_deref(), Some(""));
        assert_eq!(t.get("b").as_deref(), Some("2"));
    }

    #[test]
    fn server_time() {
        let t = tags("@time=2026-12-06T05:00:00.250Z CMD");
        let at = 1_796_533_200_250;
        assert_eq!(t.time_ms(), Some(at));
        assert_eq!(late(at, at + 5000), None);
        assert_eq!(late(at, at + 5001), Some(at / 1000));
        assert_eq!(tags("@time=yesterday CMD").time_ms(), None);
        assert_eq!(tags("CMD").time_ms(), None);
    }

    #[test]
    fn escapes() {
        assert_eq!(unescape(r"a\:b\sc\\d\re\nf"), "a;b c\\d\re\nf");
        // Unknown escapes stand for the character; a trailing \ is dropped.
        assert_eq!(unescape(r"\b\"), "b");
        assert!(matches!(unescape("plain"), Cow::Borrowed("plain")));
        let mut out = String::new();
        escape_into("a; b\\\r\n", &mut out);
        assert_eq!(out, r"a\:\sb\\\r\n");
    }

    #[test]
    fn overlong_tags_are_ignored_not_the_line() {
        let line = format!("@a={} :n PRIVMSG #c :hi", "x".repeat(MAX_TAGS));
        let (t, rest) = Tags::split(&line);
        assert_eq!(t, Tags::default());
        assert_eq!(rest, ":n PRIVMSG #c :hi");
        let fits = format!("@a={} CMD", "x".repeat(MAX_TAGS - 4));
        assert_eq!(section_len(&fits), MAX_TAGS);
        assert_ne!(Tags::split(&fits).0, Tags::default());
    }

    #[test]
    fn prefix_of_a_line_we_send() {
        assert_eq!(prefix(&[]), "");
        assert_eq!(
            prefix(&[("+typing", Some("active")), ("label", Some("a b;"))]),
            r"@+typing=active;label=a\sb\: "
        );
        assert_eq!(prefix(&[("+draft/x", None)]), "@+draft/x ");
        let big = "v".repeat(MAX_CLIENT_TAGS);
        let p = prefix(&[("+a", Some(&big)), ("+b", Some("1"))]);
        assert_eq!(p, "@+b=1 ");
    }

    #[test]
    fn a_tag_without_a_key_is_skipped() {
        // Found by the property below: `@=` gave a tag named "".
        let (t, rest) = Tags::split("@=;=v;a=1 PRIVMSG #c :x");
        assert_eq!(rest, "PRIVMSG #c :x");
        let tags: Vec<_> = t.iter().collect();
        assert_eq!(tags, vec![("a", Cow::Borrowed("1"))]);
    }

    proptest! {
        #[test]
        fn escape_round_trips(value in "\\PC*") {
            let mut wire = String::new();
            escape_into(&value, &mut wire);
            prop_assert!(!wire.contains([';', ' ', '\r', '\n']));
            prop_assert_eq!(unescape(&wire), value.as_str());
        }

        #[test]
        fn prefix_parses_back(values in proptest::collection::vec("[ -~\\r\\n]{0,40}", 1..6)) {
            let keys: Vec<String> = (0..values.len()).map(|i| format!("+k{i}")).collect();
            let pairs: Vec<(&str, Option<&str>)> = keys
                .iter()
                .zip(&values)
                .map(|(k, v)| (k.as_str(), Some(v.as_str())))
                .collect();
            let line = format!("{}TAGMSG #c", prefix(&pairs));
            let (t, rest) = Tags::split(&line);
            prop_assert_eq!(rest, "TAGMSG #c");
            for (k, v) in keys.iter().zip(&values) {
                let got = t.get(k);
                prop_assert_eq!(got.as_deref(), Some(v.as_str()));
            }
        }

        #[test]
        fn split_never_panics(line in "\\PC{0,200}") {
            let (t, rest) = Tags::split(&line);
            prop_assert!(rest.len() <= line.len());
            for (k, _) in t.iter() {
                prop_assert!(!k.is_empty());
            }
        }
    }
}
