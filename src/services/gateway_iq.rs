//! XEP-0100 `jabber:iq:gateway`: turns what a user typed into a JID.
//! xmpp-parsers lacks it, so the payload is our own xso type.

use xmpp_parsers::minidom::Element;
use xmpp_parsers::stanza_error::StanzaError;
use xso::{AsXml, FromXml};

use super::reply::address_error;
use crate::gateway::Gateway;
use crate::stanza_error::{self, Condition};

pub const NS: &str = "jabber:iq:gateway";

#[derive(FromXml, AsXml, Debug, Clone, PartialEq, Default)]
#[xml(namespace = "jabber:iq:gateway", name = "query")]
pub struct GatewayQuery {
    #[xml(extract(default, name = "desc", fields(text(type_ = String))))]
    pub desc: Option<String>,
    #[xml(extract(default, name = "prompt", fields(text(type_ = String))))]
    pub prompt: Option<String>,
    #[xml(extract(default, name = "jid", fields(text(type_ = String))))]
    pub jid: Option<String>,
}

pub fn answer(gw: &Gateway, payload: &Element, set: bool) -> Result<Option<Element>, StanzaError> {
    if !set {
        let (desc, prompt) = gw.bridge.gateway_prompt();
        return Ok(Some(
            GatewayQuery {
                desc: Some(desc),
                prompt: Some(prompt),
                jid: None,
            }
            .into(),
        ));
    }
    let query = GatewayQuery::try_from(payload.clone())
        .map_err(|_| stanza_error::error(Condition::BadRequest, "malformed gateway query"))?;
    let input = query
        .prompt
        .filter(|p| !p.trim().is_empty())
        .ok_or_else(|| stanza_error::error(Condition::BadRequest, "prompt is empty"))?;
    let address = gw
        .bridge
        .gateway_translate(&input)
        .map_err(|e| address_error(&e))?;
    let jid = gw
        .jid_of(&address)
        .ok_or_else(|| stanza_error::error(Condition::JidMalformed, "that address has no JID"))?;
    Ok(Some(
        GatewayQuery {
            jid: Some(jid.to_string()),
            ..Default::default()
        }
        .into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_round_trips() {
        let q = GatewayQuery {
            desc: Some("d".into()),
            prompt: Some("p".into()),
            jid: None,
        };
        let el: Element = q.clone().into();
        assert_eq!(el.ns(), NS);
        assert_eq!(GatewayQuery::try_from(el).unwrap(), q);
    }
}
