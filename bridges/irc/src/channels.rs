//! The channels a connection is in: membership from NAMES/JOIN/PART/QUIT/
//! NICK/KICK/MODE, turned into the room events of the contract.

use std::collections::{BTreeMap, HashMap};

use compact_str::CompactString;

use ferry_bridge::{Address, Event, Failure, OccupantChange, Text};
use irc_proto::{BatchSubCommand, Command, Message, Prefix};

use crate::isupport::Support;
use crate::numerics;
use crate::tags::{self, Tags};
use crate::text::{ctcp, message_text, strip_formatting};

mod bans;
mod modes;
mod standing;
use bans::LastBan;
use modes::{joined_change, Modes};

/// Kept per member of every channel of every user's connection (a channel
/// of K users holds K² of them): the nick fits inline in a
/// `CompactString`, with no allocation of its own.
struct Member {
    nick: CompactString,
    modes: Modes,
}

struct Channel {
    name: String,
    members: BTreeMap<CompactString, Member>,
    /// NAMES ended: the user is in.
    joined: bool,
    /// The nick the user asked for when joining.
    wanted: String,
    key: Option<String>,
    /// The server's time of the newest line heard here (unix ms): after
    /// a rejoin, history is asked for from there (`chathistory`).
    newest_ms: Option<i64>,
    /// Moderated (`+m`): who holds no prefix mode is a visitor.
    moderated: bool,
    /// The newest `+b`: a KICK right after it is a ban.
    last_ban: Option<Box<LastBan>>,
}

#[derive(Default)]
pub struct Channels {
    /// Boxed: a table has at least four slots, and a `Channel` is 130
    /// bytes; most users are in one or two.
    by_name: HashMap<String, Box<Channel>>,
    /// PARTs sent whose echo has not come back, by folded name: the echo
    /// of a PART must not end a join the user made after it.
    parting: HashMap<String, usize>,
    /// Open `chathistory` batches (a server's history on join): their
    /// lines are replayed ones.
    history: Vec<String>,
}

/// A line as `line` hears it: the server's ISUPPORT and host, the
/// user's nick, and the nick the line is from (empty when from the server).
#[derive(Clone, Copy)]
struct Heard<'a> {
    support: &'a Support,
    host: &'a str,
    me: &'a str,
    nick: &'a str,
}

impl Heard<'_> {
    fn is_me(&self, nick: &str) -> bool {
        self.support.fold(nick) == self.support.fold(self.me)
    }
}

/// A PRIVMSG's or NOTICE's text as a message: `/me` from CTCP ACTION,
/// formatting as styles.
pub(crate) fn text_of(body: &str) -> Text {
    let (line, action) = match ctcp(body) {
        Some(("ACTION", action)) => (action, true),
        _ => (body, false),
    };
    let (body, styled) = message_text(line);
    Text {
        body,
        styled,
        action,
        ..Text::default()
    }
}

impl Channels {
    fn room(host: &str, name: &str) -> Address {
        Address::room(Some(host), name)
    }

    pub fn has_any(&self) -> bool {
        !self.by_name.is_empty()
    }

    /// Channels joined or being joined.
    pub fn count(&self) -> usize {
        self.by_name.len()
    }

    /// Whether `name` is joined or being joined.
    pub fn has(&self, support: &Support, name: &str) -> bool {
        self.by_name.contains_key(&support.fold(name))
    }

    /// The user asked to join `name` as `wanted`; false if already asked.
    pub fn joining(
        &mut self,
        support: &Support,
        name: &str,
        wanted: &str,
        key: Option<String>,
    ) -> bool {
        let key_name = support.fold(name);
        if self.by_name.contains_key(&key_name) {
            return false;
        }
        self.by_name.insert(
            key_name,
            Box::new(Channel {
                name: name.to_owned(),
                members: BTreeMap::new(),
                joined: false,
                wanted: wanted.to_owned(),
                key,
                newest_ms: None,
                moderated: false,
                last_ban: None,
            }),
        );
        true
    }

    /// The JOIN line for a channel.
    pub fn join_line(name: &str, key: Option<&str>) -> String {
        match key {
            Some(key) => format!("JOIN {name} {key}"),
            None => format!("JOIN {name}"),
        }
    }

    /// The user left `name` (PART sent): forget it.
    pub fn left(&mut self, support: &Support, name: &str) {
        let key = support.fold(name);
        self.by_name.remove(&key);
        *self.parting.entry(key).or_default() += 1;
    }

