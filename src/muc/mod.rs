//! The generic XEP-0045 side of group chats: each user's view of each room
//! they are in, fed by their session's events. Nothing here knows IRC; any
//! backend that reports rooms gets multi-resource joins, nick changes,
//! kicks, subjects and self-ping from here.

pub mod archive;
mod away;
pub mod events;
mod handlers;
pub mod history;
pub mod invites;
pub mod ledger;
pub mod moderation;
mod outgoing;
pub mod refs;
pub mod rejoin;
pub mod replay;
mod signals;
mod stanzas;

pub use events::gone;
pub use handlers::{iq, mam, message, presence};
