//! A user's IRC session: one connection per network they hold an
//! identity on, intents turned into IRC lines; IRC lines turn into events
//! in `inbound`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use ferry_bridge::{
    channel, Address, AddressKind, Availability, Connection, DetailsKind, Event, Failure, Intent,
    Limits, Registration, SessionContext, SessionHandle, Text,
};

use crate::caps::Cap;
use crate::channels::Channels;
use crate::connection::{self, Control, Up};
use crate::fit;
use crate::isupport::Support;
use crate::net::{poll_away, poll_ison, Net, Unqueued};
use crate::shared::Shared;

mod attendance;
#[cfg(feature = "fuzzing")]
pub(crate) mod fuzz;
mod inbound;
mod lists;
mod moderate;
mod rich;
mod rooms;

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
    dcc: crate::dcc::Dcc,
    /// Whether the user is there, and their identities for connections
    /// closed while away.
    presence: attendance::Presence,
}

/// The identity a registration gives on its network.
pub(crate) fn identity(
    scope: &str,
    registration: &Registration,
) -> Option<(String, String, String, String)> {
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
    shared.start_identd();
    let (up_tx, up_rx) = channel::channel(context.limits.events);
    let dcc = crate::dcc::Dcc {
        receive: shared.dcc_receive,
        allow: shared.dcc_allow.clone(),
        storage: context.storage.clone(),
        max_bytes: context.limits.file_bytes,
    };
    let mut session = Session {
        dcc,
        shared,
        user: context.user.clone(),
        limits: context.limits,
        nets: HashMap::new(),
        events: context.events.clone(),
        up_tx,
        presence: attendance::Presence::new(&context.attendance),
    };
    let mut identities = 0;
    for (scope, registration) in &context.registrations {
        if let Some((host, nick, username, realname)) = identity(scope, registration) {
            if identities >= context.limits.networks {
                // Registered before the limit was lowered.
                tracing::warn!(user = %context.user, network = host, "over irc_networks: not connected");
                continue;
            }
            identities += 1;
            // While the user is away, only always-on networks connect.
            if session.presence.identity(&host, scope, registration) {
                session.open(&host, nick, username, realname, registration, false);
            }
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
        let who = (nick.clone(), username.clone(), realname);
        let params = self
            .shared
            .params(&network, &self.user, who, registration, room_only);
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
                caps: Default::default(),
                echoes: Default::default(),
                typing: Default::default(),
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
                lookups: Default::default(),
                listing: Default::default(),
                moderations: Default::default(),
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
            Intent::SendDirect { to, text } => {
                if let Some(host) = &to.network {
                    self.unpark(host);
                }
                self.send_direct(to, text).await
            }
            Intent::Watch(contact) => self.follow(contact),
            Intent::Unwatch(contact) => self.unfollow(contact),
            Intent::SetAvailability(availability) => self.set_availability(availability),
            Intent::ChatState { to, state } => self.chat_state(to, state),
            Intent::React {
                room,
                target,
                reactions,
            } => self.react(room, target, reactions),
            Intent::Retract { room, target } => self.retract(room, target),
            Intent::Reconnect => {
                for net in self.nets.values() {
                    let _ = net.handle.control.try_send(Control::Reconnect);
                }
            }
            Intent::ListRooms { network, id } => self.list_rooms(network, id).await,
            Intent::Invite { room, nick } => crate::invite::send(&self.nets, &room, &nick),
            Intent::Shutdown { .. } => {}
            Intent::Attendance(attendance) => self.attendance(attendance).await,
            Intent::Identity {
                scope,
                registration,
            } => self.new_identity(&scope, &registration),
            Intent::Details { contact, id, kind } => {
                if let Some(host) = &contact.network {
                    self.unpark(host);
                }
                self.details(contact, id, kind).await
            }
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
            Intent::LeaveRoom { room, reason } => self.leave(room, reason).await,
            Intent::ChangeNick { room, nick } => self.change_nick(room, nick).await,
            Intent::SetSubject { room, subject } => {
                if let Some(net) = room.network.as_ref().and_then(|h| self.nets.get(h)) {
                    let subject = subject.replace(['\r', '\n'], " ");
                    net.queue(format!("TOPIC {} :{subject}", room.name));
                }
            }
            Intent::Moderate { room, id, action } => self.moderate(room, id, action).await,
        }
    }

    /// A new contact: watched, and MONITORed at once where the server has
    /// MONITOR and we are registered (else from the end of the MOTD).
    fn follow(&mut self, contact: Address) {
        self.watch(&contact);
        if let Some(net) = contact.network.as_ref().and_then(|h| self.nets.get(h)) {
            if net.registered && net.support.monitor.is_some() {
                net.queue(format!("MONITOR + {}", contact.name));
            }
        }
    }

    fn unfollow(&mut self, contact: Address) {
        if let Some(net) = contact.network.as_ref().and_then(|h| self.nets.get_mut(h)) {
            let folded = net.support.fold(&contact.name);
            net.watched.remove(&folded);
            net.online.remove(&folded);
            if net.registered && net.support.monitor.is_some() {
                net.queue(format!("MONITOR - {}", contact.name));
            }
        }
    }

    /// Away (or back) on every network.
    fn set_availability(&self, availability: Availability) {
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
        let mut lines = net.privmsg_lines(&room.name, &text);
        let count = lines.len();
        let echoed = net.caps.has(Cap::EchoMessage);
        let mut given_up = None;
        if echoed {
            let folded = net.support.fold(&room.name);
            let labels = net.caps.has(Cap::LabeledResponse);
            given_up = net
                .echoes
                .sent((&folded, &room.name), &mut lines, text.clone(), labels);
        }
        let queued = net.queue_all(lines);
        if queued.is_err() && echoed {
            net.echoes.unsent(count);
        }
        let nick = net.nick.clone();
        // With echo-message the server's echo reflects the message
        // (`inbound`); one that waited too long for its echo goes now.
        if let Some(old) = given_up {
            self.reflect(room.clone(), nick.clone(), *old).await;
        }
        match queued {
            Err(unqueued) => {
                let text_of = unqueued_text(&unqueued);
                self.fail(room, text.id, Failure::ResourceConstraint, &text_of)
                    .await;
            }
            Ok(()) if !echoed => self.reflect(room, nick, text).await,
            Ok(()) => {}
        }
    }

    /// The user's nick on a network ("" when not connected there).
    fn nick_on(&self, host: &str) -> String {
        self.nets
            .get(host)
            .map(|n| n.nick.clone())
            .unwrap_or_default()
    }

    /// The user's own message in a room, back to their resources.
    async fn reflect(&self, room: Address, nick: String, text: Text) {
        let own = true;
        self.emit(Event::RoomMessage {
            room,
            nick,
            text,
            own,
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

    /// Asks IRC about a contact for the user; the answer comes as lines
    /// `inbound` gathers.
    async fn details(&mut self, contact: Address, id: String, kind: DetailsKind) {
        let Some(net) = contact.network.as_ref().and_then(|h| self.nets.get_mut(h)) else {
            let text = "you have no identity on that network: register on its JID first";
            let result = Err((Failure::RegistrationRequired, text.to_owned()));
            return self.emit(Event::Details { id, result }).await;
        };
        // An occupant's nick comes from a JID resource, which may hold
        // what no IRC line can carry (a space or a comma would ask about
        // another).
        let problem = fit::nick_problem(&contact.name, Some(&net.support));
        if problem.is_some() || contact.name.contains(',') {
            let text = format!("{} is not on IRC", contact.name);
            let result = Err((Failure::ItemNotFound, text));
            return self.emit(Event::Details { id, result }).await;
        }
        let folded = net.support.fold(&contact.name);
        let now = std::time::Instant::now();
        if let Some(line) = net
            .lookups
            .ask(folded, &contact.name, id.clone(), kind, now)
        {
            if !net.queue(line) {
                let text = "too many lines waiting for IRC".to_owned();
                let result = Err((Failure::ResourceConstraint, text));
                self.emit(Event::Details { id, result }).await;
            }
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

/// Why the lines of a message were not queued, for the user.
fn unqueued_text(unqueued: &Unqueued) -> String {
    match unqueued {
        Unqueued::TooMany { lines, most } => {
            format!("the message makes {lines} IRC lines; at most {most} can wait to be sent")
        }
        Unqueued::Full => "too many lines waiting for IRC; nothing of it was sent".into(),
    }
}
