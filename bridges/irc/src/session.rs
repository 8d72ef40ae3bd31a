//! A user's IRC session: one connection per network they hold an
//! identity on, intents turned into IRC lines, IRC lines into events.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use ferry_bridge::{
    channel, Address, AddressKind, Availability, Connection, ContactStatus, Event, Failure, Intent,
    Registration, SessionContext, SessionHandle, Text,
};
use irc_proto::{Command, Message, Prefix};

use crate::channels::Channels;
use crate::connection::{self, Control, Params, Up};
use crate::isupport::Support;
use crate::numerics;
use crate::shared::Shared;
use crate::split;
use crate::text::{ctcp, strip_formatting};

#[cfg(feature = "fuzzing")]
pub(crate) mod fuzz;

/// How long a session waits for its connections' QUITs to be written.
const QUIT_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// One network of the session.
struct Net {
    handle: connection::Handle,
    nick: String,
    username: String,
    support: Support,
    registered: bool,
    /// Contacts to follow: folded nick → nick as the user wrote it.
    watched: BTreeMap<String, String>,
    /// Folded nicks we reported online.
    online: HashSet<String>,
    /// Folded nicks of online contacts known to be away, with the note.
    away: HashMap<String, String>,
    /// Contacts whose WHOIS (asked for away status) showed RPL_AWAY.
    whois_away: HashSet<String>,
    /// Where the next round of away checks starts.
    whois_next: usize,
    /// The id of the last message the user sent to each folded target,
    /// so an IRC error can name what failed.
    last_id: HashMap<String, String>,
    channels: Channels,
    /// A NICK we sent and await the answer to, with the room whose
    /// occupant asked for it (None: ferry taking back the registered
    /// nick): a refusal goes to that room alone.
    pending_nick: Option<(String, Option<Address>)>,
    /// The registered nick while the connection has a fallback for it
    /// (it was taken at connect): watched, and taken back once free.
    reclaim: Option<String>,
    /// SASL was refused at connect (the network JID's status says so).
    sasl_failed: bool,
    /// Folded nicks the user wrote to through a room: their answers come
    /// from the room's occupant JID.
    pm_rooms: HashMap<String, Address>,
    /// Opened for rooms by a user without an identity on the network.
    room_only: bool,
}

