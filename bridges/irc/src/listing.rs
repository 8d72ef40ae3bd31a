//! A network's channel list (SPEC §10): one `LIST` at a time per
//! connection, its `322` lines gathered up to `list_max`, answered to
//! every request that came while it ran.

use std::time::{Duration, Instant};

use ferry_bridge::{Address, Event, RoomInfo};

use crate::text::strip_formatting;

/// A `LIST` unanswered this long is taken for lost: the next request
/// sends another.
const STALE: Duration = Duration::from_secs(120);

#[derive(Default)]
pub(crate) struct Listing {
    ids: Vec<String>,
    rooms: Vec<RoomInfo>,
    since: Option<Instant>,
}

impl Listing {
    /// Adds a request; true when a `LIST` must be sent for it.
    pub(crate) fn ask(&mut self, id: String, now: Instant) -> bool {
        let running = self
            .since
            .is_some_and(|since| now.duration_since(since) < STALE);
        self.ids.push(id);
        if !running {
            self.since = Some(now);
            self.rooms.clear();
        }
        !running
    }

    /// A `322 me #channel users :topic` line.
    pub(crate) fn row(&mut self, host: &str, args: &[String], max: usize) {
        if self.since.is_none() || self.rooms.len() >= max || args.len() < 3 {
            return;
        }
        self.rooms.push(RoomInfo {
            room: Address::room(Some(host), &args[1]),
            users: args[2].parse().unwrap_or(0),
            topic: args
                .get(3)
                .map(|t| strip_formatting(t).trim().to_owned())
                .unwrap_or_default(),
        });
    }

    /// `323`: the list is whole; an answer for each request.
    pub(crate) fn end(&mut self) -> Vec<Event> {
        self.since = None;
        let rooms = std::mem::take(&mut self.rooms);
        std::mem::take(&mut self.ids)
            .into_iter()
            .map(|id| Event::RoomList {
                id,
                result: Ok(rooms.clone()),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(channel: &str, users: &str, topic: &str) -> Vec<String> {
        ["me", channel, users, topic].map(str::to_owned).to_vec()
    }

    #[test]
    fn one_list_answers_everyone_who_asked() {
        let mut l = Listing::default();
        let now = Instant::now();
        assert!(l.ask("a".into(), now));
        assert!(!l.ask("b".into(), now), "one LIST at a time");
        l.row("irc.example", &args("#rust", "42", "\x02Rust\x02 talk"), 10);
        l.row("irc.example", &args("#c", "x", ""), 10);
        let answers = l.end();
        assert_eq!(answers.len(), 2);
        let Event::RoomList {
            result: Ok(rooms), ..
        } = &answers[1]
        else {
            panic!("{answers:?}");
        };
        assert_eq!(rooms[0].room.name, "#rust");
        assert_eq!((rooms[0].users, rooms[0].topic.as_str()), (42, "Rust talk"));
        assert_eq!(rooms[1].users, 0);
        assert!(l.ask("c".into(), now), "a new request after the end");
    }

    #[test]
    fn rows_stop_at_the_bound_and_without_a_request() {
        let mut l = Listing::default();
        l.row("h", &args("#a", "1", ""), 10);
        assert!(l.end().is_empty());
        l.ask("a".into(), Instant::now());
        for i in 0..5 {
            l.row("h", &args(&format!("#c{i}"), "1", ""), 3);
        }
        let Event::RoomList {
            result: Ok(rooms), ..
        } = &l.end()[0]
        else {
            panic!();
        };
        assert_eq!(rooms.len(), 3);
    }

    #[test]
    fn a_stale_list_is_asked_again() {
        let mut l = Listing::default();
        let then = Instant::now();
        assert!(l.ask("a".into(), then));
        assert!(l.ask("b".into(), then + STALE));
    }
}