    /// The JOIN lines for every channel, after (re)registration; the
    /// member lists start again from the NAMES that follow.
    pub fn rejoin(&mut self) -> Vec<String> {
        // A new connection echoes none of the old one's PARTs, and opens
        // none of its batches.
        self.parting.clear();
        self.history.clear();
        self.by_name
            .values_mut()
            .map(|c| {
                c.joined = false;
                c.members.clear();
                Self::join_line(&c.name, c.key.as_deref())
            })
            .collect()
    }

    /// Forgets every channel, returning them as rooms (the connection is
    /// gone for good).
    pub fn drain(&mut self, host: &str) -> Vec<Address> {
        self.by_name
            .drain()
            .map(|(_, c)| Self::room(host, &c.name))
            .collect()
    }

    /// Handles a channel-related line; `None` when it is not one. One
    /// table of the channel commands and numerics, an arm each.
    pub fn line(
        &mut self,
        support: &Support,
        host: &str,
        me: &str,
        message: &Message,
        tags: &Tags,
    ) -> Option<Vec<Event>> {
        let nick = match &message.prefix {
            Some(Prefix::Nickname(nick, _, _)) => nick.as_str(),
            _ => "",
        };
        let heard = Heard {
            support,
            host,
            me,
            nick,
        };
        let events = match &message.command {
            Command::JOIN(list, _, _) => self.member_joined(&heard, list),
            Command::PART(list, reason) => self.parted(&heard, list, reason),
            Command::QUIT(reason) => {
                let events = self.quit(&heard, reason);
                (!events.is_empty()).then_some(events)?
            }
            Command::NICK(new) => {
                let events = self.renamed(&heard, new);
                (!events.is_empty()).then_some(events)?
            }
            Command::AWAY(note) => {
                let events = self.away(&heard, note);
                (!events.is_empty()).then_some(events)?
            }
            Command::KICK(list, victim, reason) => self.kicked(&heard, list, victim, reason),
            Command::TOPIC(name, Some(topic)) => {
                let chan = self.by_name.get(&support.fold(name))?;
                vec![Event::Subject {
                    room: Self::room(host, &chan.name),
                    by: (!nick.is_empty()).then(|| nick.to_owned()),
                    subject: strip_formatting(topic),
                }]
            }
            Command::BATCH(id, kind, _) => return self.batch(id, kind.as_ref()),
            Command::PRIVMSG(target, body) | Command::NOTICE(target, body)
                if support.is_channel(target) =>
            {
                let replayed = self.replayed(tags);
                let chan = self.by_name.get_mut(&support.fold(target))?;
                // Parsed once: InspIRCd dates every line.
                let time = tags.time_ms();
                chan.newest_ms = chan.newest_ms.max(time);
                if ctcp(body).is_some_and(|(c, _)| c != "ACTION") {
                    return Some(Vec::new());
                }
                let mut text = text_of(body);
                // A replayed line keeps its server's time, however recent:
                // the core checks its archive for it (SPEC §9).
                text.sent_at = match replayed {
                    true => time.map(|ms| ms.div_euclid(1000)),
                    false => time.and_then(|ms| tags::late(ms, tags::now_ms())),
                };
                text.foreign_id = tags.get("msgid").map(String::from);
                text.reply = crate::rich::replied(tags);
                vec![Event::RoomMessage {
                    room: Self::room(host, &chan.name),
                    nick: nick.to_owned(),
                    text,
                    own: false,
                }]
            }
            Command::ChannelMODE(name, modes) => return self.mode(&heard, name, modes),
            Command::Response(response, args) => {
                return self.numeric(support, host, *response as u16, args);
            }
            Command::Raw(code, args) => {
                return self.numeric(support, host, code.parse().ok()?, args);
            }
            _ => return None,
        };
        Some(events)
    }

    /// The server's time of the newest line heard in `name` (unix ms).
    pub fn newest_ms(&self, support: &Support, name: &str) -> Option<i64> {
        self.by_name.get(&support.fold(name))?.newest_ms
    }

    /// Whether a line is part of a server's history (a `chathistory`
    /// batch), not said now.
    pub fn replayed(&self, tags: &Tags) -> bool {
        !self.history.is_empty()
            && tags
                .get("batch")
                .is_some_and(|id| self.history.iter().any(|h| *h == id))
    }

    /// A batch opens (`+id type`) or closes (`-id`); only history batches
    /// matter here.
    fn batch(&mut self, id: &str, kind: Option<&BatchSubCommand>) -> Option<Vec<Event>> {
        if let Some(id) = id.strip_prefix('-') {
            let before = self.history.len();
            self.history.retain(|h| h != id);
            return (self.history.len() != before).then(Vec::new);
        }
        let id = id.strip_prefix('+')?;
        let history = matches!(kind, Some(BatchSubCommand::CUSTOM(k))
            if k == "CHATHISTORY" || k == "DRAFT/CHATHISTORY");
        // Bounded: a server that never closes its batches costs nothing.
        if history && self.history.len() < 16 {
            self.history.push(id.to_owned());
            return Some(Vec::new());
        }
        None
    }

