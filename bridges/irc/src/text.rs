//! IRC text conventions: formatting codes (read into styled runs, written
//! back from them) and CTCP.

use ferry_bridge::{push_run, Rgb, Run, Style};

/// The codes that toggle a style, reset, or start a colour.
const BOLD: char = '\x02';
const ITALIC: char = '\x1d';
const UNDERLINE: char = '\x1f';
const STRIKE: char = '\x1e';
const MONOSPACE: char = '\x11';
const REVERSE: char = '\x16';
const RESET: char = '\x0f';
const COLOUR: char = '\x03';
const HEX_COLOUR: char = '\x04';

/// mIRC's colours 0–15 (98 more are rare; 99 is "default").
const PALETTE: [Rgb; 16] = [
    Rgb(0xff, 0xff, 0xff),
    Rgb(0x00, 0x00, 0x00),
    Rgb(0x00, 0x00, 0x7f),
    Rgb(0x00, 0x93, 0x00),
    Rgb(0xff, 0x00, 0x00),
    Rgb(0x7f, 0x00, 0x00),
    Rgb(0x9c, 0x00, 0x9c),
    Rgb(0xfc, 0x7f, 0x00),
    Rgb(0xff, 0xff, 0x00),
    Rgb(0x00, 0xfc, 0x00),
    Rgb(0x00, 0x93, 0x93),
    Rgb(0x00, 0xff, 0xff),
    Rgb(0x00, 0x00, 0xfc),
    Rgb(0xff, 0x00, 0xff),
    Rgb(0x7f, 0x7f, 0x7f),
    Rgb(0xd2, 0xd2, 0xd2),
];

fn is_code(c: char) -> bool {
    matches!(
        c,
        BOLD | ITALIC | UNDERLINE | STRIKE | MONOSPACE | REVERSE | RESET | COLOUR | HEX_COLOUR
    )
}

/// Removes mIRC formatting: bold, italics, underline, strike, monospace,
/// reverse, reset, and colours (`^C` with up to two digits and an optional
/// `,`background, `^D` with six hex digits likewise).
pub fn strip_formatting(text: &str) -> String {
    if !text.contains(is_code) {
        return text.to_owned();
    }
    runs(text).into_iter().map(|r| r.text).collect()
}

/// A line's text as styled runs; their text joined is the line without
/// its codes.
pub fn runs(text: &str) -> Vec<Run> {
    let mut runs = Vec::new();
    let mut style = Style::default();
    let mut plain = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if !is_code(c) {
            plain.push(c);
            continue;
        }
        push_run(&mut runs, &std::mem::take(&mut plain), &style);
        match c {
            BOLD => style.bold ^= true,
            ITALIC => style.italic ^= true,
            UNDERLINE => style.underline ^= true,
            STRIKE => style.strike ^= true,
            MONOSPACE => style.monospace ^= true,
            // Reverse has no XHTML-IM style of its own.
            REVERSE => {}
            RESET => style = Style::default(),
            COLOUR => colour(&mut chars, &mut style, 2, |c| c.is_ascii_digit(), palette),
            _ => colour(&mut chars, &mut style, 6, |c| c.is_ascii_hexdigit(), hex),
        }
    }
    push_run(&mut runs, &plain, &style);
    runs
}

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

/// Reads a colour code's `fg[,bg]` (up to `width` digits each) into
/// `style`; a bare code ends both colours.
fn colour(
    chars: &mut Chars<'_>,
    style: &mut Style,
    width: usize,
    digit: fn(&char) -> bool,
    value: fn(&str) -> Option<Rgb>,
) {
    let fg = take_digits(chars, width, digit);
    if fg.is_empty() {
        style.color = None;
        style.background = None;
        return;
    }
    style.color = value(&fg);
    if chars.peek() == Some(&',') {
        let mut ahead = chars.clone();
        ahead.next();
        if ahead.peek().is_some_and(digit) {
            chars.next();
            let bg = take_digits(chars, width, digit);
            style.background = value(&bg);
        }
    }
}

fn take_digits(chars: &mut Chars<'_>, width: usize, digit: fn(&char) -> bool) -> String {
    let mut out = String::new();
    while out.len() < width && chars.peek().is_some_and(digit) {
        out.extend(chars.next());
    }
    out
}

fn palette(code: &str) -> Option<Rgb> {
    PALETTE.get(code.parse::<usize>().ok()?).copied()
}

fn hex(code: &str) -> Option<Rgb> {
    Rgb::parse(&format!("#{code}"))
}

/// The palette colour nearest to `rgb`: IRC clients know the 16 codes
/// better than `^D` hex colours.
fn nearest(rgb: Rgb) -> usize {
    let distance = |p: &Rgb| {
        let d = |a: u8, b: u8| (i32::from(a) - i32::from(b)).pow(2);
        d(p.0, rgb.0) + d(p.1, rgb.1) + d(p.2, rgb.2)
    };
    (0..PALETTE.len())
        .min_by_key(|i| distance(&PALETTE[*i]))
        .unwrap_or(1)
}

