//! Contact details the user asked for (SPEC §7): a WHOIS or a CTCP
//! VERSION sent on their behalf, and its answer gathered per nick until it
//! is whole.
//!
//! The presence poll asks WHOIS too; its answers say the same things, so
//! whichever WHOIS answers first serves the request, as long as it began
//! (311) after the request was made: an earlier WHOIS's end alone would
//! answer with nothing gathered.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ferry_bridge::{Card, Details, DetailsKind, Failure};

use crate::text::strip_formatting;

/// After this, a request nothing answered is forgotten (the core has
/// answered `remote-server-timeout` by then), so that the next one asks
/// again: many clients never answer CTCP VERSION at all.
const FORGET_AFTER: Duration = Duration::from_secs(10);

/// A request's id and its answer.
pub(crate) type Answer = (String, Result<Details, (Failure, String)>);

/// Requests waiting on one nick.
struct Waiting {
    since: Instant,
    /// The nick as the user wrote it.
    nick: String,
    ids: Vec<(String, DetailsKind)>,
    /// What the WHOIS said so far; `None` until its first line.
    whois: Option<Whois>,
}

#[derive(Default)]
struct Whois {
    mask: Option<String>,
    realname: Option<String>,
    account: Option<String>,
    idle: Option<u64>,
}

/// The requests of one network, by folded nick.
#[derive(Default)]
pub(crate) struct Lookups {
    whois: HashMap<String, Waiting>,
    versions: HashMap<String, Waiting>,
}

impl Lookups {
    /// Takes a request; the line to send for it, unless one already on its
    /// way will answer it too.
    pub(crate) fn ask(
        &mut self,
        folded: String,
        nick: &str,
        id: String,
        kind: DetailsKind,
        now: Instant,
    ) -> Option<String> {
        for waiting in [&mut self.whois, &mut self.versions] {
            waiting.retain(|_, w| now.duration_since(w.since) < FORGET_AFTER);
        }
        let (map, line) = match kind {
            DetailsKind::Software => (
                &mut self.versions,
                format!("PRIVMSG {nick} :\x01VERSION\x01"),
            ),
            // Asked of the nick's own server, the only one that knows the
            // idle time.
            DetailsKind::Card | DetailsKind::Idle => {
                (&mut self.whois, format!("WHOIS {nick} {nick}"))
            }
        };
        let mut line = Some(line);
        let waiting = map.entry(folded).or_insert_with(|| Waiting {
            since: now,
            nick: nick.to_owned(),
            ids: Vec::new(),
            whois: None,
        });
        if !waiting.ids.is_empty() {
            line = None;
        }
        waiting.ids.push((id, kind));
        line
    }

    /// A WHOIS line about `folded`: 311 (user, host, real name), 330
    /// (account), 317 (idle seconds).
    pub(crate) fn whois_line(&mut self, folded: &str, code: u16, args: &[String]) {
        let Some(waiting) = self.whois.get_mut(folded) else {
            return;
        };
        if code == 311 {
            waiting.whois = Some(Whois::default());
        }
        let Some(whois) = waiting.whois.as_mut() else {
            return;
        };
        match (code, args) {
            (311, [_, _, user, host, ..]) => {
                whois.mask = Some(format!("{user}@{host}"));
                whois.realname = args.get(5).map(|r| strip_formatting(r));
            }
            (330, [_, _, account, ..]) => whois.account = Some(account.clone()),
            (317, [_, _, seconds, ..]) => whois.idle = seconds.parse().ok(),
            _ => {}
        }
    }

    /// The end of a WHOIS (318): the answers, when it was one begun for
    /// the requests waiting.
    pub(crate) fn whois_end(&mut self, folded: &str) -> Vec<Answer> {
        if self.whois.get(folded).is_none_or(|w| w.whois.is_none()) {
            return Vec::new();
        }
        let Some(Waiting {
            nick, ids, whois, ..
        }) = self.whois.remove(folded)
        else {
            return Vec::new();
        };
        let whois = whois.unwrap_or_default();
        ids.into_iter()
            .map(|(id, kind)| (id, whois.details(&nick, kind)))
            .collect()
    }

    /// No such nick (401): every request about it is answered so.
    pub(crate) fn missing(&mut self, folded: &str) -> Vec<Answer> {
        let mut answers = Vec::new();
        for map in [&mut self.whois, &mut self.versions] {
            if let Some(waiting) = map.remove(folded) {
                let text = format!("{} is not on IRC", waiting.nick);
                answers.extend(
                    waiting
                        .ids
                        .into_iter()
                        .map(|(id, _)| (id, Err((Failure::ItemNotFound, text.clone())))),
                );
            }
        }
        answers
    }

    /// A CTCP VERSION reply from `folded`: its text names the software.
    pub(crate) fn version(&mut self, folded: &str, text: &str) -> Vec<Answer> {
        let Some(waiting) = self.versions.remove(folded) else {
            return Vec::new();
        };
        let name = strip_formatting(text.trim());
        waiting
            .ids
            .into_iter()
            .map(|(id, _)| {
                let software = Details::Software {
                    name: name.clone(),
                    version: None,
                    os: None,
                };
                (id, Ok(software))
            })
            .collect()
    }