struct Session {
    shared: Arc<Shared>,
    user: String,
    queue: usize,
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
        queue: context.limits.intents,
        nets: HashMap::new(),
        events: context.events.clone(),
        up_tx,
    };
    for (scope, registration) in &context.registrations {
        if let Some((host, nick, username, realname)) = identity(scope, registration) {
            session.open(
                &host,
                nick,
                username,
                realname,
                registration,
                context.limits.intents,
                false,
            );
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
    #[allow(clippy::too_many_arguments)]
    fn open(
        &mut self,
        host: &str,
        nick: String,
        username: String,
        realname: String,
        registration: &Registration,
        queue: usize,
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

    /// Queues a line on a network; false when the queue is full.
    fn queue(net: &Net, line: String) -> bool {
        net.handle.lines.try_send(line).is_ok()
    }

    async fn intent(&mut self, intent: Intent) {
        match intent {
            Intent::SendDirect { to, text } => self.send_direct(to, text).await,
            Intent::Watch(contact) => {
                self.watch(&contact);
                if let Some(net) = contact.network.as_ref().and_then(|h| self.nets.get(h)) {
                    if net.registered && net.support.monitor.is_some() {
                        Self::queue(net, format!("MONITOR + {}", contact.name));
                    }
                }
            }
            Intent::Unwatch(contact) => {
                if let Some(net) = contact.network.as_ref().and_then(|h| self.nets.get_mut(h)) {
                    let folded = net.support.fold(&contact.name);
                    net.watched.remove(&folded);
                    net.online.remove(&folded);
                    if net.registered && net.support.monitor.is_some() {
                        Self::queue(net, format!("MONITOR - {}", contact.name));
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
                    Self::queue(net, line.clone());
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
                Self::queue(net, format!("PART {} :{reason}", room.name));
                net.channels.left(&net.support, &room.name);
                if net.room_only && !net.channels.has_any() {
                    let _ = net.handle.control.try_send(Control::Quit("Leaving".into()));
                    self.nets.remove(&host);
                }
            }
            Intent::ChangeNick { room, nick } => {
                if let Some(reason) = unsendable_nick(&nick) {
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
                    Self::queue(net, format!("NICK {nick}"));
                    net.pending_nick = Some((nick, Some(room)));
                }
            }
            Intent::SetSubject { room, subject } => {
                if let Some(net) = room.network.as_ref().and_then(|h| self.nets.get(h)) {
                    let subject = subject.replace(['\r', '\n'], " ");
                    Self::queue(net, format!("TOPIC {} :{subject}", room.name));
                }
            }
            Intent::Kick { room, nick, reason } => {
                if let Some(net) = room.network.as_ref().and_then(|h| self.nets.get(h)) {
                    let reason = reason.unwrap_or_default().replace(['\r', '\n'], " ");
                    Self::queue(net, format!("KICK {} {nick} :{reason}", room.name));
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
        if !self.nets.contains_key(&host) {
            if self
                .shared
                .networks
                .find(&host)
                .is_none_or(|n| n.host != host)
            {
                let text = "not a network of this gateway";
                return self
                    .emit(Event::JoinFailed {
                        room,
                        failure: Failure::ItemNotFound,
                        text: text.into(),
                    })
                    .await;
            }
            self.open(
                &host,
                nick.clone(),
                nick.clone(),
                nick.clone(),
                &Registration::default(),
                self.queue,
                true,
            );
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
            Self::queue(net, Channels::join_line(&room.name, key.as_deref()));
        }
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
        for line in privmsg_lines(net, &room.name, &text) {
            if !Self::queue(net, line) {
                return self
                    .fail(
                        room,
                        text.id,
                        Failure::ResourceConstraint,
                        "too many lines waiting for IRC",
                    )
                    .await;
            }
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
        if let Some(id) = &text.id {
            net.last_id.insert(net.support.fold(&target), id.clone());
        }
        let mut full = false;
        for line in privmsg_lines(net, &target, &text) {
            if !Self::queue(net, line) {
                full = true;
                break;
            }
        }
        if full {
            self.fail(
                to,
                text.id,
                Failure::ResourceConstraint,
                "too many lines waiting for IRC",
            )
            .await;
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
                    Self::queue(net, line);
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
            Up::Refused { reason } => {
                let rooms = match self.nets.remove(host) {
                    Some(mut net) => net.channels.drain(host),
                    None => Vec::new(),
                };
                for room in rooms {
                    let failure = Failure::Conflict;
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
                    Some((command @ ("VERSION" | "PING"), args)) => {
                        if let Some(reply) = ctcp_reply(&nick, command, args) {
                            Self::queue(net, reply);
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
                        Self::queue(net, format!("MONITOR + {}", list.join(",")));
                    }
                    if let Some(wanted) = &net.reclaim {
                        Self::queue(net, format!("MONITOR + {wanted}"));
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
                        Self::queue(net, format!("WHOIS {nick}"));
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
                            Self::queue(net, format!("WHOIS {nick}"));
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

/// The PRIVMSG lines of a text to `target`: one per line of the body, each
/// split to fit IRC's 512 bytes once relayed, `/me` as CTCP ACTION.
fn privmsg_lines(net: &Net, target: &str, text: &Text) -> Vec<String> {
    let wrapper = if text.action {
        "\x01ACTION \x01".len()
    } else {
        0
    };
    let max = split::budget(
        "PRIVMSG",
        target,
        split::prefix_room(&net.nick, &net.username),
        wrapper,
    );
    split::body(&text.body, max)
        .into_iter()
        .map(|piece| {
            if text.action {
                format!("PRIVMSG {target} :\x01ACTION {piece}\x01")
            } else {
                format!("PRIVMSG {target} :{piece}")
            }
        })
        .collect()
}

/// Asks a server without MONITOR which watched nicks are online; and any
/// server whether the registered nick is free while we have a fallback
/// for it (behind MONITOR, in case a NICK on its word was refused).
fn poll_ison(net: &Net) {
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
        Session::queue(net, line);
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

/// Why `nick` cannot go into a NICK line as it is, if it cannot: a space
/// would end the parameter (`NICK a b` asks for `a`), a line break would
/// start a command of its own.
/// The NOTICE answering a CTCP VERSION or PING from `nick`; `None` when
/// the nick cannot be written back. A line the codec refuses would drop
/// the connection, and the retry after the reconnect would drop it again.
fn ctcp_reply(nick: &str, command: &str, args: &str) -> Option<String> {
    if unsendable_nick(nick).is_some() {
        return None;
    }
    let args = match command {
        "VERSION" => format!("ferry {}", env!("CARGO_PKG_VERSION")),
        // PING's token comes back as sent, less what would end the line.
        _ => args.replace(['\r', '\n', '\0'], ""),
    };
    Some(format!("NOTICE {nick} :\x01{command} {args}\x01"))
}

fn unsendable_nick(nick: &str) -> Option<&'static str> {
    if nick.is_empty() || nick.starts_with(':') {
        Some("not a valid IRC nick")
    } else if nick.contains([' ', '\r', '\n', '\0']) {
        Some("an IRC nick cannot contain spaces or line breaks")
    } else {
        None
    }
}

/// The connection's state for the network JID: online as the current
/// nick, with what the user should know about how it came to be.
fn online_state(net: &Net) -> Connection {
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
fn take_back(net: &mut Net) {
    if net.pending_nick.is_some() {
        return;
    }
    if let Some(wanted) = net.reclaim.clone() {
        if Session::queue(net, format!("NICK {wanted}")) {
            net.pending_nick = Some((wanted, None));
        }
    }
}

/// Stops watching for the registered nick (it is ours, or the user chose
/// another).
fn stop_reclaim(net: &mut Net) {
    let Some(wanted) = net.reclaim.take() else {
        return;
    };
    let watched = net.watched.contains_key(&net.support.fold(&wanted));
    if net.registered && net.support.monitor.is_some() && !watched {
        Session::queue(net, format!("MONITOR - {wanted}"));
    }
}

/// Asks WHOIS of a few online contacts (round-robin) to learn who is away.
fn poll_away(net: &mut Net) {
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
        Session::queue(net, format!("WHOIS {nick}"));
    }
}

/// Applies an ISON answer: which watched nicks went online or offline.
fn reconcile(net: &mut Net, listed: &HashSet<String>) -> Vec<(String, bool)> {
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

    #[test]
    fn nicks_that_would_break_the_line_are_refused() {
        assert_eq!(unsendable_nick("alice2"), None);
        // The server judges the rest (432): ferry does not guess its rules.
        assert_eq!(unsendable_nick("9lives"), None);
        for bad in ["", "a b", ":alice", "a\r\nQUIT", "a\0"] {
            assert!(unsendable_nick(bad).is_some(), "{bad:?}");
        }
    }

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
        assert_eq!(ctcp_reply("d\0\0e", "VERSION", ""), None);
        assert_eq!(ctcp_reply("d\0e", "PING", "562"), None);
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
