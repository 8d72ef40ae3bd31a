//! A moderator's changes and lists (SPEC §10): what XEP-0045's admin
//! requests become on IRC, and IRC's answers matched back to them.
//!
//! IRC names no request in its answers. A change is settled by the echo
//! of its MODE or KICK, a refusal (482, 441, …) by the channel it names,
//! a ban list by its 367s and 368 — each time the oldest request waiting
//! there. A change the server takes silently (a voice taken from someone
//! who held none) is never echoed: it is dropped after `QUIET`, when the
//! core has already answered that it was sent.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ferry_bridge::{Affiliation, Failure, Listed, Moderation, Role};

use crate::channels::Channels;
use crate::isupport::Support;
use crate::numerics;

/// How long a request waits for IRC's answer.
pub(crate) const QUIET: Duration = Duration::from_secs(5);

/// Modes in one MODE line: servers take at least three (ISUPPORT MODES).
const MODES_PER_LINE: usize = 3;

/// A request's id and its answer.
pub(crate) type Answer = (String, Result<Vec<Listed>, (Failure, String)>);

/// One mode change: adding or taking, the letter, its argument (folded).
type Change = (bool, char, String);

/// What settles a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Expect {
    /// Any of these changes in a MODE of ours.
    Modes(Vec<Change>),
    /// A KICK of ours, of this folded nick.
    Kick(String),
    /// The ban list, gathered as it comes.
    Bans(Vec<Listed>),
}

/// What a request becomes on IRC.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Planned {
    /// Lines to send, and what settles them.
    Send(Vec<String>, Expect),
    /// Answered from what the connection knows: the members' standing.
    Known(Vec<Listed>),
}

struct Waiting {
    id: String,
    /// The channel, folded.
    channel: String,
    expect: Expect,
    since: Instant,
}

/// The requests of one connection waiting for IRC's answer, oldest first.
#[derive(Default)]
pub(crate) struct Moderations {
    waiting: VecDeque<Waiting>,
}

