//! What fits an IRC line: names and fields checked before they are sent,
//! since a server answers an overlong line by dropping it, cutting it, or
//! closing the connection (ngircd: "Request too long"), and a connection
//! that cannot register only loops reconnecting.

use crate::isupport::Support;

/// The longest nick ferry sends while the server has not said its
/// NICKLEN (before registration): longer than any server allows.
pub const NICK_MAX: usize = 64;
/// The longest channel or nick in an address: room for the rest of a
/// `PRIVMSG target :text` line.
pub const NAME_MAX: usize = 200;
/// The longest username (ident) and real name, so `USER` fits a line.
pub const USERNAME_MAX: usize = 64;
pub const REALNAME_MAX: usize = 256;
/// The longest password, so `PRIVMSG NickServ :IDENTIFY pw` fits a line.
pub const PASSWORD_MAX: usize = 300;

/// Why `nick` cannot go into a NICK line as it is, if it cannot: a space
/// would end the parameter (`NICK a b` asks for `a`), a line break would
/// start a command of its own, and a nick longer than the server's
/// NICKLEN (or `NICK_MAX` while unknown) is refused or cut by it.
pub fn nick_problem(nick: &str, support: Option<&Support>) -> Option<String> {
    if nick.is_empty() || nick.starts_with(':') {
        return Some("not a valid IRC nick".into());
    }
    if nick.contains([' ', '\r', '\n', '\0']) {
        return Some("an IRC nick cannot contain spaces or line breaks".into());
    }
    let (most, whose) = match support.and_then(|s| s.nicklen) {
        Some(n) => (n, "the server's NICKLEN"),
        None => (NICK_MAX, "IRC's"),
    };
    (nick.len() > most).then(|| format!("longer than {whose} {most} bytes"))
}

/// Why a channel name cannot be joined as it is, if it cannot.
pub fn channel_problem(name: &str, support: &Support) -> Option<String> {
    let most = support.channellen.unwrap_or(NAME_MAX).min(NAME_MAX);
    (name.len() > most).then(|| format!("the channel name is longer than {most} bytes"))
}

/// The username (ident) of a connection opened for a room nick: what of
/// the nick every server takes in a `USER` line.
pub fn ident(nick: &str) -> String {
    let ident: String = nick
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(10)
        .collect();
    if ident.is_empty() {
        "ferry".into()
    } else {
        ident
    }
}

/// Cuts `text` to at most `max` bytes on a UTF-8 boundary.
pub fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn nicks_that_would_break_the_line_are_refused() {
        assert_eq!(nick_problem("alice2", None), None);
        // The server judges the rest (432): ferry does not guess its rules.
        assert_eq!(nick_problem("9lives", None), None);
        for bad in ["", "a b", ":alice", "a\r\nQUIT", "a\0"] {
            assert!(nick_problem(bad, None).is_some(), "{bad:?}");
        }
        assert!(nick_problem(&"n".repeat(NICK_MAX + 1), None).is_some());
    }

    #[test]
    fn the_servers_lengths_rule_once_known() {
        let mut support = Support::default();
        support.absorb(["NICKLEN=9", "CHANNELLEN=20"]);
        assert_eq!(nick_problem("ninechars", Some(&support)), None);
        let problem = nick_problem("tenchars_x", Some(&support)).unwrap();
        assert!(
            problem.contains("NICKLEN") && problem.contains('9'),
            "{problem}"
        );
        assert_eq!(channel_problem("#twenty_chars_chann", &support), None);
        assert!(channel_problem("#twenty_one_chars_cha", &support).is_some());
        assert!(channel_problem(&"#".repeat(NAME_MAX + 1), &Support::default()).is_some());
    }

    #[test]
    fn idents_are_plain() {
        assert_eq!(ident("alice"), "alice");
        assert_eq!(ident("[a]l|ice_with_a_long_nick"), "alicewitha");
        assert_eq!(ident("|||"), "ferry");
    }

    proptest! {
        #[test]
        fn cuts_are_prefixes_within_the_bound(text in "\\PC{0,200}", max in 0usize..300) {
            let piece = cut(&text, max);
            prop_assert!(piece.len() <= max);
            prop_assert!(text.starts_with(piece));
            prop_assert!(piece.len() + 4 > max || piece.len() == text.len());
        }
    }
}
