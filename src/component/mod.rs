//! The XEP-0114 component link and its outbound queue.

mod link;
mod outbound;
mod wire;

pub use link::{run, LinkConfig, LinkEvent};
pub use outbound::{admitted, Outbound};
