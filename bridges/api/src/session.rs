//! A user's foreign session: the core sends typed intents in, the session
//! reports typed events out. The session owns its connection task(s); the
//! core owns the user's resources, rooms, rosters and archives, so every
//! backend gets multi-resource, MUC, MAM and XEP-0100 from the core.

use std::sync::Arc;

use crate::{Address, Registration};

/// A message as a user writes it, or as a foreign network delivers it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Text {
    /// The XMPP stanza id, echoed in reflections and errors.
    pub id: Option<String>,
    /// The sender's XEP-0359 origin-id, echoed in reflections: clients
    /// match their own messages by it (without it they show them twice).
    pub origin_id: Option<String>,
    pub body: String,
    pub subject: Option<String>,
    pub thread: Option<String>,
    /// `/me` (IRC CTCP ACTION): `body` is without the `/me ` prefix.
    pub action: bool,
    /// When the foreign side says it was sent (unix seconds), if not now.
    pub sent_at: Option<i64>,
    /// The foreign network's id of the message (IRCv3 `msgid`): the same
    /// line heard twice (live, then replayed) is archived once.
    pub foreign_id: Option<String>,
    /// The body with its styles (bold, colours, links), when it has any:
    /// carried as XHTML-IM beside the plain body.
    pub styled: Option<Vec<crate::Run>>,
    /// The sender's name where the foreign side gives one beside the
    /// address (a mail's From), for the contact's roster item.
    pub sender_name: Option<String>,
    /// The message this one answers (XEP-0461), in a room.
    pub reply: Option<Box<Reply>>,
    /// A correction of the sender's previous message (XEP-0308).
    pub correction: bool,
    /// Files that go with the message (SPEC §8).
    pub files: Vec<crate::File>,
}

/// A message a reply or a reaction points at, in a room: by the foreign
/// network's id (a backend's side), by its archive id (the core's side),
/// with its author and the start of its text where known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reply {
    pub nick: Option<String>,
    pub foreign_id: Option<String>,
    pub archive_id: Option<i64>,
    pub excerpt: Option<String>,
}

/// XEP-0085 chat states, as far as a foreign network carries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatState {
    /// Typing.
    Composing,
    /// Stopped typing for now.
    Paused,
    /// Not typing (also `inactive` and `gone`).
    Active,
}

/// The user's own availability, as the core aggregates it over resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Availability {
    Available,
    Away(Option<String>),
}

/// Whether the user is there (SPEC §7): with an available resource, or
/// away with a session kept for what is always-on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attendance {
    Present,
    /// No available resource: only these networks (always-on) stay
    /// connected, besides those with channels the core keeps joined.
    Absent {
        always_on: Vec<String>,
    },
}

/// What the core asks a session to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    SendDirect {
        to: Address,
        text: Text,
    },
    JoinRoom {
        room: Address,
        nick: String,
        password: Option<String>,
    },
    SendRoom {
        room: Address,
        text: Text,
    },
    /// A private message to a room occupant.
    SendPrivate {
        room: Address,
        nick: String,
        text: Text,
    },
    LeaveRoom {
        room: Address,
        reason: Option<String>,
    },
    ChangeNick {
        room: Address,
        nick: String,
    },
    SetSubject {
        room: Address,
        subject: String,
    },
    /// A moderator's change in a room, or a list they ask for (XEP-0045
    /// §8–§10); the session answers with an `Event::Moderated` of the
    /// same `id`, whatever happens.
    Moderate {
        room: Address,
        id: String,
        action: Moderation,
    },
    /// Invite `nick` into the room (IRC `INVITE`).
    Invite {
        room: Address,
        nick: String,
    },
    SetAvailability(Availability),
    /// The user's chat state towards a contact or a room.
    ChatState {
        to: Address,
        state: ChatState,
    },
    /// The user reacts to a message in a room (XEP-0444): these emojis,
    /// all of theirs on it (none: taken back).
    React {
        room: Address,
        target: Reply,
        reactions: Vec<String>,
    },
    /// The user retracts their message in a room (XEP-0424).
    Retract {
        room: Address,
        target: Reply,
    },
    /// Follow a contact's presence (a roster item), or stop following it.
    Watch(Address),
    Unwatch(Address),
    Reconnect,
    /// Ask the foreign network about a contact; the session answers with
    /// an `Event::Details` of the same `id`, whatever happens (the core
    /// gives up after its own timeout).
    Details {
        contact: Address,
        id: String,
        kind: DetailsKind,
    },
    /// List a network's group chats (IRC `LIST`); the session answers
    /// with an `Event::RoomList` of the same `id`, whatever happens.
    ListRooms {
        network: String,
        id: String,
    },
    /// The user left (their last resource) or came back; a backend
    /// without connections of its own may ignore it.
    Attendance(Attendance),
    /// The user registered an identity (by scope, as in
    /// `SessionContext::registrations`) while the session runs: a new
    /// one connects now; an edit applies from the next session.
    Identity {
        scope: String,
        registration: Registration,
    },
    /// End the session (the user left, unregistered, or ferry stops).
    Shutdown {
        reason: String,
    },
}

