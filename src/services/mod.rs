//! The XMPP services every bridge gets from the core.

mod commands;
pub mod details;
pub mod disco;
mod forms;
mod gateway_iq;
pub mod iq;
pub mod message;
pub mod presence;
mod register;
pub mod reply;
pub mod room_list;
pub mod roster;
mod settings;
mod transfer;
mod xep0050;
