//! What comes in from a user's IRC connections, turned into events: the
//! connection's state, and the lines the server sends (messages and
//! notices not for a channel, numerics).

use std::collections::HashSet;

use ferry_bridge::{channel, Address, Connection, ContactStatus, Event, Failure};
use irc_proto::{Command, Message, Prefix};

use super::{emit, fail, Session};
use crate::caps::{self, Cap};
use crate::channels::text_of;
use crate::chathistory;
use crate::connection::Up;
use crate::details::Answer;
use crate::echo::Settled;
use crate::isupport::Support;
use crate::net::{online_state, poll_ison, reconcile, stop_reclaim, take_back, Net};
use crate::numerics;
use crate::tags::Tags;
use crate::text::{ctcp, strip_formatting};

impl Session {
    /// What a connection task reports, by kind. One match over the
    /// connection's whole lifecycle, kept whole: each arm is short and the
    /// order of the arms is the order a connection lives them.
    pub(super) async fn up(&mut self, host: &str, up: Up) {
        let network = Some(host.to_owned());
        match up {
            Up::Connecting => {
                self.emit(Event::Connection {
                    network,
                    state: Connection::Connecting,
                })
                .await;
            }
            Up::Registered {
                nick,
                wanted,
                sasl,
                caps,
            } => {
                let Some(net) = self.nets.get_mut(host) else {
                    return;
                };
                net.registered = true;
                net.caps = caps;
                net.sasl_failed = sasl == Some(false);
                net.pending_nick = None;
                // A fallback for the registered nick: watched from the end
                // of the MOTD (when the server has said whether it has
                // MONITOR), taken back once free. A room's nick for a user
                // without registration has no fallback.
                net.reclaim = (net.support.fold(&nick) != net.support.fold(&wanted)
                    && !net.room_only)
                    .then_some(wanted);
                net.nick = nick;
                for line in net.channels.rejoin() {
                    net.queue(line);
                }
                let state = online_state(net);
                self.emit(Event::Connection { network, state }).await;
            }
            Up::Lost { reason, retry_in } => {
                // Lines that waited for an echo may have been said: as
                // without echo-message, they are reflected.
                let unechoed = match self.nets.get_mut(host) {
                    Some(net) => net.echoes.lost(),
                    None => Vec::new(),
                };
                for (name, text) in unechoed {
                    let (room, nick) = (Address::room(Some(host), &name), self.nick_on(host));
                    self.reflect(room, nick, *text).await;
                }
                let offline: Vec<Address> = match self.nets.get_mut(host) {
                    Some(net) => {
                        net.registered = false;
                        net.caps = Default::default();
                        net.support = Support::default();
                        // No answer comes over a lost connection.
                        net.lookups = Default::default();
                        net.online
                            .drain()
                            .filter_map(|f| net.watched.get(&f).cloned())
                            .map(|nick| Address::contact(Some(host), &nick))
                            .collect()
                    }
                    None => Vec::new(),
                };
                for contact in offline {
                    self.emit(Event::ContactPresence {
                        contact,
                        status: ContactStatus::Offline,
                    })
                    .await;
                }
                let state = Connection::Reconnecting {
                    reason,
                    retry_in_secs: retry_in.as_secs(),
                };
                self.emit(Event::Connection { network, state }).await;
            }
            Up::Refused { reason, failure } => {
                let rooms = match self.nets.remove(host) {
                    Some(mut net) => net.channels.drain(host),
                    None => Vec::new(),
                };
                for room in rooms {
                    self.emit(Event::JoinFailed {
                        room,
                        failure,
                        text: reason.clone(),
                    })
                    .await;
                }
                let state = Connection::Offline { reason };
                self.emit(Event::Connection { network, state }).await;
            }
            Up::Line(line) => {
                let (message, tags) = *line;
                self.line(host, message, tags).await;
            }
        }
    }

