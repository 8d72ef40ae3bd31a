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

/// Whether a link goes somewhere a message may point: the web, mail,
/// XMPP (never `javascript:` or `data:`).
pub fn web_link(href: &str) -> bool {
    ["http://", "https://", "mailto:", "xmpp:"]
        .iter()
        .any(|scheme| {
            href.len() > scheme.len()
                && href.is_char_boundary(scheme.len())
                && href[..scheme.len()].eq_ignore_ascii_case(scheme)
        })
}

/// What an (X)HTML element, its `href` and its `style` attribute add to
/// a style: the elements and CSS properties XEP-0071 recommends, links
/// only where `web_link`. Everything else is ignored.
pub fn apply_element(name: &str, href: Option<&str>, css: Option<&str>, style: &mut Style) {
    match name {
        "strong" | "b" => style.bold = true,
        "em" | "i" | "cite" => style.italic = true,
        "u" => style.underline = true,
        "s" | "del" | "strike" => style.strike = true,
        "code" | "tt" | "pre" | "kbd" | "samp" => style.monospace = true,
        "a" => style.link = href.filter(|h| web_link(h)).map(String::from),
        _ => {}
    }
    for decl in css.unwrap_or("").split(';') {
        let Some((property, value)) = decl.split_once(':') else {
            continue;
        };
        let value = value.trim().to_ascii_lowercase();
        match property.trim().to_ascii_lowercase().as_str() {
            "font-weight" => {
                style.bold = value == "bold" || value.parse::<u32>().is_ok_and(|w| w >= 600)
            }
            "font-style" => style.italic = value == "italic" || value == "oblique",
            "text-decoration" => {
                style.underline = value.contains("underline");
                style.strike = value.contains("line-through");
            }
            "font-family" => style.monospace = value.contains("monospace"),
            "color" => style.color = Rgb::parse(&value),
            "background-color" => style.background = Rgb::parse(&value),
            _ => {}
        }
    }
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
    fn elements_and_css() {
        let mut s = Style::default();
        apply_element(
            "span",
            None,
            Some("font-weight: 700; color: red; x: y"),
            &mut s,
        );
        assert!(s.bold);
        assert_eq!(s.color, Some(Rgb(255, 0, 0)));
        apply_element("a", Some("javascript:alert(1)"), None, &mut s);
        assert_eq!(s.link, None);
        apply_element("a", Some("HTTPS://example.org/"), None, &mut s);
        assert_eq!(s.link.as_deref(), Some("HTTPS://example.org/"));
        assert!(!web_link("é"));
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
