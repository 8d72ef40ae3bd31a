//! The contract between ferry's XMPP core and its backends.
//!
//! A backend describes itself (kind, disco identities, registration form,
//! address syntax), checks registrations and starts per-user sessions
//! through the [`Bridge`] trait; a session takes typed [`Intent`]s and
//! reports typed [`Event`]s over bounded channels.
//! This crate does no I/O, builds no XML and writes no SQL: the core turns
//! what a bridge describes into stanzas and rows, so a new backend is one
//! new crate that depends on this one only. (The one exception, behind the
//! `tls` feature: the CA file an admin names for a backend's TLS.)

mod address;
pub mod channel;
mod file;
mod form;
mod session;
mod styled;
#[cfg(feature = "tls")]
pub mod tls;

pub use address::{Address, AddressKind};
pub use file::{File, FileContent};
pub use form::{parse_boolean, FieldKind, FieldSpec, FormValues, Registration, Secret};
pub use session::{
    Affiliation, Attendance, Availability, Card, ChatState, Connection, ContactStatus, Details,
    DetailsKind, Event, Failure, Intent, Limits, Listed, Moderation, OccupantChange, OutboxItem,
    Reply, Role, RoomInfo, SessionContext, SessionHandle, SessionStorage, StorageError, Text,
};
pub use styled::{apply_element, push_run, styled, web_link, Rgb, Run, Style};

use std::future::Future;
use std::pin::Pin;

/// A boxed future, so the trait stays object safe without an async runtime.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A disco identity (XEP-0030) the bridge JID shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub category: &'static str,
    pub kind: &'static str,
    pub name: String,
}

/// Why an address given by a user cannot be used. The core maps
/// `Malformed` to `jid-malformed` and `Unknown` to `item-not-found`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("malformed address: {0}")]
    Malformed(String),
    #[error("unknown address: {0}")]
    Unknown(String),
}

/// Why a registration was refused. The core maps `Invalid` to
/// `not-acceptable` and `Rejected` to `not-authorized`, each with the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistrationError {
    /// A field is missing or malformed; the text names the field.
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    /// The foreign side refused the credentials.
    #[error("{0}")]
    Rejected(String),
    /// The foreign side could not be reached to check.
    #[error("{0}")]
    Unreachable(String),
}

impl RegistrationError {
    pub fn invalid(field: &str, reason: impl Into<String>) -> Self {
        RegistrationError::Invalid {
            field: field.to_owned(),
            reason: reason.into(),
        }
    }
}

/// What a backend is, seen from the XMPP side.
pub trait Bridge: Send + Sync + 'static {
    /// The config kind, e.g. `irc`.
    fn kind(&self) -> &'static str;

    /// Identities shown on the bridge JID (at least one `gateway/*`).
    fn identities(&self) -> Vec<Identity>;

    /// The roster group the bridge's contacts go in where the core manages
    /// users' rosters (XEP-0356), e.g. `IRC`.
    fn roster_group(&self) -> &'static str;

    /// Extra disco features of the bridge JID beyond the core's own.
    fn features(&self) -> Vec<&'static str> {
        Vec::new()
    }

    /// The disco identity type of its group chats (`conference/<type>`),
    /// for a backend that has them.
    fn room_type(&self) -> &'static str {
        "text"
    }

    /// The key under which two spellings of one group chat's JID compare
    /// equal (rooms and their archives are kept by it). Default: lowercase.
    fn room_key(&self, jid: &str) -> String {
        jid.to_lowercase()
    }

    /// Works what a user left in the durable outbox, without a session:
    /// called at start for each user with items there, online or not. The
    /// context's events carry only failures to report.
    fn resume_outbox(&self, _context: SessionContext) {}

    /// What disco#items of the bridge JID lists, so that clients can
    /// browse to it (IRC: each network's JID).
    fn directory(&self) -> Vec<Address> {
        Vec::new()
    }

    /// Instructions shown above the registration form.
    fn registration_instructions(&self) -> String;

    /// The registration form, in display order.
    fn registration_fields(&self) -> Vec<FieldSpec>;

    /// Validates submitted values and checks them with the foreign side,
    /// for `user` (a bare JID). `previous` is the stored registration on
    /// an edit; an empty password on an edit has already been replaced by
    /// the stored one.
    fn check_registration<'a>(
        &'a self,
        user: &'a str,
        values: FormValues,
        previous: Option<&'a Registration>,
    ) -> BoxFuture<'a, Result<Registration, RegistrationError>>;

    /// Parses the (XEP-0106 unescaped) localpart of a JID on the bridge.
    fn parse_address(&self, localpart: &str) -> Result<Address, AddressError>;

    /// The (unescaped) localpart that names `address` on the bridge.
    fn format_address(&self, address: &Address) -> String;

    /// XEP-0100 `jabber:iq:gateway`: the description and prompt label.
    fn gateway_prompt(&self) -> (String, String);

    /// XEP-0100 `jabber:iq:gateway`: what a user typed → an address.
    fn gateway_translate(&self, input: &str) -> Result<Address, AddressError>;

    /// Whether a file the user sends (an XEP-0066 link) is fetched and
    /// handed to the session in `Text::files` (mail), rather than carried
    /// as the link in the text (IRC).
    fn takes_files(&self) -> bool {
        false
    }

    /// Whether contacts are reachable whenever the user is (mail), so the
    /// core can answer their presence without asking a session.
    fn contacts_always_available(&self) -> bool {
        false
    }

    /// Starts a session for a user (spawning its task on the current tokio
    /// runtime). `None` for a backend that cannot carry traffic yet: the
    /// core then answers that user's messages `service-unavailable`.
    fn start_session(&self, context: SessionContext) -> Option<SessionHandle> {
        let _ = context;
        None
    }

    /// Short help sent in answer to a chat message to the bridge JID.
    fn help_text(&self) -> String;

    /// The network (by name, as in addresses) a registration is the
    /// user's identity on, for a backend with networks. Its `persistent`
    /// field (a `FieldSpec::boolean`) then keeps that network's connection
    /// up while the user is offline (SPEC §7). Default: none.
    fn registration_network(&self, scope: &str, registration: &Registration) -> Option<String> {
        let _ = (scope, registration);
        None
    }

    /// The settings of an identity on a network besides `persistent`
    /// (SPEC §10), in display order, each with its current values.
    fn network_settings(
        &self,
        scope: &str,
        registration: &Registration,
    ) -> Vec<(FieldSpec, Vec<String>)> {
        let _ = (scope, registration);
        Vec::new()
    }

    /// `registration` with the `submitted` settings (each field's values)
    /// applied, or why not. Called with none before the settings are
    /// shown: what a setting needs made first (a client certificate) is
    /// made then, and the core stores the result.
    fn apply_network_settings(
        &self,
        scope: &str,
        registration: &Registration,
        submitted: &[(String, Vec<String>)],
    ) -> Result<Registration, RegistrationError> {
        let _ = (scope, submitted);
        Ok(registration.clone())
    }
}
