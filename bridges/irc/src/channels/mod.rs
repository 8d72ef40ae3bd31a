//! The channels a connection is in: membership from NAMES/JOIN/PART/QUIT/
//! NICK/KICK/MODE, turned into the room events of the contract.

use std::collections::{BTreeMap, HashMap};

use compact_str::CompactString;

use ferry_bridge::{Address, Affiliation, Event, Failure, OccupantChange, Role, Text};
use irc_proto::{ChannelMode, Command, Message, Mode, Prefix};

use crate::isupport::Support;
use crate::numerics;
use crate::text::{ctcp, strip_formatting};

/// Kept per member of every channel of every user's connection (a channel
/// of K users holds K² of them): the nick fits inline in a
/// `CompactString`, with no allocation of its own.
struct Member {
    nick: CompactString,
    modes: Modes,
}

/// The prefix modes (`o`, `v`, …) a member holds: a bit for each of the
/// server's PREFIX modes, in its order. One byte where the letters took a
/// 24-byte string in every member of every channel of every user.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
struct Modes(u8);

impl Modes {
    /// Gives or takes the mode `letter`; letters that are no prefix mode
    /// of the server (or past its eighth) change nothing.
    fn set(&mut self, letter: char, on: bool, support: &Support) {
        let Some(bit) = support
            .prefix
            .iter()
            .take(8)
            .position(|(m, _)| *m == letter)
        else {
            return;
        };
        if on {
            self.0 |= 1 << bit;
        } else {
            self.0 &= !(1 << bit);
        }
    }

    /// The highest mode held.
    fn highest(self, support: &Support) -> Option<char> {
        (0..support.prefix.len().min(8))
            .find(|bit| self.0 & (1 << bit) != 0)
            .map(|bit| support.prefix[bit].0)
    }
}

struct Channel {
    name: String,
    members: BTreeMap<CompactString, Member>,
    /// NAMES ended: the user is in.
    joined: bool,
    /// The nick the user asked for when joining.
    wanted: String,
    key: Option<String>,
}

#[derive(Default)]
pub struct Channels {
    /// Boxed: a table has at least four slots, and a `Channel` is 130
    /// bytes; most users are in one or two.
    by_name: HashMap<String, Box<Channel>>,
    /// PARTs sent whose echo has not come back, by folded name: the echo
    /// of a PART must not end a join the user made after it.
    parting: HashMap<String, usize>,
}

/// SPEC §3's table: the highest prefix mode gives role and affiliation.
fn standing(modes: Modes, support: &Support) -> (Role, Affiliation) {
    match modes.highest(support) {
        Some('q') | Some('a') => (Role::Moderator, Affiliation::Owner),
        Some('o') => (Role::Moderator, Affiliation::Admin),
        Some('h') => (Role::Moderator, Affiliation::Member),
        Some('v') => (Role::Participant, Affiliation::Member),
        _ => (Role::Participant, Affiliation::None),
    }
}

fn joined_change(modes: Modes, support: &Support) -> OccupantChange {
    let (role, affiliation) = standing(modes, support);
    OccupantChange::Joined { role, affiliation }
}