/// What a user asks to know about a contact: its card (XEP-0054), how
/// long it has been idle (XEP-0012), its client software (XEP-0092).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetailsKind {
    Card,
    Idle,
    Software,
}

/// A contact's card: each part the foreign network tells.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Card {
    pub full_name: Option<String>,
    pub nick: Option<String>,
    /// Free text: what the network says of the contact, a line a fact.
    pub note: Option<String>,
    pub email: Option<String>,
}

/// What the foreign network told about a contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Details {
    Card(Card),
    /// Seconds since the contact last did something.
    Idle(u64),
    /// The contact's client, as it describes itself.
    Software {
        name: String,
        version: Option<String>,
        os: Option<String>,
    },
}

/// A group chat as a network lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomInfo {
    pub room: Address,
    pub users: u32,
    pub topic: String,
}

/// What a moderator does in a room, in XEP-0045's terms: the session
/// maps them to what its network has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Moderation {
    /// Voice, devoice, make moderator, or kick (`Role::None`).
    Role {
        nick: String,
        role: Role,
        reason: Option<String>,
    },
    /// Ban (`Outcast`), unban or take away (`None`), make admin, ….
    Affiliation {
        nick: String,
        affiliation: Affiliation,
        reason: Option<String>,
    },
    /// Who holds an affiliation (the ban list for `Outcast`).
    ListAffiliation(Affiliation),
    /// Who holds a role (the moderators, the voiced).
    ListRole(Role),
}

/// One entry of a list a moderator asked for: an occupant or banned nick,
/// or a network's mask that names no one nick (`*!*@host`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub nick: Option<String>,
    pub mask: Option<String>,
    pub role: Option<Role>,
    pub affiliation: Affiliation,
}

/// An occupant's standing in a room (XEP-0045 roles and affiliations).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Moderator,
    Participant,
    Visitor,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Affiliation {
    Owner,
    Admin,
    Member,
    None,
    Outcast,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OccupantChange {
    Joined {
        role: Role,
        affiliation: Affiliation,
    },
    Left {
        reason: Option<String>,
    },
    Kicked {
        by: Option<String>,
        reason: Option<String>,
        /// Banned as well: removed for good (XEP-0045's 301, not 307).
        banned: bool,
    },
    Renamed {
        to: String,
    },
    Standing {
        role: Role,
        affiliation: Affiliation,
    },
    /// Away from the keyboard, with the note the occupant left.
    Away {
        note: Option<String>,
    },
    /// Back from being away.
    Back,
}

/// Foreign failures, in the terms the core maps to XMPP errors (one table,
/// in the core).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    BadRequest,
    Conflict,
    Forbidden,
    ItemNotFound,
    NotAcceptable,
    NotAuthorized,
    /// Over a count or size the gateway's config allows (`[limits]`); the
    /// text names the key.
    PolicyViolation,
    RecipientUnavailable,
    RegistrationRequired,
    RemoteServerTimeout,
    ResourceConstraint,
    ServiceUnavailable,
    InternalServerError,
}

/// A foreign contact's presence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactStatus {
    Online,
    Away(Option<String>),
    Offline,
}

/// The state of a connection to one foreign network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    Connecting,
    Online {
        nick: Option<String>,
        note: Option<String>,
    },
    Reconnecting {
        reason: String,
        retry_in_secs: u64,
    },
    Offline {
        reason: String,
    },
}

/// What a session reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `network` is `None` for backends without networks.
    Connection {
        network: Option<String>,
        state: Connection,
    },
    /// A server notice or similar, for the network JID.
    Notice {
        network: Option<String>,
        text: String,
    },
    DirectMessage {
        from: Address,
        text: Text,
    },
    /// A message in a room; `own` is true for the user's own message
    /// reflected back (its `text.id` is the id the user sent).
    RoomMessage {
        room: Address,
        nick: String,
        text: Text,
        own: bool,
    },
    PrivateMessage {
        room: Address,
        nick: String,
        text: Text,
    },
    Occupant {
        room: Address,
        nick: String,
        change: OccupantChange,
    },
    /// The user is in the room as `nick` (changed from what they asked for
    /// when `renamed`).
    Joined {
        room: Address,
        nick: String,
        renamed: bool,
    },
    JoinFailed {
        room: Address,
        failure: Failure,
        text: String,
    },
    Subject {
        room: Address,
        by: Option<String>,
        subject: String,
    },
    Left {
        room: Address,
        reason: Option<String>,
    },
    ContactPresence {
        contact: Address,
        status: ContactStatus,
    },
    /// A contact's chat state, or a room occupant's (`nick`).
    ChatState {
        from: Address,
        nick: Option<String>,
        state: ChatState,
    },
    /// An occupant reacted to a message in a room.
    Reaction {
        room: Address,
        nick: String,
        target: Reply,
        reactions: Vec<String>,
    },
    /// An occupant retracted a message in a room.
    Retracted {
        room: Address,
        nick: String,
        target: Reply,
    },
    /// `by` invites the user into `room`.
    Invited {
        room: Address,
        by: String,
    },
    /// The answer to `Intent::ListRooms` of the same `id`.
    RoomList {
        id: String,
        result: Result<Vec<RoomInfo>, (Failure, String)>,
    },
    /// The answer to `Intent::Moderate` of the same `id`: the list asked
    /// for (empty for a change).
    Moderated {
        id: String,
        result: Result<Vec<Listed>, (Failure, String)>,
    },
    /// The answer to `Intent::Details` of the same `id`.
    Details {
        id: String,
        result: Result<Details, (Failure, String)>,
    },
    /// Something the user sent (`id`) to `to` could not be delivered.
    Failed {
        to: Address,
        id: Option<String>,
        failure: Failure,
        text: String,
    },
}

