//! The XEP-0114 component link and its outbound queue.

mod link;
mod outbound;
mod wire;

#[cfg(feature = "fuzzing")]
pub use link::serialise;
pub use link::{run, LinkConfig, LinkEvent};
pub use outbound::{admitted, Outbound};