    /// JOIN: someone else arrives in channels the user is in. The user's
    /// own JOIN says nothing; NAMES (`names_ended`) completes it.
    fn member_joined(&mut self, heard: &Heard, list: &str) -> Vec<Event> {
        let Heard { support, nick, .. } = *heard;
        let mut events = Vec::new();
        for name in list.split(',') {
            let Some(chan) = self.by_name.get_mut(&support.fold(name)) else {
                continue;
            };
            if heard.is_me(nick) || !chan.joined {
                continue;
            }
            chan.members.insert(
                CompactString::new(support.fold(nick)),
                Member {
                    nick: CompactString::new(nick),
                    modes: Modes::default(),
                },
            );
            let change = joined_change(Modes::default(), support, chan.moderated);
            events.push(Self::occupant(heard.host, chan, nick, change));
        }
        events
    }

    /// PART: the user leaves (or the echo of their own PART comes back),
    /// or someone else does.
    fn parted(&mut self, heard: &Heard, list: &str, reason: &Option<String>) -> Vec<Event> {
        let Heard { host, nick, .. } = *heard;
        let mut events = Vec::new();
        for name in list.split(',') {
            let key = heard.support.fold(name);
            if heard.is_me(nick) {
                if let Some(count) = self.parting.get_mut(&key) {
                    // The echo of our own PART: the room is gone
                    // already, and a new join may be under way.
                    *count -= 1;
                    if *count == 0 {
                        self.parting.remove(&key);
                    }
                } else if let Some(chan) = self.by_name.remove(&key) {
                    events.push(Event::Left {
                        room: Self::room(host, &chan.name),
                        reason: reason.clone(),
                    });
                }
            } else if let Some(chan) = self.member_left(heard.support, &key, nick) {
                let change = OccupantChange::Left {
                    reason: reason.clone(),
                };
                events.push(Self::occupant(host, chan, nick, change));
            }
        }
        events
    }

    /// QUIT: someone leaves every channel they shared with the user.
    fn quit(&mut self, heard: &Heard, reason: &Option<String>) -> Vec<Event> {
        let Heard { support, nick, .. } = *heard;
        let mut events = Vec::new();
        for chan in self.by_name.values_mut() {
            if chan.members.remove(support.fold(nick).as_str()).is_some() {
                let change = OccupantChange::Left {
                    reason: reason.clone(),
                };
                events.push(Self::occupant(heard.host, chan, nick, change));
            }
        }
        events
    }

    /// AWAY (away-notify): someone went away, with a note, or came back
    /// (none), in every channel they are in.
    fn away(&self, heard: &Heard, note: &Option<String>) -> Vec<Event> {
        let Heard { support, nick, .. } = *heard;
        let folded = support.fold(nick);
        let change = match note.as_deref().filter(|n| !n.is_empty()) {
            Some(note) => OccupantChange::Away {
                note: Some(strip_formatting(note)),
            },
            None => OccupantChange::Back,
        };
        self.by_name
            .values()
            .filter(|chan| chan.members.contains_key(folded.as_str()))
            .map(|chan| Self::occupant(heard.host, chan, nick, change.clone()))
            .collect()
    }

    /// NICK: someone is renamed in every channel they are in.
    fn renamed(&mut self, heard: &Heard, new: &str) -> Vec<Event> {
        let Heard { support, nick, .. } = *heard;
        let mut events = Vec::new();
        for chan in self.by_name.values_mut() {
            if let Some(mut member) = chan.members.remove(support.fold(nick).as_str()) {
                member.nick = CompactString::new(new);
                chan.members
                    .insert(CompactString::new(support.fold(new)), member);
                let change = OccupantChange::Renamed { to: new.to_owned() };
                events.push(Self::occupant(heard.host, chan, nick, change));
            }
        }
        events
    }