/// Bounds the core sets for a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Intents waiting for the session; beyond it the user's stanzas are
    /// answered `resource-constraint`.
    pub intents: usize,
    /// Events waiting for the core.
    pub events: usize,
    /// Items one user may have in the durable outbox.
    pub outbox: usize,
    /// Foreign networks one user may be connected to at once (the config
    /// key `irc_networks`, which a refusal names).
    pub networks: usize,
    /// Group chats one user may be in, over all networks (`irc_channels`).
    pub channels: usize,
    /// Bytes a file may have to be carried (`max_attachment`).
    pub file_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            intents: 256,
            events: 1024,
            outbox: 1000,
            networks: 10,
            channels: 100,
            file_bytes: 25 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    #[error("the store failed: {0}")]
    Failed(String),
    #[error("the outbox is full")]
    OutboxFull,
}

/// An item of the durable outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    pub id: i64,
    /// What the backend needs to send it again (its own encoding).
    pub payload: String,
    pub attempts: u32,
}

/// What a session may keep, per user, in the core's store.
pub trait SessionStorage: Send + Sync {
    fn get<'a>(
        &'a self,
        key: &'a str,
    ) -> crate::BoxFuture<'a, Result<Option<String>, StorageError>>;
    fn put<'a>(
        &'a self,
        key: &'a str,
        value: &'a str,
    ) -> crate::BoxFuture<'a, Result<(), StorageError>>;
    fn delete<'a>(&'a self, key: &'a str) -> crate::BoxFuture<'a, Result<(), StorageError>>;

    /// Commits an item before anything is sent (at-least-once hand-off).
    fn outbox_push<'a>(
        &'a self,
        payload: &'a str,
    ) -> crate::BoxFuture<'a, Result<i64, StorageError>>;
    /// Items whose retry time has come, oldest first.
    fn outbox_due(&self, now: i64) -> crate::BoxFuture<'_, Result<Vec<OutboxItem>, StorageError>>;
    /// The item was handed over: forget it.
    fn outbox_done(&self, id: i64) -> crate::BoxFuture<'_, Result<(), StorageError>>;
    /// The item failed for now: try again at `not_before`.
    fn outbox_retry(
        &self,
        id: i64,
        not_before: i64,
    ) -> crate::BoxFuture<'_, Result<(), StorageError>>;

    /// Starts a file from the foreign side, kept until the core has
    /// carried it (`FileContent::Stored`); chunks follow, numbered from 0.
    fn file_create(&self) -> crate::BoxFuture<'_, Result<i64, StorageError>>;
    fn file_append<'a>(
        &'a self,
        id: i64,
        seq: i64,
        data: &'a [u8],
    ) -> crate::BoxFuture<'a, Result<(), StorageError>>;
    /// The file is whole, `size` bytes.
    fn file_finish(&self, id: i64, size: u64) -> crate::BoxFuture<'_, Result<(), StorageError>>;
    /// The size of a file the user sent (`FileContent::Stored`); `None`
    /// once it is gone.
    fn file_size(&self, id: i64) -> crate::BoxFuture<'_, Result<Option<u64>, StorageError>>;
    /// Chunk `seq` of that file, from 0; `None` past the last. A file is
    /// read a chunk at a time: never whole in memory.
    fn file_chunk(
        &self,
        id: i64,
        seq: i64,
    ) -> crate::BoxFuture<'_, Result<Option<Vec<u8>>, StorageError>>;
    /// The backend is done with a file the user sent.
    fn file_delete(&self, id: i64) -> crate::BoxFuture<'_, Result<(), StorageError>>;
}

/// Everything a session gets when it starts.
pub struct SessionContext {
    /// The user's bare JID (for logs and storage; never sent abroad).
    pub user: String,
    /// Identities by scope ("" for the bridge JID, else a network), with
    /// decrypted secrets. Empty for a user who joins rooms unregistered.
    pub registrations: Vec<(String, Registration)>,
    /// Contacts the user subscribed to.
    pub contacts: Vec<Address>,
    pub events: crate::channel::Sender<Event>,
    pub storage: Arc<dyn SessionStorage>,
    pub limits: Limits,
    /// Whether the user is there as the session starts: an always-on
    /// session may start before they come back.
    pub attendance: Attendance,
}

/// The core's end of a running session.
pub struct SessionHandle {
    pub intents: crate::channel::Sender<Intent>,
}