    /// A line from the server: our own nick changes, then channel lines
    /// (the room events `Channels` makes of them), then the rest. Long
    /// because it is one table of commands; each arm hands off at once.
    pub(super) async fn line(&mut self, host: &str, message: Message, tags: Tags) {
        let events = self.events.clone();
        let Some(net) = self.nets.get_mut(host) else {
            return;
        };
        let from_nick = match &message.prefix {
            Some(Prefix::Nickname(nick, _, _)) => Some(nick.clone()),
            _ => None,
        };
        // Our own line echoed, unless it is from the server's history.
        let ours = from_nick.as_deref().is_some_and(|n| is_me(net, n));
        let said = match &message.command {
            Command::PRIVMSG(..) | Command::NOTICE(..) => true,
            Command::Raw(command, _) => command == "TAGMSG",
            _ => false,
        };
        if ours && said && net.caps.has(Cap::EchoMessage) && !net.channels.replayed(&tags) {
            return super::rich::echo(net, &events, host, &message, &tags).await;
        }
        if ours {
            if let Some(answer) = super::moderate::echo(net, &message) {
                emit(&events, answer).await;
            }
        }
        let renamed = match (&message.command, &from_nick) {
            (Command::NICK(new), Some(old)) => follow_own_nick(net, old, new),
            _ => false,
        };
        if let Some(nick) = &from_nick {
            if super::rich::told(net, &events, host, nick, &message, &tags).await {
                return;
            }
        }
        let room_events = net
            .channels
            .line(&net.support, host, &net.nick, &message, &tags);
        let handled = room_events.is_some();
        for event in room_events.into_iter().flatten() {
            if let Event::Joined { room, .. } = &event {
                ask_history(net, &room.name);
                // Whether it is moderated (who holds no mode is a visitor).
                net.queue_auto(format!("MODE {}", room.name));
            }
            emit(&events, event).await;
        }
        if renamed {
            // The network JID's status names the current nick.
            let state = online_state(net);
            let network = Some(host.to_owned());
            emit(&events, Event::Connection { network, state }).await;
        }
        if handled {
            return;
        }
        match message.command {
            Command::PRIVMSG(_, body) | Command::NOTICE(_, body)
                if from_nick.is_none() || !net.registered =>
            {
                server_notice(&events, host, &body).await;
            }
            Command::PRIVMSG(target, body) => {
                let nick = from_nick.unwrap_or_default();
                privmsg(net, (&events, &self.dcc), host, nick, &target, &body).await;
            }
            Command::INVITE(nick, channel) => {
                if let Some(invited) = crate::invite::invited(net, host, from_nick, &nick, &channel)
                {
                    emit(&events, invited).await;
                }
            }
            Command::NOTICE(target, body) => {
                let nick = from_nick.unwrap_or_default();
                if let Some(("VERSION", text)) = ctcp(&body) {
                    let folded = net.support.fold(&nick);
                    return answer(&events, net.lookups.version(&folded, text)).await;
                }
                notice(net, &events, host, &nick, &target, &body).await;
            }
            Command::CAP(_, sub, a, b) => {
                let list = b.as_deref().or(a.as_deref()).unwrap_or("");
                let (caps, req) = caps::notify(net.caps, sub.to_str(), list);
                net.caps = caps;
                if let Some(req) = req {
                    net.queue_auto(req);
                }
            }
            Command::Response(response, args) => {
                self.numeric(host, response as u16, args, &tags).await;
            }
            Command::Raw(code, args) => {
                if let Ok(code) = code.parse() {
                    self.numeric(host, code, args, &tags).await;
                }
            }
            _ => {}
        }
    }

