//! The generic XEP-0045 side of group chats: each user's view of each room
//! they are in, fed by their session's events. Nothing here knows IRC; any
//! backend that reports rooms gets multi-resource joins, nick changes,
//! kicks, subjects and self-ping from here.

pub mod archive;
mod events;
mod handlers;
pub mod history;
pub mod ledger;
mod stanzas;

pub use events::{event, gone};
pub use handlers::{end_session_if_idle, iq, mam, message, presence};

