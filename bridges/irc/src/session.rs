//! A user's IRC session: one connection per network they hold an
//! identity on, intents turned into IRC lines, IRC lines into events.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use ferry_bridge::{
    channel, Address, AddressKind, Availability, Connection, ContactStatus, Event, Failure, Intent,
    Limits, Registration, SessionContext, SessionHandle, Text,
};
use irc_proto::{Command, Message, Prefix};

use crate::channels::Channels;
use crate::connection::{self, Control, Params, Up};
use crate::fit;
use crate::isupport::Support;
use crate::net::{
    online_state, poll_away, poll_ison, reconcile, stop_reclaim, take_back, Net, Unqueued,
};
use crate::numerics;
use crate::shared::Shared;
use crate::text::{ctcp, strip_formatting};

#[cfg(feature = "fuzzing")]
pub(crate) mod fuzz;

/// How long a session waits for its connections' QUITs to be written.
const QUIT_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

struct Session {
    shared: Arc<Shared>,
    user: String,
    limits: Limits,
    /// Boxed: a `Net` is large, and a map keeps room for several.
    nets: HashMap<String, Box<Net>>,
    events: channel::Sender<Event>,
    up_tx: channel::Sender<(String, Up)>,
}

/// The identity a registration gives on its network.
fn identity(scope: &str, registration: &Registration) -> Option<(String, String, String, String)> {
    let host = if scope.is_empty() {
        registration.get("network")?.to_owned()
    } else {
        scope.to_owned()
    };
    let nick = registration.get("nick")?.to_owned();
    let username = registration.get("username").unwrap_or(&nick).to_owned();
    let realname = registration.get("realname").unwrap_or(&nick).to_owned();
    Some((host, nick, username, realname))
}

pub fn start(shared: Arc<Shared>, context: SessionContext) -> SessionHandle {
    let (intents_tx, intents_rx) = channel::channel(context.limits.intents);
    let (up_tx, up_rx) = channel::channel(context.limits.events);
    let mut session = Session {
        shared,
        user: context.user.clone(),
        limits: context.limits,
        nets: HashMap::new(),
        events: context.events.clone(),
        up_tx,
    };
    for (scope, registration) in &context.registrations {
        if let Some((host, nick, username, realname)) = identity(scope, registration) {
            if session.nets.len() >= context.limits.networks {
                // Registered before the limit was lowered.
                tracing::warn!(user = %context.user, network = host, "over irc_networks: not connected");
                continue;
            }
            session.open(&host, nick, username, realname, registration, false);
        }
    }
    for contact in &context.contacts {
        session.watch(contact);
    }
    tokio::spawn(session.run(intents_rx, up_rx));
    SessionHandle {
        intents: intents_tx,
    }
}

impl Session {
    fn open(
        &mut self,
        host: &str,
        nick: String,
        username: String,
        realname: String,
        registration: &Registration,
        room_only: bool,
    ) {
        let Some(network) = self.shared.networks.find(host).cloned() else {
            tracing::warn!(
                network = host,
                "registration names a network no longer configured"
            );
            return;
        };
        let params = Params {
            tls: network.tls.then(|| self.shared.tls_for(&network.host)),
            network: network.clone(),
            nick: nick.clone(),
            username: username.clone(),
            realname,
            password: registration.secret("password").cloned(),
            throttle: self.shared.throttle(),
            ping_every: self.shared.ping_every,
            fallback_nick: !room_only,
        };
        let queue = self.limits.intents;
        let handle = connection::spawn(params, queue, network.host.clone(), self.up_tx.clone());
        self.nets.insert(
            network.host.clone(),
            Box::new(Net {
                handle,
                nick,
                username,
                support: Support::default(),
                registered: false,
                watched: BTreeMap::new(),
                online: HashSet::new(),
                away: HashMap::new(),
                whois_away: HashSet::new(),
                whois_next: 0,
                last_id: HashMap::new(),
                channels: Channels::default(),
                pending_nick: None,
                reclaim: None,
                sasl_failed: false,
                pm_rooms: HashMap::new(),
                room_only,
                replies: Default::default(),
            }),
        );
    }

