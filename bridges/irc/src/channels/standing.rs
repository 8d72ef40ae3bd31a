//! Members' standing from MODE lines and the channel's own modes: prefix
//! modes (`+o`, `+v`, …) and moderation (`+m`) give roles and
//! affiliations, which moderators also ask for as lists (SPEC §10);
//! `+b` is kept for the KICK that may follow.

use ferry_bridge::{Affiliation, Event, OccupantChange, Role};
use irc_proto::{ChannelMode, Mode};

use super::bans::LastBan;
use super::modes::standing;
use super::{Channel, Channels, Heard};
use crate::isupport::Support;

impl Channels {
    /// MODE #chan +o-v nick1 nick2: prefix modes change standing, and
    /// `+m`/`-m` that of everyone who holds none.
    pub(super) fn mode(
        &mut self,
        heard: &Heard,
        name: &str,
        modes: &[Mode<ChannelMode>],
    ) -> Option<Vec<Event>> {
        let Heard { support, host, .. } = *heard;
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
            if letter == 'm' && chan.moderated != adding {
                chan.moderated = adding;
                changed.extend(unprefixed(chan));
                continue;
            }
            if let ('b', Some(mask)) = (letter, arg) {
                // A ban lifted before its KICK makes that KICK a kick.
                chan.last_ban = match adding {
                    true => Some(LastBan::new(heard.nick, mask)),
                    false => chan.last_ban.take().filter(|ban| !ban.is(mask)),
                };
                continue;
            }
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
        changed.sort_unstable();
        changed.dedup();
        Some(standings_of(chan, host, support, &changed))
    }

    /// RPL_CHANNELMODEIS, the answer to the `MODE #chan` asked after a
    /// join: a channel found moderated makes visitors of its members
    /// without a prefix mode.
    pub(super) fn modes_told(
        &mut self,
        support: &Support,
        host: &str,
        args: &[String],
    ) -> Option<Vec<Event>> {
        let chan = self.by_name.get_mut(&support.fold(args.get(1)?))?;
        let moderated = args.get(2).is_some_and(|m| m.contains('m'));
        if !chan.joined || chan.moderated == moderated {
            return Some(Vec::new());
        }
        chan.moderated = moderated;
        let changed = unprefixed(chan);
        Some(standings_of(chan, host, support, &changed))
    }

    /// Every member of `name` with their standing, for a moderator's list.
    pub fn standings(&self, support: &Support, name: &str) -> Vec<(String, Role, Affiliation)> {
        let Some(chan) = self.by_name.get(&support.fold(name)) else {
            return Vec::new();
        };
        chan.members
            .values()
            .map(|member| {
                let (role, affiliation) = standing(member.modes, support, chan.moderated);
                (member.nick.to_string(), role, affiliation)
            })
            .collect()
    }

    /// The prefix modes `nick` holds in `name`; `None` when not there.
    pub fn held(&self, support: &Support, name: &str, nick: &str) -> Option<Vec<char>> {
        let chan = self.by_name.get(&support.fold(name))?;
        let member = chan.members.get(support.fold(nick).as_str())?;
        Some(member.modes.held(support))
    }
}

/// The folded nicks of the members who hold no prefix mode.
fn unprefixed(chan: &Channel) -> Vec<String> {
    chan.members
        .iter()
        .filter(|(_, member)| member.modes == Default::default())
        .map(|(key, _)| key.to_string())
        .collect()
}

/// The standing events of the members `changed` (folded nicks).
fn standings_of(chan: &Channel, host: &str, support: &Support, changed: &[String]) -> Vec<Event> {
    changed
        .iter()
        .filter_map(|key| chan.members.get(key.as_str()))
        .map(|member| {
            let (role, affiliation) = standing(member.modes, support, chan.moderated);
            Event::Occupant {
                room: Channels::room(host, &chan.name),
                nick: member.nick.to_string(),
                change: OccupantChange::Standing { role, affiliation },
            }
        })
        .collect()
}
