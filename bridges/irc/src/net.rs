//! One network of a user's session: its connection, what the server
//! told us, and what ferry does there on its own (following contacts'
//! presence, taking the registered nick back).

use std::collections::{BTreeMap, HashMap, HashSet};

use ferry_bridge::{Address, Connection, Text};

use crate::autoreply::AutoReplies;
use crate::caps::{Cap, Caps};
use crate::channels::Channels;
use crate::connection;
use crate::details::Lookups;
use crate::echo::Echoes;
use crate::isupport::Support;
use crate::rich::{self, Typing};
use crate::split;

/// One network of a session.
pub(crate) struct Net {
    pub(crate) handle: connection::Handle,
    pub(crate) nick: String,
    pub(crate) username: String,
    pub(crate) support: Support,
    pub(crate) registered: bool,
    /// The IRCv3 capabilities the server acknowledged.
    pub(crate) caps: Caps,
    /// With echo-message: the user's channel lines awaiting their echo.
    pub(crate) echoes: Echoes,
    /// The user's chat states sent, per target (`+typing`).
    pub(crate) typing: Typing,
    /// Contacts to follow: folded nick → nick as the user wrote it.
    pub(crate) watched: BTreeMap<String, String>,
    /// Folded nicks we reported online.
    pub(crate) online: HashSet<String>,
    /// Folded nicks of online contacts known to be away, with the note.
    pub(crate) away: HashMap<String, String>,
    /// Contacts whose WHOIS (asked for away status) showed RPL_AWAY.
    pub(crate) whois_away: HashSet<String>,
    /// Where the next round of away checks starts.
    pub(crate) whois_next: usize,
    /// The id of the last message the user sent to each folded target,
    /// so an IRC error can name what failed.
    pub(crate) last_id: HashMap<String, String>,
    pub(crate) channels: Channels,
    /// A NICK we sent and await the answer to, with the room whose
    /// occupant asked for it (None: ferry taking back the registered
    /// nick): a refusal goes to that room alone.
    pub(crate) pending_nick: Option<(String, Option<Address>)>,
    /// The registered nick while the connection has a fallback for it
    /// (it was taken at connect): watched, and taken back once free.
    pub(crate) reclaim: Option<String>,
    /// SASL was refused at connect (the network JID's status says so).
    pub(crate) sasl_failed: bool,
    /// Folded nicks the user wrote to through a room: their answers come
    /// from the room's occupant JID.
    pub(crate) pm_rooms: HashMap<String, Address>,
    /// Opened for rooms by a user without an identity on the network.
    pub(crate) room_only: bool,
    /// Answers to CTCP requests, which anyone on IRC can ask for.
    pub(crate) replies: AutoReplies,
    /// The user's questions about contacts, waiting for IRC's answers.
    pub(crate) lookups: Lookups,
    /// The channel list being gathered for users who asked.
    pub(crate) listing: crate::listing::Listing,
    /// A moderator's changes and lists, waiting for IRC's answer.
    pub(crate) moderations: crate::moderation::Moderations,
}

/// Why the lines of one message were not queued.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Unqueued {
    /// More than can wait at once: the message can never go whole.
    TooMany { lines: usize, most: usize },
    /// The queue has no room for all of them now.
    Full,
}

impl Net {
    /// Queues a line the user's action caused; false when the queue is
    /// full.
    pub(crate) fn queue(&self, line: String) -> bool {
        self.handle.lines.try_send(line).is_ok()
    }

    /// Queues every line of one message, or none of them: a message is
    /// never half sent.
    pub(crate) fn queue_all(&self, lines: Vec<String>) -> Result<(), Unqueued> {
        // The session is the queue's only sender: the room seen now is
        // there for the whole batch.
        fits(lines.len(), self.handle.lines.free(), self.handle.queue)?;
        for line in lines {
            if !self.queue(line) {
                return Err(Unqueued::Full);
            }
        }
        Ok(())
    }