fn text_of(body: &str) -> Text {
    match ctcp(body) {
        Some(("ACTION", action)) => Text {
            body: strip_formatting(action),
            action: true,
            ..Text::default()
        },
        _ => Text {
            body: strip_formatting(body),
            ..Text::default()
        },
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
        // A new connection echoes none of the old one's PARTs.
        self.parting.clear();
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

    /// Handles a channel-related line; `None` when it is not one.
    pub fn line(
        &mut self,
        support: &Support,
        host: &str,
        me: &str,
        message: &Message,
    ) -> Option<Vec<Event>> {
        let nick = match &message.prefix {
            Some(Prefix::Nickname(nick, _, _)) => nick.as_str(),
            _ => "",
        };
        let is_me = |n: &str| support.fold(n) == support.fold(me);
        let mut events = Vec::new();
        match &message.command {
            Command::JOIN(list, _, _) => {
                for name in list.split(',') {
                    let Some(chan) = self.by_name.get_mut(&support.fold(name)) else {
                        continue;
                    };
                    if is_me(nick) || !chan.joined {
                        continue;
                    }
                    chan.members.insert(
                        CompactString::new(support.fold(nick)),
                        Member {
                            nick: CompactString::new(nick),
                            modes: Modes::default(),
                        },
                    );
                    events.push(Event::Occupant {
                        room: Self::room(host, &chan.name),
                        nick: nick.to_owned(),
                        change: joined_change(Modes::default(), support),
                    });
                }
            }
            Command::PART(list, reason) => {
                for name in list.split(',') {
                    let key = support.fold(name);
                    if is_me(nick) {
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
                    } else if let Some(chan) = self.by_name.get_mut(&key) {
                        if chan.members.remove(support.fold(nick).as_str()).is_some() {
                            events.push(Event::Occupant {
                                room: Self::room(host, &chan.name),
                                nick: nick.to_owned(),
                                change: OccupantChange::Left {
                                    reason: reason.clone(),
                                },
                            });
                        }
                    }
                }
            }
            Command::QUIT(reason) => {
                for chan in self.by_name.values_mut() {
                    if chan.members.remove(support.fold(nick).as_str()).is_some() {
                        events.push(Event::Occupant {
                            room: Self::room(host, &chan.name),
                            nick: nick.to_owned(),
                            change: OccupantChange::Left {
                                reason: reason.clone(),
                            },
                        });
                    }
                }
                if events.is_empty() {
                    return None;
                }
            }
            Command::NICK(new) => {
                for chan in self.by_name.values_mut() {
                    if let Some(mut member) = chan.members.remove(support.fold(nick).as_str()) {
                        member.nick = CompactString::new(new);
                        chan.members
                            .insert(CompactString::new(support.fold(new)), member);
                        events.push(Event::Occupant {
                            room: Self::room(host, &chan.name),
                            nick: nick.to_owned(),
                            change: OccupantChange::Renamed { to: new.clone() },
                        });
                    }
                }
                if events.is_empty() {
                    return None;
                }
            }
            Command::KICK(list, victim, reason) => {
                for name in list.split(',') {
                    let key = support.fold(name);
                    let by = (!nick.is_empty()).then(|| nick.to_owned());
                    let change = OccupantChange::Kicked {
                        by,
                        reason: reason.clone(),
                    };
                    if is_me(victim) {
                        if let Some(chan) = self.by_name.remove(&key) {
                            events.push(Event::Occupant {
                                room: Self::room(host, &chan.name),
                                nick: victim.clone(),
                                change,
                            });
                        }
                    } else if let Some(chan) = self.by_name.get_mut(&key) {
                        if chan.members.remove(support.fold(victim).as_str()).is_some() {
                            events.push(Event::Occupant {
                                room: Self::room(host, &chan.name),
                                nick: victim.clone(),
                                change,
                            });
                        }
                    }
                }
            }
            Command::TOPIC(name, Some(topic)) => {
                let chan = self.by_name.get(&support.fold(name))?;
                events.push(Event::Subject {
                    room: Self::room(host, &chan.name),
                    by: (!nick.is_empty()).then(|| nick.to_owned()),
                    subject: strip_formatting(topic),
                });
            }
            Command::PRIVMSG(target, body) | Command::NOTICE(target, body)
                if support.is_channel(target) =>
            {
                let chan = self.by_name.get(&support.fold(target))?;
                if ctcp(body).is_some_and(|(c, _)| c != "ACTION") {
                    return Some(events);
                }
                events.push(Event::RoomMessage {
                    room: Self::room(host, &chan.name),
                    nick: nick.to_owned(),
                    text: text_of(body),
                    own: false,
                });
            }
            Command::ChannelMODE(name, modes) => return self.mode(support, host, name, modes),
            Command::Response(response, args) => {
                return self.numeric(support, host, *response as u16, args);
            }
            Command::Raw(code, args) => {
                return self.numeric(support, host, code.parse().ok()?, args);
            }
            _ => return None,
        }
        Some(events)
    }

    /// MODE #chan +o-v nick1 nick2: prefix modes change standing.
    fn mode(
        &mut self,
        support: &Support,
        host: &str,
        name: &str,
        modes: &[Mode<ChannelMode>],
    ) -> Option<Vec<Event>> {
        let chan = self.by_name.get_mut(&support.fold(name))?;
        let mut changed: Vec<String> = Vec::new();
        for mode in modes {
            let (adding, mode, arg) = match mode {
                Mode::Plus(m, arg) => (true, m, arg),
                Mode::Minus(m, arg) => (false, m, arg),
                Mode::NoPrefix(_) => continue,
            };
            let Some(letter) = mode.to_string().chars().next() else {
                continue;
            };
            if !support.prefix.iter().any(|(p, _)| *p == letter) {
                continue;
            }
            let Some(who) = arg else { continue };
            let key = support.fold(who);
            if let Some(member) = chan.members.get_mut(key.as_str()) {
                member.modes.set(letter, adding, support);
                if !changed.contains(&key) {
                    changed.push(key);
                }
            }
        }
        Some(
            changed
                .iter()
                .filter_map(|key| chan.members.get(key.as_str()))
                .map(|member| {
                    let (role, affiliation) = standing(member.modes, support);
                    Event::Occupant {
                        room: Self::room(host, &chan.name),
                        nick: member.nick.to_string(),
                        change: OccupantChange::Standing { role, affiliation },
                    }
                })
                .collect(),
        )
    }

    fn numeric(
        &mut self,
        support: &Support,
        host: &str,
        code: u16,
        args: &[String],
    ) -> Option<Vec<Event>> {
        let mut events = Vec::new();
        match code {
            // RPL_TOPIC: me #chan :topic
            332 => {
                let chan = self.by_name.get(&support.fold(args.get(1)?))?;
                events.push(Event::Subject {
                    room: Self::room(host, &chan.name),
                    by: None,
                    subject: strip_formatting(args.last()?),
                });
            }
            // RPL_NAMREPLY: me = #chan :@a +b c
            353 => {
                let chan = self.by_name.get_mut(&support.fold(args.get(2)?))?;
                for entry in args.last()?.split_whitespace() {
                    let mut modes = Modes::default();
                    for c in entry.chars() {
                        match support.prefix.iter().find(|(_, p)| *p == c) {
                            Some((mode, _)) => modes.set(*mode, true, support),
                            None => break,
                        }
                    }
                    let nick =
                        entry.trim_start_matches(|c| support.prefix.iter().any(|(_, p)| *p == c));
                    let nick = nick.split('!').next().unwrap_or(nick);
                    chan.members.insert(
                        CompactString::new(support.fold(nick)),
                        Member {
                            nick: CompactString::new(nick),
                            modes,
                        },
                    );
                }
            }
            // RPL_ENDOFNAMES: me #chan :End — the join is complete.
            366 => {
                let me = args.first()?.clone();
                let chan = self.by_name.get_mut(&support.fold(args.get(1)?))?;
                if chan.joined {
                    return Some(events);
                }
                chan.joined = true;
                let room = Self::room(host, &chan.name);
                // Everyone, the user included: the core takes the user's
                // own standing from the entry named like `Joined`'s nick.
                for member in chan.members.values() {
                    events.push(Event::Occupant {
                        room: room.clone(),
                        nick: member.nick.to_string(),
                        change: joined_change(member.modes, support),
                    });
                }
                events.push(Event::Joined {
                    renamed: support.fold(&me) != support.fold(&chan.wanted),
                    room,
                    nick: me,
                });
            }
            // Join errors: me #chan :reason
            403 | 405 | 471 | 473 | 474 | 475 | 477 => {
                let key = support.fold(args.get(1)?);
                let chan = self.by_name.get(&key)?;
                if chan.joined {
                    return None;
                }
                let chan = self.by_name.remove(&key)?;
                events.push(Event::JoinFailed {
                    room: Self::room(host, &chan.name),
                    failure: numerics::failure(code).unwrap_or(Failure::ServiceUnavailable),
                    text: args.last().cloned().unwrap_or_default(),
                });
            }
            _ => return None,
        }
        Some(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(channels: &mut Channels, raw: &str) -> Vec<Event> {
        let message: Message = raw.parse().unwrap();
        channels
            .line(&Support::default(), "irc.test", "alice", &message)
            .unwrap_or_default()
    }

    fn joined(events: &[Event]) -> bool {
        events.iter().any(|e| matches!(e, Event::Joined { .. }))
    }

    #[test]
    fn prefix_modes_give_the_highest_standing() {
        let mut support = Support::default();
        support.absorb(["PREFIX=(qaohv)~&@%+"]);
        let mut modes = Modes::default();
        assert_eq!(
            standing(modes, &support),
            (Role::Participant, Affiliation::None)
        );
        modes.set('v', true, &support);
        assert_eq!(
            standing(modes, &support),
            (Role::Participant, Affiliation::Member)
        );
        modes.set('o', true, &support);
        modes.set('x', true, &support);
        assert_eq!(
            standing(modes, &support),
            (Role::Moderator, Affiliation::Admin)
        );
        modes.set('o', false, &support);
        assert_eq!(modes.highest(&support), Some('v'));
        modes.set('q', true, &support);
        assert_eq!(
            standing(modes, &support),
            (Role::Moderator, Affiliation::Owner)
        );
    }

    #[test]
    fn names_prefixes_become_modes() {
        let support = Support::default();
        let mut c = Channels::default();
        assert!(c.joining(&support, "#c", "alice", None));
        line(&mut c, ":alice!a@h JOIN #c");
        line(&mut c, ":irc.test 353 alice = #c :@+bob +carol alice");
        let standings: Vec<_> = line(&mut c, ":irc.test 366 alice #c :End of NAMES")
            .into_iter()
            .filter_map(|e| match e {
                Event::Occupant {
                    nick,
                    change: OccupantChange::Joined { role, affiliation },
                    ..
                } => Some((nick, role, affiliation)),
                _ => None,
            })
            .collect();
        assert_eq!(
            standings,
            [
                ("alice".to_owned(), Role::Participant, Affiliation::None),
                ("bob".to_owned(), Role::Moderator, Affiliation::Admin),
                ("carol".to_owned(), Role::Participant, Affiliation::Member),
            ]
        );
    }

    #[test]
    fn the_echo_of_a_part_does_not_end_the_join_after_it() {
        let support = Support::default();
        let mut c = Channels::default();
        assert!(c.joining(&support, "#c", "alice", None));
        line(&mut c, ":alice!a@h JOIN #c");
        assert!(joined(&line(
            &mut c,
            ":irc.test 366 alice #c :End of NAMES"
        )));
        // Leave, and join again before the server echoes the PART.
        c.left(&support, "#c");
        assert!(c.joining(&support, "#c", "alice", None));
        let echo = line(&mut c, ":alice!a@h PART #c :bye");
        assert!(!echo.iter().any(|e| matches!(e, Event::Left { .. })));
        line(&mut c, ":alice!a@h JOIN #c");
        assert!(joined(&line(
            &mut c,
            ":irc.test 366 alice #c :End of NAMES"
        )));
        // A PART the user did not ask for still ends the room.
        let forced = line(&mut c, ":alice!a@h PART #c :removed");
        assert!(forced.iter().any(|e| matches!(e, Event::Left { .. })));
    }
}