    async fn numeric(&mut self, host: &str, code: u16, args: Vec<String>, tags: &Tags) {
        let events = &self.events;
        let Some(net) = self.nets.get_mut(host) else {
            return;
        };
        if let Some(answer) = super::moderate::numeric(net, code, &args) {
            if let Some(event) = answer {
                emit(events, event).await;
            }
            return;
        }
        match code {
            5 if args.len() > 2 => {
                net.support
                    .absorb(args[1..args.len() - 1].iter().map(String::as_str));
            }
            // End of MOTD (or none): the server has told us what it
            // supports, so follow contacts now.
            376 | 422 => end_of_motd(net),
            322 => net.listing.row(host, &args, self.shared.list_max),
            323 => {
                for event in net.listing.end() {
                    emit(events, event).await;
                }
            }
            303 => ison(net, events, host, &args).await,
            301 if args.len() >= 3 => whois_away(net, events, host, &args).await,
            311 | 317 | 330 if args.len() >= 3 => {
                let folded = net.support.fold(&args[1]);
                net.lookups.whois_line(&folded, code, &args);
            }
            318 if args.len() >= 2 => {
                let folded = net.support.fold(&args[1]);
                answer(events, net.lookups.whois_end(&folded)).await;
                end_of_whois(net, events, host, &args).await;
            }
            // No such nick (or server: `WHOIS nick nick` names the nick's
            // server by the nick), for a question the user asked about it:
            // its answer, and a message's failure only when one was sent
            // there (else the user would see an error for no message).
            401 | 402 if args.len() >= 2 && net.lookups.waits_on(&net.support.fold(&args[1])) => {
                let folded = net.support.fold(&args[1]);
                answer(events, net.lookups.missing(&folded)).await;
                if net.last_id.contains_key(&folded) {
                    error_reply(net, events, host, (code, tags), &args).await;
                }
            }
            730 | 731 => monitor(net, events, host, code == 730, &args).await,
            432 | 433 | 436 | 437 if net.pending_nick.is_some() => {
                // A NICK we sent was refused. The user's (through a room)
                // is answered in that room alone, as SPEC §3 maps the
                // numeric; ferry's own (taking the registered nick back)
                // is tried again later.
                let Some((wanted, Some(room))) = net.pending_nick.take() else {
                    return;
                };
                let failure = numerics::failure(code).unwrap_or(Failure::Conflict);
                let text = format!("{wanted}: {}", args.last().cloned().unwrap_or_default());
                fail(events, room, None, failure, &text).await;
            }
            code => error_reply(net, events, host, (code, tags), &args).await,
        }
    }
}

/// Follows our own nick when `old` was it; true then.
fn follow_own_nick(net: &mut Net, old: &str, new: &str) -> bool {
    if net.support.fold(old) != net.support.fold(&net.nick) {
        return false;
    }
    net.nick = new.to_owned();
    net.pending_nick = None;
    let registered_nick = |r: &String| net.support.fold(r) == net.support.fold(new);
    if net.reclaim.as_ref().is_some_and(registered_nick) {
        stop_reclaim(net);
    }
    true
}

/// A notice from the network itself (a server, services), for its JID.
async fn server_notice(events: &channel::Sender<Event>, host: &str, body: &str) {
    let network = Some(host.to_owned());
    let text = strip_formatting(body);
    emit(events, Event::Notice { network, text }).await;
}

/// A PRIVMSG to us: a direct message (or a private one through the room
/// it was started from), an action, or a CTCP request ferry answers.
async fn privmsg(
    net: &mut Net,
    (events, dcc): (&channel::Sender<Event>, &crate::dcc::Dcc),
    host: &str,
    nick: String,
    target: &str,
    body: &str,
) {
    if net.support.is_channel(target) {
        return;
    }
    let from = Address::contact(Some(host), &nick);
    match ctcp(body) {
        Some(("ACTION", _)) => {
            let text = text_of(body);
            emit(events, Event::DirectMessage { from, text }).await;
        }
        Some((request @ ("VERSION" | "PING"), token)) => {
            let now = std::time::Instant::now();
            if let Some(reply) = crate::autoreply::ctcp_reply(&nick, request, token) {
                if net.replies.admit(&net.support.fold(&nick), now) {
                    net.queue_auto(reply);
                }
            }
        }
        Some(("DCC", args)) => {
            if let Some(text) = crate::dcc::offer(dcc, events, from.clone(), args) {
                emit(events, Event::DirectMessage { from, text }).await;
            }
        }
        Some(_) => {}
        None => {
            let text = text_of(body);
            match net.pm_rooms.get(&net.support.fold(&nick)) {
                Some(room) => {
                    let room = room.clone();
                    emit(events, Event::PrivateMessage { room, nick, text }).await;
                }
                None => emit(events, Event::DirectMessage { from, text }).await,
            }
        }
    }
}