    /// Not an `async fn`, which keeps its arguments twice; items are
    /// taken boxed and handlers run boxed, so an idle session's future
    /// holds none of them.
    #[allow(clippy::manual_async_fn)]
    fn run(
        mut self,
        mut intents: channel::Receiver<Intent>,
        mut up: channel::Receiver<(String, Up)>,
    ) -> impl std::future::Future<Output = ()> + Send {
        async move {
            let mut poll = tokio::time::interval(self.shared.presence_poll);
            loop {
                let intent = tokio::select! {
                    intent = intents.recv_boxed() => intent,
                    Some(up) = up.recv_boxed() => {
                        let (host, event) = *up;
                        let handling = Box::pin(self.up(&host, event));
                        handling.await;
                        continue;
                    }
                    _ = poll.tick() => {
                        self.poll();
                        continue;
                    }
                };
                let reason = match intent.map(|i| *i) {
                    Some(Intent::Shutdown { reason }) => {
                        tracing::info!(user = %self.user, %reason, "IRC session ends");
                        reason
                    }
                    None => "Leaving".to_owned(),
                    Some(intent) => {
                        let handling = Box::pin(self.intent(intent));
                        handling.await;
                        continue;
                    }
                };
                let quitting = Box::pin(self.quit(reason));
                return quitting.await;
            }
        }
    }

    /// QUITs every network (unthrottled) and waits a little for the lines
    /// to be written, so that a stopping ferry says goodbye on IRC; each
    /// network JID goes offline with its connection.
    async fn quit(self, reason: String) {
        let mut tasks = Vec::new();
        for (host, net) in self.nets {
            let _ = net.handle.control.try_send(Control::Quit(reason.clone()));
            tasks.push(net.handle.task);
            let state = Connection::Offline {
                reason: reason.clone(),
            };
            let network = Some(host);
            emit(&self.events, Event::Connection { network, state }).await;
        }
        let _ = tokio::time::timeout(QUIT_GRACE, futures::future::join_all(tasks)).await;
    }

    async fn emit(&self, event: Event) {
        emit(&self.events, event).await;
    }

    async fn fail(&self, to: Address, id: Option<String>, failure: Failure, text: &str) {
        fail(&self.events, to, id, failure, text).await;
    }