    /// KICK: the victim is out of the channels; when it is the user, the
    /// channels are gone.
    fn kicked(
        &mut self,
        heard: &Heard,
        list: &str,
        victim: &str,
        reason: &Option<String>,
    ) -> Vec<Event> {
        let Heard { host, nick, .. } = *heard;
        let mut events = Vec::new();
        for name in list.split(',') {
            let key = heard.support.fold(name);
            let banned = self
                .by_name
                .get_mut(&key)
                .and_then(|chan| chan.last_ban.take())
                .is_some_and(|ban| ban.covers(heard.support, nick, victim));
            let change = OccupantChange::Kicked {
                by: (!nick.is_empty()).then(|| nick.to_owned()),
                reason: reason.clone(),
                banned,
            };
            if heard.is_me(victim) {
                if let Some(chan) = self.by_name.remove(&key) {
                    events.push(Self::occupant(host, &chan, victim, change));
                }
            } else if let Some(chan) = self.member_left(heard.support, &key, victim) {
                events.push(Self::occupant(host, chan, victim, change));
            }
        }
        events
    }

    /// Takes `nick` off the member list of the channel `key`: the channel,
    /// if they were on it.
    fn member_left(&mut self, support: &Support, key: &str, nick: &str) -> Option<&Channel> {
        let chan = self.by_name.get_mut(key)?;
        chan.members.remove(support.fold(nick).as_str())?;
        Some(chan)
    }

    fn occupant(host: &str, chan: &Channel, nick: &str, change: OccupantChange) -> Event {
        Event::Occupant {
            room: Self::room(host, &chan.name),
            nick: nick.to_owned(),
            change,
        }
    }

    /// The numerics of a join: the topic, the member list, its end, or
    /// the join refused.
    fn numeric(
        &mut self,
        support: &Support,
        host: &str,
        code: u16,
        args: &[String],
    ) -> Option<Vec<Event>> {
        match code {
            // RPL_TOPIC: me #chan :topic
            332 => {
                let chan = self.by_name.get(&support.fold(args.get(1)?))?;
                Some(vec![Event::Subject {
                    room: Self::room(host, &chan.name),
                    by: None,
                    subject: strip_formatting(args.last()?),
                }])
            }
            // RPL_NAMREPLY: me = #chan :@a +b c
            353 => {
                self.names(support, args.get(2)?, args.last()?)?;
                Some(Vec::new())
            }
            // RPL_ENDOFNAMES: me #chan :End — the join is complete.
            366 => self.names_ended(support, host, args),
            // RPL_CHANNELMODEIS: me #chan +modes [arguments]
            324 => self.modes_told(support, host, args),
            // Join errors: me #chan :reason
            403 | 405 | 471 | 473 | 474 | 475 | 477 => {
                let key = support.fold(args.get(1)?);
                let chan = self.by_name.get(&key)?;
                if chan.joined {
                    return None;
                }
                let chan = self.by_name.remove(&key)?;
                Some(vec![Event::JoinFailed {
                    room: Self::room(host, &chan.name),
                    failure: numerics::failure(code).unwrap_or(Failure::ServiceUnavailable),
                    text: args.last().cloned().unwrap_or_default(),
                }])
            }
            _ => None,
        }
    }

    /// RPL_NAMREPLY: members of `name`, each with their prefix modes.
    fn names(&mut self, support: &Support, name: &str, entries: &str) -> Option<()> {
        let chan = self.by_name.get_mut(&support.fold(name))?;
        for entry in entries.split_whitespace() {
            let mut modes = Modes::default();
            for c in entry.chars() {
                match support.prefix.iter().find(|(_, p)| *p == c) {
                    Some((mode, _)) => modes.set(*mode, true, support),
                    None => break,
                }
            }
            let nick = entry.trim_start_matches(|c| support.prefix.iter().any(|(_, p)| *p == c));
            let nick = nick.split('!').next().unwrap_or(nick);
            chan.members.insert(
                CompactString::new(support.fold(nick)),
                Member {
                    nick: CompactString::new(nick),
                    modes,
                },
            );
        }
        Some(())
    }

    /// RPL_ENDOFNAMES: the join is complete; the room learns its members.
    fn names_ended(
        &mut self,
        support: &Support,
        host: &str,
        args: &[String],
    ) -> Option<Vec<Event>> {
        let me = args.first()?.clone();
        let chan = self.by_name.get_mut(&support.fold(args.get(1)?))?;
        if chan.joined {
            return Some(Vec::new());
        }
        chan.joined = true;
        let room = Self::room(host, &chan.name);
        // Everyone, the user included: the core takes the user's
        // own standing from the entry named like `Joined`'s nick.
        let mut events: Vec<Event> = chan
            .members
            .values()
            .map(|member| Event::Occupant {
                room: room.clone(),
                nick: member.nick.to_string(),
                change: joined_change(member.modes, support, chan.moderated),
            })
            .collect();
        events.push(Event::Joined {
            renamed: support.fold(&me) != support.fold(&chan.wanted),
            room,
            nick: me,
        });
        Some(events)
    }
}

#[cfg(test)]
mod tests;