/// A NOTICE to us: the network's when services or a server send it, a
/// direct message from anyone else; CTCP replies not asked for (`line`
/// takes the VERSION the user asked for) are dropped.
async fn notice(
    net: &Net,
    events: &channel::Sender<Event>,
    host: &str,
    nick: &str,
    target: &str,
    body: &str,
) {
    if net.support.is_channel(target) || ctcp(body).is_some() {
        return;
    }
    if nick.eq_ignore_ascii_case("NickServ") || nick.contains('.') {
        return server_notice(events, host, body).await;
    }
    let from = Address::contact(Some(host), nick);
    let text = text_of(body);
    emit(events, Event::DirectMessage { from, text }).await;
}

/// A channel is (re)joined: where the server keeps history, what was
/// said there since the newest line heard (SPEC §9).
fn ask_history(net: &Net, channel: &str) {
    if net.caps.chathistory() {
        let since = net.channels.newest_ms(&net.support, channel);
        net.queue_auto(chathistory::request(
            channel,
            since,
            net.support.chathistory,
        ));
    }
}

fn is_me(net: &Net, nick: &str) -> bool {
    net.support.fold(nick) == net.support.fold(&net.nick)
}

/// The end of the MOTD: MONITOR the contacts (and the registered nick
/// while we hold a fallback) where the server has it, and ISON at once.
fn end_of_motd(net: &Net) {
    if let Some(limit) = net.support.monitor {
        let nicks: Vec<&String> = net.watched.values().collect();
        for chunk in nicks.chunks(limit.clamp(1, 50)) {
            let list: Vec<&str> = chunk.iter().map(|s| s.as_str()).collect();
            net.queue(format!("MONITOR + {}", list.join(",")));
        }
        if let Some(wanted) = &net.reclaim {
            net.queue(format!("MONITOR + {wanted}"));
        }
    }
    // ISON immediately rather than at the next tick.
    poll_ison(net);
}

/// An ISON reply (303): the registered nick taken back once free, and
/// contacts coming and going where there is no MONITOR.
async fn ison(net: &mut Net, events: &channel::Sender<Event>, host: &str, args: &[String]) {
    let listed: HashSet<String> = args
        .last()
        .map(|l| l.split_whitespace().map(|n| net.support.fold(n)).collect())
        .unwrap_or_default();
    let free = net
        .reclaim
        .as_ref()
        .is_some_and(|r| !listed.contains(&net.support.fold(r)));
    if free {
        take_back(net);
    }
    // With MONITOR, ISON asks only for the registered nick:
    // contacts are MONITOR's.
    let changes = match net.support.monitor {
        Some(_) => Vec::new(),
        None => reconcile(net, &listed),
    };
    for (nick, online) in changes {
        if online {
            net.queue_auto(format!("WHOIS {nick}"));
        } else {
            net.away.remove(&net.support.fold(&nick));
        }
        contact(events, host, &nick, online).await;
    }
}