    async fn intent(&mut self, intent: Intent) {
        match intent {
            Intent::SendDirect { to, text } => self.send_direct(to, text).await,
            Intent::Watch(contact) => {
                self.watch(&contact);
                if let Some(net) = contact.network.as_ref().and_then(|h| self.nets.get(h)) {
                    if net.registered && net.support.monitor.is_some() {
                        net.queue(format!("MONITOR + {}", contact.name));
                    }
                }
            }
            Intent::Unwatch(contact) => {
                if let Some(net) = contact.network.as_ref().and_then(|h| self.nets.get_mut(h)) {
                    let folded = net.support.fold(&contact.name);
                    net.watched.remove(&folded);
                    net.online.remove(&folded);
                    if net.registered && net.support.monitor.is_some() {
                        net.queue(format!("MONITOR - {}", contact.name));
                    }
                }
            }
            Intent::SetAvailability(availability) => {
                let line = match availability {
                    Availability::Available => "AWAY".to_owned(),
                    Availability::Away(note) => {
                        let note = note
                            .unwrap_or_else(|| "Away".into())
                            .replace(['\r', '\n'], " ");
                        format!("AWAY :{note}")
                    }
                };
                for net in self.nets.values() {
                    net.queue(line.clone());
                }
            }
            Intent::Reconnect => {
                for net in self.nets.values() {
                    let _ = net.handle.control.try_send(Control::Reconnect);
                }
            }
            Intent::Shutdown { .. } => {}
            Intent::JoinRoom {
                room,
                nick,
                password,
            } => self.join(room, nick, password).await,
            Intent::SendRoom { room, text } => self.send_room(room, text).await,
            Intent::SendPrivate { room, nick, text } => {
                if let Some(net) = room.network.as_ref().and_then(|h| self.nets.get_mut(h)) {
                    net.pm_rooms.insert(net.support.fold(&nick), room.clone());
                }
                let to = Address::contact(room.network.as_deref(), &nick);
                self.send_direct(to, text).await;
            }
            Intent::LeaveRoom { room, reason } => {
                let Some(host) = room.network.clone() else {
                    return;
                };
                let Some(net) = self.nets.get_mut(&host) else {
                    return;
                };
                let reason = reason.unwrap_or_default().replace(['\r', '\n'], " ");
                net.queue(format!("PART {} :{reason}", room.name));
                net.channels.left(&net.support, &room.name);
                if net.room_only && !net.channels.has_any() {
                    let _ = net.handle.control.try_send(Control::Quit("Leaving".into()));
                    self.nets.remove(&host);
                }
            }
            Intent::ChangeNick { room, nick } => {
                let net = room.network.as_ref().and_then(|h| self.nets.get(h));
                if let Some(reason) = fit::nick_problem(&nick, net.map(|n| &n.support)) {
                    let text = format!("{nick}: {reason}");
                    return self.fail(room, None, Failure::NotAcceptable, &text).await;
                }
                if let Some(net) = room.network.as_ref().and_then(|h| self.nets.get_mut(h)) {
                    // The user chose a nick: ferry no longer takes the
                    // registered one back over it, unless it is the one
                    // asked for.
                    let other = |r: &String| net.support.fold(r) != net.support.fold(&nick);
                    if net.reclaim.as_ref().is_some_and(other) {
                        stop_reclaim(net);
                    }
                    net.queue(format!("NICK {nick}"));
                    net.pending_nick = Some((nick, Some(room)));
                }
            }
            Intent::SetSubject { room, subject } => {
                if let Some(net) = room.network.as_ref().and_then(|h| self.nets.get(h)) {
                    let subject = subject.replace(['\r', '\n'], " ");
                    net.queue(format!("TOPIC {} :{subject}", room.name));
                }
            }
            Intent::Kick { room, nick, reason } => {
                if let Some(net) = room.network.as_ref().and_then(|h| self.nets.get(h)) {
                    let reason = reason.unwrap_or_default().replace(['\r', '\n'], " ");
                    net.queue(format!("KICK {} {nick} :{reason}", room.name));
                }
            }
        }
    }

    /// Joins a channel, opening a connection with the room nick when the
    /// user has no identity on that network.
    async fn join(&mut self, room: Address, nick: String, password: Option<String>) {
        let Some(host) = room.network.clone() else {
            return;
        };
        if let Some((failure, text)) = self.join_refusal(&host, &room, &nick) {
            return self
                .emit(Event::JoinFailed {
                    room,
                    failure,
                    text,
                })
                .await;
        }
        if !self.nets.contains_key(&host) {
            let ident = fit::ident(&nick);
            let registration = &Registration::default();
            self.open(&host, nick.clone(), ident, nick.clone(), registration, true);
        }
        let Some(net) = self.nets.get_mut(&host) else {
            return;
        };
        let key = password.map(|k| k.replace([' ', '\r', '\n', ','], ""));
        if net
            .channels
            .joining(&net.support, &room.name, &nick, key.clone())
            && net.registered
        {
            net.queue(Channels::join_line(&room.name, key.as_deref()));
        }
    }

