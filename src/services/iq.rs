//! `iq` requests: each gets exactly one answer; results and errors that
//! reach us are never answered.

use std::sync::Arc;

use ferry_bridge::AddressKind;
use xmpp_parsers::disco::DiscoInfoQuery;
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::Jid;
use xmpp_parsers::minidom::Element;
use xmpp_parsers::ns;
use xmpp_parsers::stanza_error::StanzaError;
use xmpp_parsers::version::VersionResult;

use super::reply::{address_error, Reply};
use super::{
    commands, details, disco, gateway_iq, register, room_list, settings, transfer, xep0050,
};
use crate::gateway::{Gateway, Target};
use crate::stanza_error::{self, Condition};

pub fn handle(gw: &Arc<Gateway>, from: Jid, iq: Iq) {
    let Some(iq) = gw.asks.answer(iq) else {
        return;
    };
    let (to, id, payload, set) = match iq {
        Iq::Get {
            to, id, payload, ..
        } => (to, id, payload, false),
        Iq::Set {
            to, id, payload, ..
        } => (to, id, payload, true),
        Iq::Error { id, from, .. } if id.starts_with(crate::roster::ID_PREFIX) => {
            return super::roster::refused(gw, from.as_ref(), &id);
        }
        Iq::Result { .. } | Iq::Error { .. } => return,
    };
    let reply = Reply {
        us: to.unwrap_or_else(|| gw.jid.clone()),
        them: from,
        id,
    };
    let target = match gw.target(&reply.us) {
        Ok(target) => target,
        Err(e) => return reply.send(gw, Err(address_error(&e))),
    };
    if let Target::Foreign(address) = &target {
        if address.kind == ferry_bridge::AddressKind::Room {
            if set && reply.us.resource().is_none() && payload.is("query", ns::MAM) {
                return crate::muc::mam(gw, reply, address, payload);
            }
            if reply.us.resource().is_none() && payload.is("query", crate::muc::moderation::NS) {
                return crate::muc::moderation::spawn(gw, reply, address, payload, set);
            }
            if let Some(answer) = crate::muc::iq(gw, &reply.them, &reply.us, address, &payload, set)
            {
                return reply.send(gw, answer);
            }
        }
    }
    // Commands and registration answer later, from a task of their own.
    match (payload.ns().as_str(), payload.name(), set, &target) {
        (xep0050::NS, "command", true, Target::Bridge) => commands::spawn(gw, reply, payload),
        (ns::DISCO_ITEMS, "query", false, Target::Foreign(a))
            if room_list::applies(a, &payload) =>
        {
            room_list::spawn(gw, reply, a.clone(), payload)
        }
        (_, _, true, Target::Foreign(a)) if transfer::applies(gw, a, &payload) => {
            transfer::spawn(gw, reply, a.clone(), payload)
        }
        (_, _, false, Target::Foreign(a)) if details::applies(a, &reply.us, &payload) => {
            details::spawn(gw, reply, a.clone(), payload)
        }
        (xep0050::NS, "command", true, Target::Foreign(a)) if settings::applies(a) => {
            let address = a.clone();
            settings::spawn(gw, reply, address, payload);
        }
        (ns::REGISTER, "query", _, Target::Bridge) => {
            register::spawn(gw, reply, payload, set, String::new())
        }
        (ns::REGISTER, "query", _, Target::Foreign(a)) if a.kind == AddressKind::Network => {
            let scope = a.network.clone().unwrap_or_default();
            register::spawn(gw, reply, payload, set, scope);
        }
        _ => {
            let answer = answer(gw, &reply.them, payload, set, &target);
            reply.send(gw, answer);
        }
    }
}

/// The answer to a request that is answered at once.
fn answer(
    gw: &Gateway,
    them: &Jid,
    payload: Element,
    set: bool,
    target: &Target,
) -> Result<Option<Element>, StanzaError> {
    match (payload.ns().as_str(), payload.name(), set, target) {
        (ns::DISCO_INFO, "query", false, target) => disco_info(gw, payload, target),
        (ns::DISCO_ITEMS, "query", false, Target::Bridge)
            if payload.attr("node") == Some(xep0050::NS) =>
        {
            Ok(Some(commands::items(gw, them)))
        }
        (ns::DISCO_ITEMS, "query", false, Target::Foreign(a))
            if settings::applies(a) && payload.attr("node") == Some(xep0050::NS) =>
        {
            Ok(gw.jid_of(a).map(|jid| settings::items(&jid)))
        }
        (ns::DISCO_ITEMS, "query", false, Target::Bridge) => {
            let directory = gw.bridge.directory().into_iter();
            let items = directory.filter_map(|a| Some((a.name.clone(), gw.jid_of(&a)?)));
            Ok(Some(disco::named_items(items.collect())))
        }
        (ns::DISCO_ITEMS, "query", false, _) => Ok(Some(disco::items())),
        (ns::PING, "ping", false, Target::Bridge) => Ok(None),
        (ns::VERSION, "query", false, Target::Bridge) => Ok(Some(
            VersionResult {
                name: "ferry".into(),
                version: env!("CARGO_PKG_VERSION").into(),
                os: None,
            }
            .into(),
        )),
        (gateway_iq::NS, "query", _, Target::Bridge) => gateway_iq::answer(gw, &payload, set),
        // A roster push (XEP-0356 0.4) from a user's account, which only
        // their server can send: acknowledged; what it says reaches us as
        // presences too.
        (ns::ROSTER, "query", true, Target::Bridge)
            if them.node().is_some()
                && them.resource().is_none()
                && gw.rosters.granted(them.domain().as_str()) =>
        {
            Ok(None)
        }
        _ => Err(stanza_error::error(Condition::ServiceUnavailable, "")),
    }
}

/// disco#info of the bridge (a command's node, or the bridge itself) or
/// of a foreign address.
fn disco_info(
    gw: &Gateway,
    payload: Element,
    target: &Target,
) -> Result<Option<Element>, StanzaError> {
    let Ok(query) = DiscoInfoQuery::try_from(payload) else {
        return Err(stanza_error::error(
            Condition::BadRequest,
            "malformed disco#info query",
        ));
    };
    match (target, query.node.as_deref()) {
        (Target::Bridge, Some(node)) if !node.starts_with(disco::CAPS_NODE) => commands::info(node)
            .map(Some)
            .ok_or_else(|| stanza_error::error(Condition::ItemNotFound, "no such node")),
        (Target::Bridge, _) => Ok(Some(gw.disco.bridge_info(&query))),
        (Target::Foreign(a), Some(settings::NODE)) if settings::applies(a) => {
            Ok(commands::info(settings::NODE))
        }
        (Target::Foreign(a), _) => {
            let files = gw.bridge.takes_files();
            Ok(Some(disco::foreign_info(a.kind, &a.name, files)))
        }
    }
}