impl Moderations {
    pub(crate) fn wait(&mut self, id: String, channel: String, expect: Expect, now: Instant) {
        self.forget_old(now);
        self.waiting.push_back(Waiting {
            id,
            channel,
            expect,
            since: now,
        });
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Drops what waited longer than `QUIET`: its answer has been given.
    fn forget_old(&mut self, now: Instant) {
        self.waiting
            .retain(|w| now.saturating_duration_since(w.since) < QUIET);
    }

    /// Takes the oldest request on `channel` that `pick` accepts.
    fn take(&mut self, channel: &str, pick: impl Fn(&Expect) -> bool) -> Option<Waiting> {
        self.forget_old(Instant::now());
        let at = self
            .waiting
            .iter()
            .position(|w| w.channel == channel && pick(&w.expect))?;
        self.waiting.remove(at)
    }

    /// A MODE of ours on `channel` (folded), with its changes.
    pub(crate) fn mode_echo(&mut self, channel: &str, changes: &[Change]) -> Option<Answer> {
        let done = self.take(channel, |expect| match expect {
            Expect::Modes(wanted) => changes.iter().any(|c| wanted.contains(c)),
            _ => false,
        })?;
        Some((done.id, Ok(Vec::new())))
    }

    /// A KICK of ours of `nick` (folded) from `channel` (folded).
    pub(crate) fn kick_echo(&mut self, channel: &str, nick: &str) -> Option<Answer> {
        let done = self.take(channel, |expect| *expect == Expect::Kick(nick.to_owned()))?;
        Some((done.id, Ok(Vec::new())))
    }

    /// RPL_BANLIST (367): one mask of `channel`'s list; false when no
    /// one asked for it.
    pub(crate) fn ban(&mut self, channel: &str, mask: &str) -> bool {
        let Some(waiting) = self
            .waiting
            .iter_mut()
            .find(|w| w.channel == channel && matches!(w.expect, Expect::Bans(_)))
        else {
            return false;
        };
        if let Expect::Bans(list) = &mut waiting.expect {
            list.push(banned(mask));
        }
        true
    }

    /// RPL_ENDOFBANLIST (368): the list is whole.
    pub(crate) fn bans_end(&mut self, channel: &str) -> Option<Answer> {
        let done = self.take(channel, |expect| matches!(expect, Expect::Bans(_)))?;
        let Expect::Bans(list) = done.expect else {
            return None;
        };
        Some((done.id, Ok(list)))
    }

    /// An error numeric (`me`, then its arguments): the oldest request on
    /// the channel it names refused; `None` when it is no answer to one.
    pub(crate) fn refused(
        &mut self,
        support: &Support,
        code: u16,
        args: &[String],
    ) -> Option<Answer> {
        let failure = numerics::failure(code)?;
        let channel = args.iter().skip(1).find(|a| support.is_channel(a))?;
        let text = format!("{channel}: {}", args.last().map_or("", String::as_str));
        let done = self.take(&support.fold(channel), |_| true)?;
        Some((done.id, Err((failure, text))))
    }
}

/// A ban mask as a list entry: `nick!*@*` names a nick, others stay masks.
fn banned(mask: &str) -> Listed {
    let nick = mask
        .strip_suffix("!*@*")
        .filter(|n| !n.contains(['*', '?', '!', '@']));
    Listed {
        nick: nick.map(str::to_owned),
        mask: nick.is_none().then(|| mask.to_owned()),
        role: None,
        affiliation: Affiliation::Outcast,
    }
}

/// A nick as a line's argument (`crate::line::is_argument`).
fn nick_arg(nick: &str) -> Result<&str, (Failure, String)> {
    match crate::line::is_argument(nick) && !nick.contains(char::is_whitespace) {
        true => Ok(nick),
        false => Err((Failure::BadRequest, format!("not an IRC nick: {nick:?}"))),
    }
}

/// What `action` in `channel` becomes, given the server's modes and the
/// members the connection knows.
pub(crate) fn plan(
    action: &Moderation,
    channel: &str,
    support: &Support,
    channels: &Channels,
) -> Result<Planned, (Failure, String)> {
    let has = |letter: char| support.prefix.iter().any(|(m, _)| *m == letter);
    let (nick, changes) = match action {
        Moderation::ListAffiliation(Affiliation::Outcast) => {
            let line = format!("MODE {channel} +b");
            return Ok(Planned::Send(vec![line], Expect::Bans(Vec::new())));
        }
        Moderation::ListAffiliation(wanted) => {
            return Ok(Planned::Known(members(
                channels,
                support,
                channel,
                |_, a| a == *wanted,
            )))
        }
        Moderation::ListRole(wanted) => {
            return Ok(Planned::Known(members(
                channels,
                support,
                channel,
                |r, _| r == *wanted,
            )))
        }
        Moderation::Role {
            nick,
            role: Role::None,
            reason,
        } => {
            let nick = nick_arg(nick)?;
            let line = format!("KICK {channel} {nick} :{}", one_line(reason));
            return Ok(Planned::Send(vec![line], Expect::Kick(support.fold(nick))));
        }
        Moderation::Role { nick, role, .. } => {
            let change = match role {
                Role::Moderator => (true, 'o'),
                Role::Participant => (true, 'v'),
                _ => (false, 'v'),
            };
            (nick_arg(nick)?, vec![change])
        }
        Moderation::Affiliation {
            nick,
            affiliation,
            reason,
        } => {
            let nick = nick_arg(nick)?;
            let held = channels.held(support, channel, nick);
            let changes = match affiliation {
                Affiliation::Outcast => {
                    return Ok(ban(channel, nick, held.is_some(), reason, support));
                }
                Affiliation::Owner if has('q') => vec![(true, 'q')],
                Affiliation::Owner if has('a') => vec![(true, 'a')],
                Affiliation::Owner => {
                    let text = "this network has no owner mode";
                    return Err((Failure::NotAcceptable, text.into()));
                }
                Affiliation::Admin => vec![(true, 'o')],
                Affiliation::Member if has('h') => vec![(false, 'o'), (true, 'h')],
                Affiliation::Member => vec![(false, 'o')],
                // Every mode held taken away; someone holding none (or
                // not here) is unbanned.
                Affiliation::None => match held {
                    Some(held) if !held.is_empty() => {
                        held.into_iter().map(|letter| (false, letter)).collect()
                    }
                    _ => return Ok(unban(channel, nick, support)),
                },
            };
            (nick, changes)
        }
    };
    let folded = support.fold(nick);
    let lines = changes
        .chunks(MODES_PER_LINE)
        .map(|chunk| mode_line(channel, nick, chunk))
        .collect();
    let expect = changes
        .iter()
        .map(|(adding, letter)| (*adding, *letter, folded.clone()))
        .collect();
    Ok(Planned::Send(lines, Expect::Modes(expect)))
}

/// `+b nick!*@*`, and a kick of the nick where it is present: XEP-0045
/// removes an outcast from the room.
fn ban(
    channel: &str,
    nick: &str,
    present: bool,
    reason: &Option<String>,
    support: &Support,
) -> Planned {
    let mask = format!("{nick}!*@*");
    let mut lines = vec![format!("MODE {channel} +b {mask}")];
    if present {
        let why = Some(reason.clone().unwrap_or_else(|| "Banned".into()));
        lines.push(format!("KICK {channel} {nick} :{}", one_line(&why)));
    }
    Planned::Send(lines, Expect::Modes(vec![(true, 'b', support.fold(&mask))]))
}

fn unban(channel: &str, nick: &str, support: &Support) -> Planned {
    let mask = format!("{nick}!*@*");
    let line = format!("MODE {channel} -b {mask}");
    Planned::Send(
        vec![line],
        Expect::Modes(vec![(false, 'b', support.fold(&mask))]),
    )
}

/// `MODE #chan -o+h nick nick`.
fn mode_line(channel: &str, nick: &str, changes: &[(bool, char)]) -> String {
    let mut modes = String::new();
    let mut sign = None;
    for (adding, letter) in changes {
        if sign != Some(*adding) {
            modes.push(if *adding { '+' } else { '-' });
            sign = Some(*adding);
        }
        modes.push(*letter);
    }
    let nicks = vec![nick; changes.len()].join(" ");
    format!("MODE {channel} {modes} {nicks}")
}

fn one_line(reason: &Option<String>) -> String {
    reason
        .as_deref()
        .unwrap_or_default()
        .replace(['\r', '\n'], " ")
}

/// The members of `channel` whose standing `pick` accepts.
fn members(
    channels: &Channels,
    support: &Support,
    channel: &str,
    pick: impl Fn(Role, Affiliation) -> bool,
) -> Vec<Listed> {
    channels
        .standings(support, channel)
        .into_iter()
        .filter(|(_, role, affiliation)| pick(*role, *affiliation))
        .map(|(nick, role, affiliation)| Listed {
            nick: Some(nick),
            mask: None,
            role: Some(role),
            affiliation,
        })
        .collect()
}

#[cfg(test)]
mod tests;