    /// Why a join cannot be made, if it cannot: a network or channel over
    /// the user's limits (the refusal names the config key), a network
    /// not configured, a name no IRC line carries, or a nick for a new
    /// connection that the server could not take.
    fn join_refusal(&self, host: &str, room: &Address, nick: &str) -> Option<(Failure, String)> {
        let net = self.nets.get(host);
        let support = net.map(|n| &n.support);
        let known = net.is_some_and(|n| n.channels.has(&n.support, &room.name));
        let channels: usize = self.nets.values().map(|n| n.channels.count()).sum();
        let limits = &self.limits;
        if !known && channels >= limits.channels {
            let text = format!(
                "you are in {channels} IRC channels, the most allowed (irc_channels = {})",
                limits.channels
            );
            return Some((Failure::PolicyViolation, text));
        }
        if let Some(problem) =
            fit::channel_problem(&room.name, support.unwrap_or(&Default::default()))
        {
            return Some((Failure::NotAcceptable, problem));
        }
        if net.is_some() {
            return None;
        }
        if self
            .shared
            .networks
            .find(host)
            .is_none_or(|n| n.host != host)
        {
            return Some((
                Failure::ItemNotFound,
                "not a network of this gateway".into(),
            ));
        }
        if self.nets.len() >= limits.networks {
            let text = format!(
                "you are on {} IRC networks, the most allowed (irc_networks = {})",
                self.nets.len(),
                limits.networks
            );
            return Some((Failure::PolicyViolation, text));
        }
        // The room nick becomes the new connection's IRC nick.
        fit::nick_problem(nick, None).map(|p| (Failure::NotAcceptable, format!("{nick}: {p}")))
    }

    /// Sends to a channel, and reflects the message to the user at once:
    /// IRC does not echo it (we do not ask for echo-message).
    async fn send_room(&mut self, room: Address, text: Text) {
        let Some(net) = room.network.as_ref().and_then(|h| self.nets.get_mut(h)) else {
            return self
                .fail(
                    room,
                    text.id,
                    Failure::ItemNotFound,
                    "you are not in that channel",
                )
                .await;
        };
        if let Err(unqueued) = net.queue_all(net.privmsg_lines(&room.name, &text)) {
            let text_of = unqueued_text(&unqueued);
            return self
                .fail(room, text.id, Failure::ResourceConstraint, &text_of)
                .await;
        }
        let nick = net.nick.clone();
        self.emit(Event::RoomMessage {
            room,
            nick,
            text,
            own: true,
        })
        .await;
    }

    fn watch(&mut self, contact: &Address) {
        if contact.kind != AddressKind::Contact {
            return;
        }
        if let Some(net) = contact.network.as_ref().and_then(|h| self.nets.get_mut(h)) {
            net.watched
                .insert(net.support.fold(&contact.name), contact.name.clone());
        }
    }

    async fn send_direct(&mut self, to: Address, text: Text) {
        let Some(net) = to.network.as_ref().and_then(|h| self.nets.get_mut(h)) else {
            let reason = "you have no identity on that network: register on its JID first";
            return self
                .fail(to, text.id, Failure::RegistrationRequired, reason)
                .await;
        };
        let target = to.name.clone();
        if let Err(unqueued) = net.queue_all(net.privmsg_lines(&target, &text)) {
            let reason = unqueued_text(&unqueued);
            return self
                .fail(to, text.id, Failure::ResourceConstraint, &reason)
                .await;
        }
        if let Some(id) = &text.id {
            net.last_id.insert(net.support.fold(&target), id.clone());
        }
    }

    /// Each tick: ISON where there is no MONITOR, and a few WHOIS to learn
    /// which online contacts are away (no server tells without asking).
    fn poll(&mut self) {
        for net in self.nets.values_mut() {
            poll_ison(net);
            poll_away(net);
        }
    }