    /// Whether a request about `folded` waits (a 401 is then its answer).
    pub(crate) fn waits_on(&self, folded: &str) -> bool {
        self.whois.contains_key(folded) || self.versions.contains_key(folded)
    }
}

impl Whois {
    fn details(&self, nick: &str, kind: DetailsKind) -> Result<Details, (Failure, String)> {
        match kind {
            DetailsKind::Idle => self.idle.map(Details::Idle).ok_or_else(|| {
                let text = format!("the server does not tell how long {nick} has been idle");
                (Failure::ServiceUnavailable, text)
            }),
            _ => Ok(Details::Card(Card {
                full_name: Some(nick.to_owned()),
                nick: Some(nick.to_owned()),
                note: self.note(),
                email: None,
            })),
        }
    }

    /// What WHOIS said of the nick, a line a fact, as the server put it.
    fn note(&self) -> Option<String> {
        let facts = [
            ("Real name", &self.realname),
            ("Account", &self.account),
            ("Host", &self.mask),
        ];
        let lines: Vec<String> = facts
            .iter()
            .filter_map(|(label, value)| Some(format!("{label}: {}", value.as_ref()?)))
            .collect();
        (!lines.is_empty()).then(|| lines.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &[&str]) -> Vec<String> {
        line.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_whois_answers_every_request_on_its_nick() {
        let now = Instant::now();
        let mut l = Lookups::default();
        assert_eq!(
            l.ask("bob".into(), "Bob", "1".into(), DetailsKind::Card, now)
                .as_deref(),
            Some("WHOIS Bob Bob")
        );
        // One WHOIS on its way serves the second request too.
        assert_eq!(
            l.ask("bob".into(), "Bob", "2".into(), DetailsKind::Idle, now),
            None
        );
        // The end of an earlier WHOIS (the presence poll's) answers nothing.
        assert!(l.whois_end("bob").is_empty());
        l.whois_line(
            "bob",
            311,
            &args(&["me", "Bob", "~b", "host.example", "*", "\x02Bob\x02 B"]),
        );
        l.whois_line(
            "bob",
            330,
            &args(&["me", "Bob", "bobacct", "is logged in as"]),
        );
        l.whois_line(
            "bob",
            317,
            &args(&["me", "Bob", "42", "1700000000", "seconds idle"]),
        );
        let answers = l.whois_end("bob");
        assert_eq!(answers.len(), 2);
        let Ok(Details::Card(card)) = &answers[0].1 else {
            panic!("{answers:?}");
        };
        assert_eq!(card.full_name.as_deref(), Some("Bob"));
        assert_eq!(
            card.note.as_deref(),
            Some("Real name: Bob B\nAccount: bobacct\nHost: ~b@host.example")
        );
        assert_eq!(answers[1], ("2".into(), Ok(Details::Idle(42))));
        assert!(!l.waits_on("bob"));
    }

    #[test]
    fn no_such_nick_versions_and_forgetting() {
        let now = Instant::now();
        let mut l = Lookups::default();
        l.ask("x".into(), "x", "1".into(), DetailsKind::Card, now);
        l.ask("x".into(), "x", "2".into(), DetailsKind::Software, now);
        assert!(l.waits_on("x"));
        let answers = l.missing("x");
        assert_eq!(answers.len(), 2);
        assert!(answers
            .iter()
            .all(|(_, r)| matches!(r, Err((Failure::ItemNotFound, _)))));
        assert!(l.missing("x").is_empty());

        let line = l.ask("y".into(), "y", "3".into(), DetailsKind::Software, now);
        assert_eq!(line.as_deref(), Some("PRIVMSG y :\x01VERSION\x01"));
        let answers = l.version("y", " \x02irssi\x02 v1.4 ");
        let Ok(Details::Software { name, .. }) = &answers[0].1 else {
            panic!("{answers:?}");
        };
        assert_eq!(name, "irssi v1.4");
        assert!(l.version("y", "again").is_empty());

        // A request nothing answered is forgotten; the next one asks again.
        l.ask("z".into(), "z", "4".into(), DetailsKind::Software, now);
        let later = now + FORGET_AFTER;
        assert!(l
            .ask("z".into(), "z", "5".into(), DetailsKind::Software, later)
            .is_some());
        assert_eq!(l.version("z", "v").len(), 1);

        // A WHOIS without an idle line cannot answer jabber:iq:last.
        l.ask("w".into(), "w", "6".into(), DetailsKind::Idle, now);
        l.whois_line("w", 311, &args(&["me", "w", "u", "h", "*", "r"]));
        assert!(matches!(
            l.whois_end("w")[0].1,
            Err((Failure::ServiceUnavailable, _))
        ));
    }
}