/// A WHOIS away line (301): an online contact is away, with this note.
async fn whois_away(net: &mut Net, events: &channel::Sender<Event>, host: &str, args: &[String]) {
    let folded = net.support.fold(&args[1]);
    net.whois_away.insert(folded.clone());
    let note = args[args.len() - 1].clone();
    if let (true, Some(nick)) = (
        net.online.contains(&folded),
        net.watched.get(&folded).cloned(),
    ) {
        if net.away.get(&folded) != Some(&note) {
            net.away.insert(folded, note.clone());
            let status = ContactStatus::Away(Some(strip_formatting(&note)));
            let contact = Address::contact(Some(host), &nick);
            emit(events, Event::ContactPresence { contact, status }).await;
        }
    }
}

/// The end of a WHOIS (318) without an away line: a contact that was
/// away is back.
async fn end_of_whois(net: &mut Net, events: &channel::Sender<Event>, host: &str, args: &[String]) {
    let folded = net.support.fold(&args[1]);
    let was_away = !net.whois_away.remove(&folded) && net.away.remove(&folded).is_some();
    if let (true, true, Some(nick)) = (
        was_away,
        net.online.contains(&folded),
        net.watched.get(&folded).cloned(),
    ) {
        contact(events, host, &nick, true).await;
    }
}

/// MONITOR's news (730 online, 731 offline): contacts coming and going,
/// and the registered nick taken back once it is free.
async fn monitor(
    net: &mut Net,
    events: &channel::Sender<Event>,
    host: &str,
    online: bool,
    args: &[String],
) {
    let targets = args.last().cloned().unwrap_or_default();
    for target in targets.split(',') {
        let nick = target.split('!').next().unwrap_or(target);
        let folded = net.support.fold(nick);
        let wanted = net.reclaim.as_ref().map(|r| net.support.fold(r));
        if !online && wanted.as_ref() == Some(&folded) {
            take_back(net);
        }
        let Some(nick) = net.watched.get(&folded).cloned() else {
            continue;
        };
        let changed = if online {
            net.online.insert(folded)
        } else {
            net.online.remove(&folded)
        };
        if changed {
            if online {
                net.queue_auto(format!("WHOIS {nick}"));
            }
            contact(events, host, &nick, online).await;
        }
    }
}

/// An error numeric about a nick or channel we sent to: the failure of
/// the last message sent there (its id, when we know it).
async fn error_reply(
    net: &mut Net,
    events: &channel::Sender<Event>,
    host: &str,
    (code, tags): (u16, &Tags),
    args: &[String],
) {
    let Some(failure) = numerics::failure(code) else {
        return;
    };
    let target = args.get(1).cloned().unwrap_or_default();
    if target.eq_ignore_ascii_case("NickServ") || target.is_empty() || target == "*" {
        return;
    }
    let folded = net.support.fold(&target);
    // With echo-message, a refused channel line is one awaiting its echo:
    // its message fails (once, whatever lines it had), never reflected.
    let waiting = match net.caps.has(Cap::EchoMessage) && net.support.is_channel(&target) {
        true => net.echoes.settle(tags.get("label").as_deref(), &folded),
        false => Settled::Unknown,
    };
    let id = match waiting {
        Settled::Message(text) => text.id,
        Settled::Rest => return,
        Settled::Unknown => net.last_id.remove(&folded),
    };
    let text = args.last().cloned().unwrap_or_default();
    let to = if net.support.is_channel(&target) {
        Address::room(Some(host), &target)
    } else {
        Address::contact(Some(host), &target)
    };
    fail(events, to, id, failure, &format!("{target}: {text}")).await;
}

/// Answers to the user's questions about contacts.
async fn answer(events: &channel::Sender<Event>, answers: Vec<Answer>) {
    for (id, result) in answers {
        emit(events, Event::Details { id, result }).await;
    }
}

async fn contact(events: &channel::Sender<Event>, host: &str, nick: &str, online: bool) {
    let status = if online {
        ContactStatus::Online
    } else {
        ContactStatus::Offline
    };
    emit(
        events,
        Event::ContactPresence {
            contact: Address::contact(Some(host), nick),
            status,
        },
    )
    .await;
}
