//! Answers to requests, shared by every service: where an iq's answer
//! goes, and the error for a bad foreign address.

use ferry_bridge::AddressError;
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::Jid;
use xmpp_parsers::minidom::Element;
use xmpp_parsers::stanza_error::StanzaError;

use super::forms;
use crate::gateway::Gateway;
use crate::stanza_error::{self, Condition};

/// Where an answer goes: from the JID the request was sent to, back to
/// its sender, with its id.
pub struct Reply {
    pub us: Jid,
    pub them: Jid,
    pub id: String,
}

impl Reply {
    pub fn send(self, gw: &Gateway, answer: Result<Option<Element>, StanzaError>) {
        let iq = match answer {
            Ok(mut payload) => {
                if let Some(payload) = &mut payload {
                    forms::type_every_field(payload);
                }
                Iq::Result {
                    from: Some(self.us),
                    to: Some(self.them),
                    id: self.id,
                    payload,
                }
            }
            Err(e) => stanza_error::iq(Some(self.us), Some(self.them), self.id, e),
        };
        gw.send(iq);
    }
}

pub fn address_error(e: &AddressError) -> StanzaError {
    match e {
        AddressError::Malformed(text) => stanza_error::error(Condition::JidMalformed, text),
        AddressError::Unknown(text) => stanza_error::error(Condition::ItemNotFound, text),
    }
}
