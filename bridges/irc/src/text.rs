//! IRC text conventions: formatting codes and CTCP.

/// Removes mIRC formatting: bold, italics, underline, strike, monospace,
/// reverse, reset, and colours (`^C` with up to two digits and an optional
/// `,`background, `^D` with six hex digits likewise).
pub fn strip_formatting(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x02' | '\x1d' | '\x1f' | '\x1e' | '\x11' | '\x16' | '\x0f' => {}
            '\x03' => skip_colour(&mut chars, 2, |c| c.is_ascii_digit()),
            '\x04' => skip_colour(&mut chars, 6, |c| c.is_ascii_hexdigit()),
            c => out.push(c),
        }
    }
    out
}

fn skip_colour(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    width: usize,
    digit: fn(&char) -> bool,
) {
    let mut taken = 0;
    while taken < width && chars.peek().is_some_and(digit) {
        chars.next();
        taken += 1;
    }
    if taken > 0 && chars.peek() == Some(&',') {
        let mut ahead = chars.clone();
        ahead.next();
        if ahead.peek().is_some_and(digit) {
            chars.next();
            let mut taken = 0;
            while taken < width && chars.peek().is_some_and(digit) {
                chars.next();
                taken += 1;
            }
        }
    }
}

/// A CTCP request or reply: `\x01COMMAND args\x01` (closing `\x01` optional).
pub fn ctcp(text: &str) -> Option<(&str, &str)> {
    let inner = text.strip_prefix('\x01')?;
    let inner = inner.strip_suffix('\x01').unwrap_or(inner);
    Some(match inner.split_once(' ') {
        Some((command, args)) => (command, args),
        None => (inner, ""),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_is_stripped() {
        assert_eq!(
            strip_formatting("\x02bold\x02 \x0304,12red\x03 \x1funder\x0f"),
            "bold red under"
        );
        assert_eq!(strip_formatting("\x0312345"), "345");
        assert_eq!(strip_formatting("\x03,5x"), ",5x");
        assert_eq!(strip_formatting("\x04ff00ffpink"), "pink");
        assert_eq!(strip_formatting("plain, text"), "plain, text");
    }

    #[test]
    fn ctcp_forms() {
        assert_eq!(ctcp("\x01ACTION waves\x01"), Some(("ACTION", "waves")));
        assert_eq!(ctcp("\x01VERSION\x01"), Some(("VERSION", "")));
        assert_eq!(ctcp("\x01PING 123"), Some(("PING", "123")));
        assert_eq!(ctcp("hello"), None);
    }
}