    async fn up(&mut self, host: &str, up: Up) {
        let network = Some(host.to_owned());
        match up {
            Up::Connecting => {
                self.emit(Event::Connection {
                    network,
                    state: Connection::Connecting,
                })
                .await;
            }
            Up::Registered { nick, wanted, sasl } => {
                let Some(net) = self.nets.get_mut(host) else {
                    return;
                };
                net.registered = true;
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
                let offline: Vec<Address> = match self.nets.get_mut(host) {
                    Some(net) => {
                        net.registered = false;
                        net.support = Support::default();
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
            Up::Line(message) => self.line(host, message).await,
        }
    }

    async fn line(&mut self, host: &str, message: Message) {
        let events = self.events.clone();
        let Some(net) = self.nets.get_mut(host) else {
            return;
        };
        let from_nick = match &message.prefix {
            Some(Prefix::Nickname(nick, _, _)) => Some(nick.clone()),
            _ => None,
        };
        let mut renamed = false;
        if let (Command::NICK(new), Some(old)) = (&message.command, &from_nick) {
            if net.support.fold(old) == net.support.fold(&net.nick) {
                net.nick = new.clone();
                net.pending_nick = None;
                let registered_nick = |r: &String| net.support.fold(r) == net.support.fold(new);
                if net.reclaim.as_ref().is_some_and(registered_nick) {
                    stop_reclaim(net);
                }
                renamed = true;
            }
        }
        let room_events = net.channels.line(&net.support, host, &net.nick, &message);
        let handled = room_events.is_some();
        for event in room_events.into_iter().flatten() {
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
            Command::PRIVMSG(target, body) | Command::NOTICE(target, body)
                if from_nick.is_none() || !net.registered =>
            {
                let _ = target;
                emit(
                    &events,
                    Event::Notice {
                        network: Some(host.to_owned()),
                        text: strip_formatting(&body),
                    },
                )
                .await;
            }
            Command::PRIVMSG(target, body) => {
                let nick = from_nick.unwrap_or_default();
                if net.support.is_channel(&target) {
                    return;
                }
                let from = Address::contact(Some(host), &nick);
                match ctcp(&body) {
                    Some(("ACTION", action)) => {
                        let text = Text {
                            body: strip_formatting(action),
                            action: true,
                            ..Text::default()
                        };
                        emit(&events, Event::DirectMessage { from, text }).await;
                    }
                    Some((request @ ("VERSION" | "PING"), token)) => {
                        let now = std::time::Instant::now();
                        if let Some(reply) = ctcp_reply(&nick, request, token) {
                            if net.replies.admit(&net.support.fold(&nick), now) {
                                net.queue_auto(reply);
                            }
                        }
                    }
                    Some(_) => {}
                    None => {
                        let text = Text {
                            body: strip_formatting(&body),
                            ..Text::default()
                        };
                        match net.pm_rooms.get(&net.support.fold(&nick)) {
                            Some(room) => {
                                let room = room.clone();
                                emit(&events, Event::PrivateMessage { room, nick, text }).await;
                            }
                            None => emit(&events, Event::DirectMessage { from, text }).await,
                        }
                    }
                }
            }
            Command::NOTICE(target, body) => {
                let nick = from_nick.unwrap_or_default();
                if net.support.is_channel(&target) || ctcp(&body).is_some() {
                    return;
                }
                if nick.eq_ignore_ascii_case("NickServ") || nick.contains('.') {
                    emit(
                        &events,
                        Event::Notice {
                            network: Some(host.to_owned()),
                            text: strip_formatting(&body),
                        },
                    )
                    .await;
                    return;
                }
                let from = Address::contact(Some(host), &nick);
                let text = Text {
                    body: strip_formatting(&body),
                    ..Text::default()
                };
                emit(&events, Event::DirectMessage { from, text }).await;
            }
            Command::Response(response, args) => {
                self.numeric(host, response as u16, args).await;
            }
            Command::Raw(code, args) => {
                if let Ok(code) = code.parse() {
                    self.numeric(host, code, args).await;
                }
            }
            _ => {}
        }
    }

    async fn numeric(&mut self, host: &str, code: u16, args: Vec<String>) {
        let events = self.events.clone();
        let Some(net) = self.nets.get_mut(host) else {
            return;
        };
        match code {
            5 if args.len() > 2 => {
                net.support
                    .absorb(args[1..args.len() - 1].iter().map(String::as_str));
            }
            // End of MOTD (or none): the server has told us what it
            // supports, so follow contacts now.
            376 | 422 => {
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
            303 => {
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
                    contact(&events, host, &nick, online).await;
                }
            }
            301 if args.len() >= 3 => {
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
                        emit(&events, Event::ContactPresence { contact, status }).await;
                    }
                }
            }
            318 if args.len() >= 2 => {
                let folded = net.support.fold(&args[1]);
                let was_away =
                    !net.whois_away.remove(&folded) && net.away.remove(&folded).is_some();
                if let (true, true, Some(nick)) = (
                    was_away,
                    net.online.contains(&folded),
                    net.watched.get(&folded).cloned(),
                ) {
                    contact(&events, host, &nick, true).await;
                }
            }
            730 | 731 => {
                let online = code == 730;
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
                        contact(&events, host, &nick, online).await;
                    }
                }
            }
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
                fail(&events, room, None, failure, &text).await;
            }
            code => {
                let Some(failure) = numerics::failure(code) else {
                    return;
                };
                let target = args.get(1).cloned().unwrap_or_default();
                if target.eq_ignore_ascii_case("NickServ") || target.is_empty() || target == "*" {
                    return;
                }
                let id = net.last_id.remove(&net.support.fold(&target));
                let text = args.last().cloned().unwrap_or_default();
                let to = if net.support.is_channel(&target) {
                    Address::room(Some(host), &target)
                } else {
                    Address::contact(Some(host), &target)
                };
                fail(&events, to, id, failure, &format!("{target}: {text}")).await;
            }
        }
    }
}