    /// Queues a line ferry sends on its own (a CTCP answer, a presence
    /// poll): it goes only when none of the user's lines waits, and is
    /// dropped when too many such lines wait already.
    pub(crate) fn queue_auto(&self, line: String) {
        if self.handle.auto.try_send(line).is_err() {
            tracing::debug!("automatic IRC line dropped: too many waiting");
        }
    }

    /// The PRIVMSG lines of a text to `target`: one per line of the body,
    /// each split to fit IRC's 512 bytes once relayed, `/me` as CTCP
    /// ACTION.
    pub(crate) fn privmsg_lines(&self, target: &str, text: &Text) -> Vec<String> {
        let wrapper = if text.action {
            "\x01ACTION \x01".len()
        } else {
            0
        };
        let max = split::budget(
            "PRIVMSG",
            target,
            split::prefix_room(&self.nick, &self.username),
            wrapper,
        );
        // Styled (a user's XHTML-IM): the same text with IRC's codes.
        let formatted = text.styled.as_deref().map(crate::text::formatted);
        let body = rich::shown(text, formatted.as_deref().unwrap_or(&text.body));
        // What it answers, on its first line where the server takes tags.
        let tags = match self.caps.has(Cap::MessageTags) {
            true => rich::reply_tags(text),
            false => String::new(),
        };
        split::body(&body, max)
            .into_iter()
            .enumerate()
            .map(|(i, piece)| {
                let tags = if i == 0 { tags.as_str() } else { "" };
                if text.action {
                    format!("{tags}PRIVMSG {target} :\x01ACTION {piece}\x01")
                } else {
                    format!("{tags}PRIVMSG {target} :{piece}")
                }
            })
            .collect()
    }
}

/// Whether `lines` lines fit a queue of `most` with `free` room now.
fn fits(lines: usize, free: usize, most: usize) -> Result<(), Unqueued> {
    if lines > most {
        Err(Unqueued::TooMany { lines, most })
    } else if lines > free {
        Err(Unqueued::Full)
    } else {
        Ok(())
    }
}

/// Asks a server without MONITOR which watched nicks are online; and any
/// server whether the registered nick is free while we have a fallback
/// for it (behind MONITOR, in case a NICK on its word was refused). A
/// poll comes round again: it waits behind the user's lines.
pub(crate) fn poll_ison(net: &Net) {
    if !net.registered {
        return;
    }
    let wanted = net
        .reclaim
        .as_deref()
        .filter(|_| net.pending_nick.is_none());
    let contacts = match net.support.monitor {
        Some(_) => None,
        None => Some(net.watched.values().map(String::as_str)),
    };
    for line in ison_lines(wanted.into_iter().chain(contacts.into_iter().flatten())) {
        net.queue_auto(line);
    }
}

/// ISON lines asking for `nicks`, each under 400 bytes.
fn ison_lines<'a>(nicks: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::from("ISON");
    for nick in nicks {
        if line.len() + nick.len() + 1 > 400 {
            lines.push(std::mem::replace(&mut line, String::from("ISON")));
        }
        line.push(' ');
        line.push_str(nick);
    }
    if line.len() > "ISON".len() {
        lines.push(line);
    }
    lines
}

/// The connection's state for the network JID: online as the current
/// nick, with what the user should know about how it came to be.
pub(crate) fn online_state(net: &Net) -> Connection {
    let nick = net.nick.clone();
    let note = status_note(&nick, net.reclaim.as_deref(), net.sasl_failed);
    Connection::Online {
        nick: Some(nick),
        note,
    }
}

/// The network JID's status when there is more to say than the nick.
fn status_note(nick: &str, fallback_for: Option<&str>, sasl_failed: bool) -> Option<String> {
    let mut notes = Vec::new();
    if let Some(wanted) = fallback_for {
        notes.push(format!("{wanted} was in use, you are {nick}"));
    }
    if sasl_failed {
        notes.push("SASL authentication failed".to_owned());
    }
    (!notes.is_empty()).then(|| format!("Connected as {nick} ({})", notes.join("; ")))
}

