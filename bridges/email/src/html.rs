//! An HTML mail's styles, for the XHTML-IM beside its text (SPEC §9):
//! html5ever's tokenizer reads the markup as browsers do, and only text
//! and XEP-0071's elements and styles are kept (`apply_element`): no
//! scripts or style sheets, no images (their `alt` text), no event
//! attributes, no links but web ones.

use std::cell::RefCell;

use ferry_bridge::{apply_element, push_run, Run, Style};
use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};

/// Elements open at once that are kept; deeper ones add no style.
const DEPTH: usize = 64;
/// Text kept of one mail's HTML, as the text part is cut (`inbound`).
const MAX_TEXT: usize = 64 * 1024;

/// The styled runs of an HTML body; `None` when it has no style worth
/// carrying.
pub fn runs(html: &str) -> Option<Vec<Run>> {
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(html));
    let tokenizer = Tokenizer::new(Reader::default(), TokenizerOpts::default());
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    let mut runs = tokenizer.sink.state.into_inner().runs;
    if let Some(last) = runs.last_mut() {
        let kept = last.text.trim_end().len();
        last.text.truncate(kept);
        if last.text.is_empty() {
            runs.pop();
        }
    }
    ferry_bridge::styled(runs)
}

#[derive(Default)]
struct Reader {
    state: RefCell<State>,
}

#[derive(Default)]
struct State {
    runs: Vec<Run>,
    /// Open elements with the style inside each.
    open: Vec<(String, Style)>,
    /// Inside `<script>`, `<style>`, `<head>`…: text not shown.
    hidden: usize,
    /// The text so far ends a line or a space (whitespace collapses).
    at_space: bool,
    length: usize,
}

/// Elements whose content is not shown.
const HIDDEN: [&str; 6] = ["script", "style", "head", "title", "template", "noscript"];
/// Elements that end a line.
const BLOCKS: [&str; 14] = [
    "p",
    "div",
    "br",
    "li",
    "tr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
    "hr",
];

impl State {
    fn style(&self) -> Style {
        self.open.last().map(|(_, s)| s.clone()).unwrap_or_default()
    }

    fn text(&mut self, text: &str) {
        if self.hidden > 0 || self.length >= MAX_TEXT {
            return;
        }
        let style = self.style();
        let mut out = String::new();
        for c in text.chars() {
            if c.is_whitespace() {
                if !self.at_space {
                    out.push(' ');
                    self.at_space = true;
                }
            } else {
                out.push(c);
                self.at_space = false;
            }
        }
        let mut room = MAX_TEXT - self.length;
        if out.len() > room {
            while !out.is_char_boundary(room) {
                room -= 1;
            }
            out.truncate(room);
        }
        self.length += out.len();
        push_run(&mut self.runs, &out, &style);
    }

    fn line_break(&mut self) {
        if self.hidden > 0 || self.runs.is_empty() {
            return;
        }
        if let Some(last) = self.runs.last_mut() {
            let kept = last.text.trim_end_matches(' ').len();
            last.text.truncate(kept);
        }
        if !self.runs.last().is_some_and(|r| r.text.ends_with('\n')) {
            push_run(&mut self.runs, "\n", &Style::default());
        }
        self.at_space = true;
    }
}

impl TokenSink for Reader {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        let mut state = self.state.borrow_mut();
        match token {
            Token::CharacterTokens(text) => state.text(&text),
            Token::TagToken(tag) => {
                let name = tag.name.to_string();
                let attr = |wanted: &str| {
                    tag.attrs
                        .iter()
                        .find(|a| &*a.name.local == wanted)
                        .map(|a| a.value.to_string())
                };
                let hidden = HIDDEN.contains(&name.as_str());
                match tag.kind {
                    TagKind::StartTag => {
                        if BLOCKS.contains(&name.as_str()) {
                            state.line_break();
                        }
                        if name == "img" {
                            if let Some(alt) = attr("alt") {
                                state.text(&alt);
                            }
                        }
                        if hidden && !tag.self_closing {
                            state.hidden += 1;
                            // Their content is raw text, not markup.
                            return match name.as_str() {
                                "script" => TokenSinkResult::RawData(RawKind::ScriptData),
                                "style" | "noscript" => TokenSinkResult::RawData(RawKind::Rawtext),
                                "title" => TokenSinkResult::RawData(RawKind::Rcdata),
                                _ => TokenSinkResult::Continue,
                            };
                        }
                        let void = tag.self_closing || matches!(name.as_str(), "br" | "img" | "hr");
                        if !void && state.open.len() < DEPTH {
                            let mut style = state.style();
                            let (href, css) = (attr("href"), attr("style"));
                            apply_element(&name, href.as_deref(), css.as_deref(), &mut style);
                            state.open.push((name, style));
                        }
                    }
                    TagKind::EndTag => {
                        if hidden {
                            state.hidden = state.hidden.saturating_sub(1);
                        } else if let Some(at) = state.open.iter().rposition(|(n, _)| *n == name) {
                            state.open.truncate(at);
                        }
                        if BLOCKS.contains(&name.as_str()) {
                            state.line_break();
                        }
                    }
                }
            }
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(runs: &[Run]) -> String {
        runs.iter().map(|r| r.text.as_str()).collect()
    }

    #[test]
    fn styles_kept_and_the_rest_dropped() {
        let html = "<html><head><title>t</title><style>p{color:red}</style></head>\
            <body onload='x()'><p>Hello <b>bold</b>   and <span style='color: #00f' onclick='y()'>blue</span></p>\
            <script>alert('<b>no</b>')</script><p><a href='javascript:z()'>bad</a> \
            <a href='https://example.org/'>good</a><img src='https://t.example/px.gif' alt='[logo]'></p></body></html>";
        let runs = runs(html).unwrap();
        assert_eq!(text(&runs), "Hello bold and blue\nbad good[logo]");
        assert!(runs.iter().any(|r| r.text == "bold" && r.style.bold));
        assert!(runs
            .iter()
            .any(|r| r.text == "blue" && r.style.color == Some(ferry_bridge::Rgb(0, 0, 255))));
        assert!(runs
            .iter()
            .all(|r| r.text != "bad" || r.style.link.is_none()));
        assert!(runs
            .iter()
            .any(|r| r.text == "good" && r.style.link.as_deref() == Some("https://example.org/")));
    }

    #[test]
    fn plain_html_has_no_styles_and_hostile_html_is_bounded() {
        assert!(runs("<p>just text</p>").is_none());
        let deep = format!("{}x{}", "<b><i>".repeat(5000), "</i></b>".repeat(5000));
        assert_eq!(text(&runs(&deep).unwrap()), "x");
        assert!(runs("<b>unclosed <i>tags").is_some());
        let long = format!("<b>{}</b>", "y".repeat(MAX_TEXT * 2));
        assert!(text(&runs(&long).unwrap()).len() <= MAX_TEXT);
    }
}
