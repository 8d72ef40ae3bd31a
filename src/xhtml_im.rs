//! XHTML-IM (XEP-0071) both ways: a foreign message's styled runs as the
//! `<html/>` beside its body, and a user's `<html/>` read back into runs.
//! Only XEP-0071's recommended elements and styles are written (`span`
//! with `font-weight`, `font-style`, `text-decoration`, `font-family`,
//! `color`, `background-color`; `a` with a web `href`; `br`), and read.

use ferry_bridge::{apply_element, push_run, web_link, Run, Style};
use xmpp_parsers::minidom::{Element, Node};

use crate::xml_clean::clean;

pub const NS: &str = "http://jabber.org/protocol/xhtml-im";
const XHTML: &str = "http://www.w3.org/1999/xhtml";

/// Runs as an XHTML-IM `<html/>`.
pub fn element(runs: &[Run]) -> Element {
    let mut body = Element::builder("body", XHTML).build();
    for run in runs {
        let mut parent = match &run.style.link {
            Some(href) if web_link(href) => Element::builder("a", XHTML)
                .attr(crate::xml_name::ncname("href"), clean(href).into_owned())
                .build(),
            _ => Element::builder("span", XHTML).build(),
        };
        if let Some(css) = css(&run.style) {
            parent.set_attr(
                xmpp_parsers::minidom::rxml::Namespace::NONE,
                crate::xml_name::ncname("style"),
                css,
            );
        }
        let plain = run.style.is_plain() && parent.name() == "span";
        let target = if plain { &mut body } else { &mut parent };
        for (i, line) in clean(&run.text).split('\n').enumerate() {
            if i > 0 {
                target.append_child(Element::builder("br", XHTML).build());
            }
            if !line.is_empty() {
                target.append_text_node(line);
            }
        }
        if !plain {
            body.append_child(parent);
        }
    }
    Element::builder("html", NS).append(body).build()
}

/// A style as CSS, or `None` for a plain one.
fn css(style: &Style) -> Option<String> {
    let mut decls = Vec::new();
    if style.bold {
        decls.push("font-weight: bold".to_owned());
    }
    if style.italic {
        decls.push("font-style: italic".to_owned());
    }
    match (style.underline, style.strike) {
        (true, true) => decls.push("text-decoration: underline line-through".to_owned()),
        (true, false) => decls.push("text-decoration: underline".to_owned()),
        (false, true) => decls.push("text-decoration: line-through".to_owned()),
        (false, false) => {}
    }
    if style.monospace {
        decls.push("font-family: monospace".to_owned());
    }
    if let Some(c) = style.color {
        decls.push(format!("color: {}", c.css()));
    }
    if let Some(c) = style.background {
        decls.push(format!("background-color: {}", c.css()));
    }
    (!decls.is_empty()).then(|| decls.join("; "))
}

/// The runs of a user's `<html/>` (the first `<body/>`); `None` without
/// one, or when it has no style at all.
pub fn runs(html: &Element) -> Option<Vec<Run>> {
    let body = html.get_child("body", XHTML)?;
    let mut runs = Vec::new();
    walk(body, &Style::default(), &mut runs, 0);
    // Blocks leave a trailing newline.
    if let Some(last) = runs.last_mut() {
        let kept = last.text.trim_end_matches('\n').len();
        last.text.truncate(kept);
        if last.text.is_empty() {
            runs.pop();
        }
    }
    ferry_bridge::styled(runs)
}

/// Deeper than this, an element's text is kept without further styles: a
/// hostile message cannot make the walk recurse without end.
const DEPTH: usize = 32;

fn walk(el: &Element, inherited: &Style, runs: &mut Vec<Run>, depth: usize) {
    let mut style = inherited.clone();
    if depth < DEPTH {
        apply_element(el.name(), el.attr("href"), el.attr("style"), &mut style);
    }
    for node in el.nodes() {
        match node {
            Node::Text(text) => push_run(runs, text, &style),
            Node::Element(child) if child.name() == "br" => push_run(runs, "\n", &style),
            Node::Element(child) if child.name() == "img" => {
                if let Some(alt) = child.attr("alt") {
                    push_run(runs, alt, &style);
                }
            }
            Node::Element(child) => {
                walk(child, &style, runs, depth + 1);
                if matches!(child.name(), "p" | "div" | "li" | "blockquote" | "pre") {
                    push_run(runs, "\n", &Style::default());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_bridge::Rgb;
    use proptest::prelude::*;

    fn styled(bold: bool, color: Option<Rgb>) -> Style {
        Style {
            bold,
            color,
            ..Style::default()
        }
    }

    fn run(text: &str, style: Style) -> Run {
        Run {
            text: text.into(),
            style,
        }
    }

    #[test]
    fn runs_are_written_with_recommended_styles() {
        let html = element(&[
            run("plain ", Style::default()),
            run("loud", styled(true, Some(Rgb(255, 0, 0)))),
            run("\nnext", Style::default()),
        ]);
        assert_eq!(
            String::from(&html),
            "<html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'>plain <span style='font-weight: bold; color: #ff0000'>loud</span><br/>next</body></html>"
        );
    }

    #[test]
    fn a_users_xhtml_becomes_runs() {
        let html: Element = "<html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'><p>a <strong>b</strong> <span style='color: navy; text-decoration: underline'>c</span></p><p><a href='javascript:x'>d</a><br/><em>e</em></p></body></html>".parse().unwrap();
        let runs = runs(&html).unwrap();
        let text: String = runs.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(text, "a b c\nd\ne");
        assert!(runs.iter().any(|r| r.text == "b" && r.style.bold));
        assert!(runs
            .iter()
            .any(|r| r.text == "c" && r.style.underline && r.style.color == Some(Rgb(0, 0, 128))));
        assert!(
            runs.iter().all(|r| r.style.link.is_none()),
            "no script links"
        );
        let plain: Element = "<html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'><p>just text</p></body></html>".parse().unwrap();
        assert!(super::runs(&plain).is_none());
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let mut xml = String::from("<html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'>");
        for _ in 0..200 {
            xml.push_str("<span style='font-weight: bold'>");
        }
        xml.push('x');
        for _ in 0..200 {
            xml.push_str("</span>");
        }
        xml.push_str("</body></html>");
        let html: Element = xml.parse().unwrap();
        assert_eq!(runs(&html).unwrap()[0].text, "x");
    }

    proptest! {
        /// What `element` writes, `runs` reads back.
        #[test]
        fn round_trip(parts in proptest::collection::vec(("[a-z ]{1,8}", any::<bool>(), proptest::option::of(any::<(u8, u8, u8)>())), 1..6)) {
            let mut want = Vec::new();
            for (text, bold, color) in parts {
                push_run(&mut want, &text, &styled(bold, color.map(|(r, g, b)| Rgb(r, g, b))));
            }
            let back = runs(&element(&want));
            match ferry_bridge::styled(want.clone()) {
                Some(want) => prop_assert_eq!(back, Some(want)),
                None => prop_assert_eq!(back, None),
            }
        }
    }
}