/// The registered nick seems free: ask for it, unless a NICK is on its
/// way already. A refusal (someone was quicker) waits for the next sign.
pub(crate) fn take_back(net: &mut Net) {
    if net.pending_nick.is_some() {
        return;
    }
    if let Some(wanted) = net.reclaim.clone() {
        if net.queue(format!("NICK {wanted}")) {
            net.pending_nick = Some((wanted, None));
        }
    }
}

/// Stops watching for the registered nick (it is ours, or the user chose
/// another).
pub(crate) fn stop_reclaim(net: &mut Net) {
    let Some(wanted) = net.reclaim.take() else {
        return;
    };
    let watched = net.watched.contains_key(&net.support.fold(&wanted));
    if net.registered && net.support.monitor.is_some() && !watched {
        net.queue(format!("MONITOR - {wanted}"));
    }
}

/// Asks WHOIS of a few online contacts (round-robin) to learn who is away.
pub(crate) fn poll_away(net: &mut Net) {
    const PER_TICK: usize = 3;
    if !net.registered || net.online.is_empty() {
        return;
    }
    let online: Vec<&String> = net.online.iter().collect();
    let mut sorted = online;
    sorted.sort();
    let start = net.whois_next % sorted.len();
    let picked: Vec<String> = sorted
        .iter()
        .cycle()
        .skip(start)
        .take(PER_TICK.min(sorted.len()))
        .filter_map(|f| net.watched.get(*f).cloned())
        .collect();
    net.whois_next = start + picked.len();
    for nick in picked {
        net.queue_auto(format!("WHOIS {nick}"));
    }
}

/// Applies an ISON answer: which watched nicks went online or offline.
pub(crate) fn reconcile(net: &mut Net, listed: &HashSet<String>) -> Vec<(String, bool)> {
    let mut changes = Vec::new();
    for (folded, nick) in &net.watched {
        let now = listed.contains(folded);
        let before = net.online.contains(folded);
        if now != before {
            changes.push((nick.clone(), now));
        }
    }
    for (nick, online) in &changes {
        let folded = net.support.fold(nick);
        if *online {
            net.online.insert(folded);
        } else {
            net.online.remove(&folded);
        }
    }
    changes
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ison_lines_ask_first_for_what_comes_first_and_stay_short() {
        assert!(ison_lines([]).is_empty());
        assert_eq!(ison_lines(["alice", "bob"]), ["ISON alice bob"]);
        let many: Vec<String> = (0..100).map(|i| format!("contact{i:03}")).collect();
        let names = std::iter::once("alice").chain(many.iter().map(String::as_str));
        let lines = ison_lines(names);
        assert!(lines.len() > 1 && lines.iter().all(|l| l.len() <= 400));
        assert!(lines[0].starts_with("ISON alice contact000 "));
        let asked: Vec<&str> = lines.iter().flat_map(|l| l.split(' ').skip(1)).collect();
        assert_eq!(asked.len(), 101);
    }

    proptest::proptest! {
        /// A batch is taken only when all of it fits now; one that could
        /// never fit says so, whatever the queue holds.
        #[test]
        fn a_batch_fits_whole_or_not_at_all(lines in 0usize..600, most in 1usize..300, used in 0usize..300) {
            let free = most.saturating_sub(used);
            match fits(lines, free, most) {
                Ok(()) => proptest::prop_assert!(lines <= free),
                Err(Unqueued::Full) => proptest::prop_assert!(lines > free && lines <= most),
                Err(Unqueued::TooMany { .. }) => proptest::prop_assert!(lines > most),
            }
        }
    }

    #[test]
    fn the_status_note_says_why_the_nick_is_not_the_registered_one() {
        assert_eq!(status_note("alice", None, false), None);
        assert_eq!(
            status_note("alice_", Some("alice"), false).as_deref(),
            Some("Connected as alice_ (alice was in use, you are alice_)")
        );
        assert_eq!(
            status_note("alice", None, true).as_deref(),
            Some("Connected as alice (SASL authentication failed)")
        );
        assert_eq!(
            status_note("alice_", Some("alice"), true).as_deref(),
            Some("Connected as alice_ (alice was in use, you are alice_; SASL authentication failed)")
        );
    }
}
