//! echo-message (ircv3.net/specs/extensions/echo-message): with it, a
//! user's channel line is reflected to their resources when the server
//! echoes it, and a refusal (`ERR_CANNOTSENDTOCHAN`…) becomes an error for
//! that message instead (SPEC §9). Each line sent waits here until its echo
//! or its refusal: matched by label with `labeled-response`, else by
//! target in the order sent (a server answers a client's lines in order).

use std::collections::VecDeque;

use ferry_bridge::Text;

use crate::tags;

/// Lines that may wait for their echo; beyond, the oldest is given up
/// (reflected at once, as without echo-message).
const MOST: usize = 256;

struct Waiting {
    label: Option<String>,
    /// The folded target.
    target: String,
    /// The target as the user wrote it.
    name: String,
    /// The message to reflect when this line's echo comes: on the first
    /// line of a message, a `None` on the rest.
    reflect: Option<Box<Text>>,
}

#[derive(Default)]
pub struct Echoes {
    waiting: VecDeque<Waiting>,
    next_label: u32,
}

/// What an echo or a refusal settles.
#[derive(Debug, PartialEq, Eq)]
pub enum Settled {
    /// Not a line we wait for.
    Unknown,
    /// A line of a message whose first line was settled already.
    Rest,
    /// The first line of a message: reflect it, or fail it.
    Message(Box<Text>),
}

impl Echoes {
    /// Lines of one message to `target` about to be queued: they get
    /// their labels (with `labels`), and the message waits for the first
    /// one's echo. Returns the message given up to make room, if any.
    pub fn sent(
        &mut self,
        (target, name): (&str, &str),
        lines: &mut [String],
        text: Text,
        labels: bool,
    ) -> Option<Box<Text>> {
        let mut text = Some(Box::new(text));
        for line in lines.iter_mut() {
            let label = labels.then(|| {
                self.next_label = self.next_label.wrapping_add(1);
                format!("f{}", self.next_label)
            });
            // Into the line's tags, where it has some already.
            match (&label, line.starts_with('@')) {
                (Some(label), true) => line.insert_str(1, &format!("label={label};")),
                (Some(label), false) => {
                    line.insert_str(0, &tags::prefix(&[("label", Some(label))]))
                }
                (None, _) => {}
            }
            self.waiting.push_back(Waiting {
                label,
                target: target.to_owned(),
                name: name.to_owned(),
                reflect: text.take(),
            });
        }
        let mut given_up = None;
        while self.waiting.len() > MOST {
            if let Some(Waiting {
                reflect: Some(text),
                ..
            }) = self.waiting.pop_front()
            {
                given_up = Some(text);
            }
        }
        given_up
    }

    /// The last `lines` sent could not be queued after all: forget them.
    pub fn unsent(&mut self, lines: usize) {
        let keep = self.waiting.len().saturating_sub(lines);
        self.waiting.truncate(keep);
    }

    /// The server answered the line labeled `label`, or (without a label)
    /// the oldest line to `target`: an echo or a refusal settles it.
    pub fn settle(&mut self, label: Option<&str>, target: &str) -> Settled {
        let at = match label {
            Some(label) => self
                .waiting
                .iter()
                .position(|w| w.label.as_deref() == Some(label)),
            None => self.waiting.iter().position(|w| w.target == target),
        };
        let Some(waiting) = at.and_then(|at| self.waiting.remove(at)) else {
            return Settled::Unknown;
        };
        match waiting.reflect {
            Some(text) => Settled::Message(text),
            None => Settled::Rest,
        }
    }

    /// The connection is gone: lines waiting will never be answered; the
    /// messages among them are returned to be reflected (they may have
    /// been said, as without echo-message).
    pub fn lost(&mut self) -> Vec<(String, Box<Text>)> {
        self.waiting
            .drain(..)
            .filter_map(|w| w.reflect.map(|text| (w.name, text)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(id: &str) -> Text {
        Text {
            id: Some(id.into()),
            body: format!("body of {id}"),
            ..Text::default()
        }
    }

    fn reflected(settled: Settled) -> Option<String> {
        match settled {
            Settled::Message(text) => text.id,
            _ => None,
        }
    }

    #[test]
    fn by_target_in_order() {
        let mut e = Echoes::default();
        let mut lines = vec!["PRIVMSG #a :1".to_owned(), "PRIVMSG #a :2".to_owned()];
        assert!(e
            .sent(("#a", "#A"), &mut lines, text("m1"), false)
            .is_none());
        assert_eq!(lines[0], "PRIVMSG #a :1");
        e.sent(
            ("#b", "#b"),
            &mut ["PRIVMSG #b :x".into()],
            text("m2"),
            false,
        );
        e.sent(
            ("#a", "#A"),
            &mut ["PRIVMSG #a :3".into()],
            text("m3"),
            false,
        );
        // #b answered first: it does not hold #a up.
        assert_eq!(reflected(e.settle(None, "#b")).as_deref(), Some("m2"));
        assert_eq!(reflected(e.settle(None, "#a")).as_deref(), Some("m1"));
        assert_eq!(e.settle(None, "#a"), Settled::Rest);
        assert_eq!(reflected(e.settle(None, "#a")).as_deref(), Some("m3"));
        assert_eq!(e.settle(None, "#a"), Settled::Unknown);
        e.sent(
            ("#a", "#A"),
            &mut ["1".into(), "2".into()],
            text("m4"),
            false,
        );
        e.unsent(2);
        assert_eq!(e.settle(None, "#a"), Settled::Unknown);
    }

    #[test]
    fn by_label() {
        let mut e = Echoes::default();
        let mut one = vec!["PRIVMSG #a :1".to_owned()];
        e.sent(("#a", "#A"), &mut one, text("m1"), true);
        let mut two = vec!["PRIVMSG #a :2".to_owned()];
        e.sent(("#a", "#A"), &mut two, text("m2"), true);
        assert_eq!(one[0], "@label=f1 PRIVMSG #a :1");
        let mut tagged = vec!["@+draft/reply=m PRIVMSG #a :3".to_owned()];
        e.sent(("#a", "#A"), &mut tagged, text("m3"), true);
        assert_eq!(tagged[0], "@label=f3;+draft/reply=m PRIVMSG #a :3");
        assert_eq!(two[0], "@label=f2 PRIVMSG #a :2");
        // The second is refused first: the labels tell them apart.
        assert_eq!(reflected(e.settle(Some("f2"), "#a")).as_deref(), Some("m2"));
        assert_eq!(reflected(e.settle(Some("f1"), "#a")).as_deref(), Some("m1"));
        assert_eq!(e.settle(Some("f1"), "#a"), Settled::Unknown);
    }

    #[test]
    fn bounded_and_lost() {
        let mut e = Echoes::default();
        for i in 0..MOST {
            assert!(e
                .sent(
                    ("#a", "#A"),
                    &mut ["PRIVMSG #a :x".into()],
                    text(&i.to_string()),
                    false
                )
                .is_none());
        }
        let given_up = e.sent(
            ("#a", "#A"),
            &mut ["PRIVMSG #a :y".into()],
            text("last"),
            false,
        );
        assert_eq!(given_up.and_then(|t| t.id).as_deref(), Some("0"));
        let lost = e.lost();
        assert_eq!(lost.len(), MOST);
        assert_eq!(lost[0].1.id.as_deref(), Some("1"));
        assert_eq!(lost[0].0, "#A");
        assert_eq!(e.settle(None, "#a"), Settled::Unknown);
    }
}
