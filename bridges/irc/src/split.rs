//! Splitting a body into IRC lines: one line per line of the body (a CR or
//! LF never reaches IRC raw), each cut on UTF-8 boundaries — preferring a
//! space — so that the relayed line, with the `:nick!user@host ` prefix
//! the server adds, stays within 512 bytes.

/// The longest prefix a server may add in front of our line when it relays
/// it: `:` nick `!` user `@` host ` ` with a 63-byte host.
pub fn prefix_room(nick: &str, user: &str) -> usize {
    1 + nick.len() + 1 + user.len().max(10) + 1 + 63 + 1
}

/// Bytes left for text in `COMMAND target :text\r\n` within 512.
pub fn budget(command: &str, target: &str, prefix_room: usize, wrapper: usize) -> usize {
    let fixed = command.len() + 1 + target.len() + 2 + 2 + prefix_room + wrapper;
    512usize.saturating_sub(fixed).max(32)
}

/// The pieces of one line, each at most `max` bytes, concatenating back to
/// `line`; a cut falls before a space when one is in the second half. The
/// space opens the next piece rather than closing this one: servers (ngircd)
/// strip trailing spaces, which would lose it.
pub fn chunks(line: &str, max: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = line;
    while rest.len() > max {
        let mut cut = max;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        if let Some(space) = rest[..cut].rfind(' ') {
            if space > cut / 2 {
                cut = space;
            }
        }
        out.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

/// The lines of a body (CR, LF and CRLF all end a line), empty ones
/// skipped since IRC cannot carry them, each split to `max` bytes.
pub fn body(text: &str, max: usize) -> Vec<&str> {
    text.split(['\r', '\n'])
        .filter(|l| !l.is_empty())
        .flat_map(|l| chunks(l, max))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lines_and_utf8() {
        assert_eq!(body("a\r\nb\n\nc\rd", 100), ["a", "b", "c", "d"]);
        assert_eq!(chunks("ééé", 3), ["é", "é", "é"]);
        assert_eq!(chunks("hello world again", 12), ["hello world", " again"]);
        let budget = budget("PRIVMSG", "#chan", prefix_room("nick", "user"), 0);
        let relayed = ":nick!user@".len() + 63 + " PRIVMSG #chan :".len() + budget + 2;
        assert!(relayed <= 512, "{relayed}");
    }

    proptest! {
        #[test]
        fn pieces_concatenate_and_fit(line in "[^\r\n]{0,600}", max in 4usize..200) {
            let pieces = chunks(&line, max);
            prop_assert_eq!(pieces.concat(), line.clone());
            for p in &pieces {
                prop_assert!(p.len() <= max);
                prop_assert!(!p.is_empty());
            }
        }

        #[test]
        fn bodies_never_carry_newlines(text in "\\PC{0,300}|[a\r\n ]{0,50}") {
            for piece in body(&text, 50) {
                prop_assert!(!piece.contains(['\r', '\n']));
            }
        }
    }
}