/// Runs as an IRC line's text with formatting codes: each styled run
/// opens its codes and ends with a reset, on each of its lines (a message
/// of several lines goes as several PRIVMSGs). A link whose text does not
/// show its target gets the target after it.
pub fn formatted(runs: &[Run]) -> String {
    let mut out = String::new();
    for run in runs {
        let (open, close) = codes(&run.style);
        for (i, piece) in run.text.split('\n').enumerate() {
            if i > 0 {
                out.push('\n');
            }
            if piece.is_empty() {
                continue;
            }
            out.push_str(&open);
            // A piece starting ",5" after a bare colour would be read as
            // a background: an empty bold pair keeps them apart.
            if open.ends_with(|c: char| c.is_ascii_digit()) && piece.starts_with(',') {
                out.extend([BOLD, BOLD]);
            }
            out.push_str(piece);
            out.push_str(close);
        }
        if let Some(link) = &run.style.link {
            if !run.text.contains(link.as_str()) {
                out.push_str(&format!(" <{link}>"));
            }
        }
    }
    out
}

/// The codes that open a style, and what closes it.
fn codes(s: &Style) -> (String, &'static str) {
    let mut open: String = [
        (s.bold, BOLD),
        (s.italic, ITALIC),
        (s.underline, UNDERLINE),
        (s.strike, STRIKE),
        (s.monospace, MONOSPACE),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, code)| *code)
    .collect();
    if s.color.is_some() || s.background.is_some() {
        // Two digits always: a run starting with a digit would otherwise
        // be read as part of the code.
        let fg = s.color.map_or(99, nearest);
        open.push_str(&format!("{COLOUR}{fg:02}"));
        if let Some(bg) = s.background {
            open.push_str(&format!(",{:02}", nearest(bg)));
        }
    }
    let close = if open.is_empty() { "" } else { "\x0f" };
    (open, close)
}

/// A line's text for a message: the body without codes, and its runs
/// when it has styles.
pub fn message_text(line: &str) -> (String, Option<Vec<Run>>) {
    if !line.contains(is_code) {
        return (line.to_owned(), None);
    }
    let runs = runs(line);
    let body = runs.iter().map(|r| r.text.as_str()).collect();
    (body, ferry_bridge::styled(runs))
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
    use proptest::prelude::*;

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
    fn codes_become_runs() {
        let parsed =
            runs("a \x02bold \x0304,12red\x03\x02 \x1d\x1fboth\x0f \x11code\x11 \x1estruck");
        let styles: Vec<(&str, Style)> = parsed
            .iter()
            .map(|r| (r.text.as_str(), r.style.clone()))
            .collect();
        let bold = Style {
            bold: true,
            ..Style::default()
        };
        let red = Style {
            color: Some(Rgb(0xff, 0, 0)),
            background: Some(Rgb(0, 0, 0xfc)),
            ..bold.clone()
        };
        let both = Style {
            italic: true,
            underline: true,
            ..Style::default()
        };
        let code = Style {
            monospace: true,
            ..Style::default()
        };
        let struck = Style {
            strike: true,
            ..Style::default()
        };
        assert_eq!(
            styles,
            [
                ("a ", Style::default()),
                ("bold ", bold),
                ("red", red),
                (" ", Style::default()),
                ("both", both),
                (" ", Style::default()),
                ("code", code),
                (" ", Style::default()),
                ("struck", struck),
            ]
        );
        let hex = runs("\x04ff8000orange");
        assert_eq!(hex[0].style.color, Some(Rgb(0xff, 0x80, 0)));
    }

    #[test]
    fn runs_become_codes() {
        let line = "x \x02bold\x0f \x0304red\x0f 7";
        assert_eq!(formatted(&runs(line)), line);
        // A colour before a digit keeps two digits.
        let red = Style {
            color: Some(Rgb(250, 10, 10)),
            ..Style::default()
        };
        let run = |text: &str, style: Style| Run {
            text: text.into(),
            style,
        };
        assert_eq!(formatted(&[run("5 apples", red)]), "\x03045 apples\x0f");
        let link = Style {
            link: Some("https://example.org/".into()),
            ..Style::default()
        };
        assert_eq!(
            formatted(&[run("the site", link.clone())]),
            "the site <https://example.org/>"
        );
        assert_eq!(
            formatted(&[run("https://example.org/", link)]),
            "https://example.org/"
        );
        let bold = Style {
            bold: true,
            ..Style::default()
        };
        assert_eq!(
            formatted(&[run("two\nlines", bold)]),
            "\x02two\x0f\n\x02lines\x0f"
        );
    }

    #[test]
    fn ctcp_forms() {
        assert_eq!(ctcp("\x01ACTION waves\x01"), Some(("ACTION", "waves")));
        assert_eq!(ctcp("\x01VERSION\x01"), Some(("VERSION", "")));
        assert_eq!(ctcp("\x01PING 123"), Some(("PING", "123")));
        assert_eq!(ctcp("hello"), None);
    }

    proptest! {
        /// Parsing what `formatted` wrote gives the same text and styles
        /// (but links, which IRC has no code for).
        #[test]
        fn codes_round_trip(parts in proptest::collection::vec(("[a-z0-9 ,]{1,8}", any::<[bool; 5]>(), proptest::option::of(0usize..16)), 1..6)) {
            let mut want = Vec::new();
            for (text, [bold, italic, underline, strike, monospace], colour) in parts {
                let style = Style {
                    bold, italic, underline, strike, monospace,
                    color: colour.map(|c| PALETTE[c]),
                    ..Style::default()
                };
                push_run(&mut want, &text, &style);
            }
            let line = formatted(&want);
            prop_assert_eq!(runs(&line), want.clone());
            let text: String = want.iter().map(|r| r.text.as_str()).collect();
            prop_assert_eq!(strip_formatting(&line), text);
        }
    }
}