async fn emit(events: &channel::Sender<Event>, event: Event) {
    // The core gone means ferry is stopping; nothing left to tell.
    let _ = events.send(event).await;
}

async fn fail(
    events: &channel::Sender<Event>,
    to: Address,
    id: Option<String>,
    failure: Failure,
    text: &str,
) {
    emit(
        events,
        Event::Failed {
            to,
            id,
            failure,
            text: text.to_owned(),
        },
    )
    .await;
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

/// The answer to a CTCP VERSION or PING request from `nick`; `None` when
/// the nick cannot be written back as the NOTICE's target (empty, a
/// leading `:`, a space, or what the codec refuses: CR, LF, NUL). A line
/// the codec refuses would drop the connection, and each reconnect would
/// meet the same request again (found by fuzzing).
fn ctcp_reply(nick: &str, request: &str, token: &str) -> Option<String> {
    if nick.is_empty() || nick.starts_with(':') || nick.contains([' ', '\r', '\n', '\0']) {
        return None;
    }
    let answer = match request {
        "VERSION" => format!("ferry {}", env!("CARGO_PKG_VERSION")),
        // The token comes back as sent, within what a line carries and
        // without what would end the CTCP or be refused by the codec.
        _ => fit::cut(token, 100).replace(|c: char| c.is_control(), ""),
    };
    Some(format!("NOTICE {nick} :\x01{request} {answer}\x01"))
}

/// Why the lines of a message were not queued, for the user.
fn unqueued_text(unqueued: &Unqueued) -> String {
    match unqueued {
        Unqueued::TooMany { lines, most } => {
            format!("the message makes {lines} IRC lines; at most {most} can wait to be sent")
        }
        Unqueued::Full => "too many lines waiting for IRC; nothing of it was sent".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctcp_replies_never_break_the_line() {
        assert_eq!(
            ctcp_reply("bob", "PING", "1\u{0}2\r3").as_deref(),
            Some("NOTICE bob :\x01PING 123\x01")
        );
        assert!(ctcp_reply("bob", "VERSION", "")
            .unwrap()
            .starts_with("NOTICE bob :\x01VERSION ferry "));
        // Found by fuzzing: a server passed NULs in a nick's prefix.
        assert_eq!(ctcp_reply("d\u{0}\u{0}e", "VERSION", ""), None);
        assert_eq!(ctcp_reply("d\u{0}e", "PING", "562"), None);
        for nick in ["", ":bob", "a b", "a\r\nQUIT x"] {
            assert_eq!(ctcp_reply(nick, "PING", "1"), None, "{nick:?}");
        }
    }
}
