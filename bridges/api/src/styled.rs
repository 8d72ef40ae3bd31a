//! Rich text as runs of styled text, the one shape every side speaks: a
//! backend reads its network's markup (IRC formatting codes, HTML mail)
//! into runs and writes runs back out; the core carries them as XHTML-IM
//! (XEP-0071) beside the plain body. The runs' text, joined, is the body.

/// A colour, as red, green and blue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// `#rrggbb`, as CSS writes it.
    pub fn css(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }

    /// From CSS's `#rgb` or `#rrggbb`, or one of the colour names of
    /// HTML 4 (the ones XEP-0071 examples use).
    pub fn parse(css: &str) -> Option<Rgb> {
        let css = css.trim();
        if let Some(hex) = css.strip_prefix('#') {
            let digit = |i: usize, width: usize| {
                u8::from_str_radix(hex.get(i..i + width)?, 16)
                    .ok()
                    .map(|v| if width == 1 { v * 17 } else { v })
            };
            return match hex.len() {
                3 => Some(Rgb(digit(0, 1)?, digit(1, 1)?, digit(2, 1)?)),
                6 => Some(Rgb(digit(0, 2)?, digit(2, 2)?, digit(4, 2)?)),
                _ => None,
            };
        }
        NAMED
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(css))
            .map(|(_, rgb)| *rgb)
    }
}

const NAMED: [(&str, Rgb); 16] = [
    ("black", Rgb(0, 0, 0)),
    ("silver", Rgb(192, 192, 192)),
    ("gray", Rgb(128, 128, 128)),
    ("white", Rgb(255, 255, 255)),
    ("maroon", Rgb(128, 0, 0)),
    ("red", Rgb(255, 0, 0)),
    ("purple", Rgb(128, 0, 128)),
    ("fuchsia", Rgb(255, 0, 255)),
    ("green", Rgb(0, 128, 0)),
    ("lime", Rgb(0, 255, 0)),
    ("olive", Rgb(128, 128, 0)),
    ("yellow", Rgb(255, 255, 0)),
    ("navy", Rgb(0, 0, 128)),
    ("blue", Rgb(0, 0, 255)),
    ("teal", Rgb(0, 128, 128)),
    ("aqua", Rgb(0, 255, 255)),
];

/// How a run looks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Style {
    pub bold: bool,
    pub italic: bool,
    pub underline: bool,
    pub strike: bool,
    pub monospace: bool,
    pub color: Option<Rgb>,
    pub background: Option<Rgb>,
    /// A link's target (mail's `<a href>`; web addresses only).
    pub link: Option<String>,
}

impl Style {
    pub fn is_plain(&self) -> bool {
        *self == Style::default()
    }
}

/// A run of text in one style.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub text: String,
    pub style: Style,
}

/// Appends `text` in `style`, joining it to the last run when that has
/// the same style.
pub fn push_run(runs: &mut Vec<Run>, text: &str, style: &Style) {
    if text.is_empty() {
        return;
    }
    match runs.last_mut() {
        Some(last) if last.style == *style => last.text.push_str(text),
        _ => runs.push(Run {
            text: text.to_owned(),
            style: style.clone(),
        }),
    }
}

/// Runs worth carrying: `None` when every run is plain (the body says it
/// all).
pub fn styled(runs: Vec<Run>) -> Option<Vec<Run>> {
    runs.iter().any(|r| !r.style.is_plain()).then_some(runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours() {
        assert_eq!(Rgb::parse("#ff8000"), Some(Rgb(255, 128, 0)));
        assert_eq!(Rgb::parse("#f80"), Some(Rgb(255, 136, 0)));
        assert_eq!(Rgb::parse(" Red "), Some(Rgb(255, 0, 0)));
        assert_eq!(Rgb::parse("#ff80"), None);
        assert_eq!(Rgb::parse("#gg0000"), None);
        assert_eq!(Rgb::parse("url(x)"), None);
        assert_eq!(Rgb(255, 128, 0).css(), "#ff8000");
    }

    #[test]
    fn runs_join_and_plain_is_none() {
        let mut runs = Vec::new();
        let bold = Style {
            bold: true,
            ..Style::default()
        };
        push_run(&mut runs, "a", &bold);
        push_run(&mut runs, "b", &bold);
        push_run(&mut runs, "", &Style::default());
        push_run(&mut runs, "c", &Style::default());
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].text, "ab");
        assert!(styled(runs).is_some());
        let mut plain = Vec::new();
        push_run(&mut plain, "x", &Style::default());
        assert!(styled(plain).is_none());
    }
}
