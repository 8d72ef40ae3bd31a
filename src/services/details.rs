//! Contact details (SPEC §7): `vcard-temp`, `jabber:iq:last` and
//! `jabber:iq:version` to a contact or a room occupant are asked of the
//! user's session, which answers later with an event; an answer that has
//! not come within ten seconds is `remote-server-timeout`.

use std::sync::Arc;
use std::time::Duration;

use ferry_bridge::{Address, AddressKind, Card, Details, DetailsKind, Failure, Intent};
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::minidom::Element;
use xmpp_parsers::ns;
use xmpp_parsers::stanza_error::StanzaError;
use xmpp_parsers::vcard::VCard;
use xmpp_parsers::version::VersionResult;
use xso::{AsXml, FromXml};

use super::reply::Reply;
use crate::gateway::Gateway;
use crate::sessions::registry::{Asked, Refused};
use crate::stanza_error::{self, Condition};
use crate::stanzas::failure_condition;
use crate::xml_clean::clean;

/// XEP-0012 Last Activity.
pub const LAST: &str = "jabber:iq:last";

/// How long an answer may take (SPEC §7).
const TIMEOUT: Duration = Duration::from_secs(10);

/// XEP-0012's answer, which xmpp-parsers has no type for.
#[derive(FromXml, AsXml, Debug, Clone, PartialEq)]
#[xml(namespace = LAST, name = "query")]
pub struct LastActivity {
    #[xml(attribute)]
    pub seconds: u64,
}

/// The contact an iq to `to` (a contact's or an occupant's JID) asks
/// about, and what it asks; `None` when it is no such request.
fn request(address: &Address, to: &Jid, payload: &Element) -> Option<(Address, DetailsKind)> {
    let kind = match (payload.ns().as_str(), payload.name()) {
        (ns::VCARD, "vCard") => DetailsKind::Card,
        (LAST, "query") => DetailsKind::Idle,
        (ns::VERSION, "query") => DetailsKind::Software,
        _ => return None,
    };
    let contact = match (address.kind, to.resource()) {
        (AddressKind::Contact, _) => address.clone(),
        (AddressKind::Room, Some(nick)) => {
            Address::contact(address.network.as_deref(), nick.as_str())
        }
        _ => return None,
    };
    Some((contact, kind))
}

/// Whether an iq `get` to `to` asks for a contact's details.
pub fn applies(address: &Address, to: &Jid, payload: &Element) -> bool {
    request(address, to, payload).is_some()
}

/// Asks the user's session and answers when it does, or at the timeout.
pub fn spawn(gw: &Arc<Gateway>, reply: Reply, address: Address, payload: Element) {
    let Some((contact, kind)) = request(&address, &reply.us, &payload) else {
        return reply.send(gw, Err(stanza_error::error(Condition::BadRequest, "")));
    };
    let user = reply.them.to_bare();
    let id = gw.sessions.ask(Asked {
        us: reply.us,
        them: reply.them,
        id: reply.id,
        kind,
    });
    let intent = Intent::Details {
        contact,
        id: id.clone(),
        kind,
    };
    if let Err(refused) = gw.sessions.send(&user, intent) {
        let (condition, text) = match refused {
            Refused::Busy => (Condition::ResourceConstraint, "too many requests waiting"),
            // Sessions start with the user's presence to the gateway (or
            // a room join): without one there is no network to ask.
            Refused::Unsupported => (
                Condition::ServiceUnavailable,
                "not connected: register with this gateway and be online first",
            ),
        };
        return settle(gw, &user, &id, Err(stanza_error::error(condition, text)));
    }
    let gw = gw.clone();
    tokio::spawn(async move {
        tokio::time::sleep(TIMEOUT).await;
        let late = stanza_error::error(
            Condition::RemoteServerTimeout,
            "the network did not answer within 10 s",
        );
        settle(&gw, &user, &id, Err(late));
    });
}

/// A session's answer to the request `id` (nothing when it came too late).
pub fn answer(gw: &Gateway, user: &BareJid, id: &str, result: Result<Details, (Failure, String)>) {
    let answer = match result {
        Ok(details) => Ok(details),
        Err((failure, text)) => Err(stanza_error::error(failure_condition(failure), &text)),
    };
    settle(gw, user, id, answer);
}

/// Answers the request `id` of `user` if it still waits.
fn settle(gw: &Gateway, user: &BareJid, id: &str, answer: Result<Details, StanzaError>) {
    let Some(asked) = gw.sessions.answered(user, id) else {
        return;
    };
    let answer = answer.and_then(|details| {
        payload(asked.kind, details).ok_or_else(|| {
            stanza_error::error(
                Condition::InternalServerError,
                "the network answered another question",
            )
        })
    });
    let reply = Reply {
        us: asked.us,
        them: asked.them,
        id: asked.id,
    };
    reply.send(gw, answer.map(Some));
}

/// The payload answering `kind` with `details`; `None` when they differ.
fn payload(kind: DetailsKind, details: Details) -> Option<Element> {
    let cleaned = |text: String| clean(&text).into_owned();
    match (kind, details) {
        (DetailsKind::Card, Details::Card(card)) => Some(vcard(&card).into()),
        (DetailsKind::Idle, Details::Idle(seconds)) => Some(LastActivity { seconds }.into()),
        (DetailsKind::Software, Details::Software { name, version, os }) => Some(
            VersionResult {
                name: cleaned(name),
                version: version.map(cleaned).unwrap_or_default(),
                os: os.map(cleaned),
            }
            .into(),
        ),
        _ => None,
    }
}

/// A vcard-temp card: xmpp-parsers' `VCard` types only the photo, so the
/// text fields are its other payloads.
fn vcard(card: &Card) -> VCard {
    let text = |name: &str, value: &str| {
        Element::builder(name, ns::VCARD)
            .append(clean(value).into_owned())
            .build()
    };
    let fields = [
        ("FN", &card.full_name),
        ("NICKNAME", &card.nick),
        ("NOTE", &card.note),
    ];
    let mut payloads: Vec<Element> = fields
        .iter()
        .filter_map(|(name, value)| Some(text(name, value.as_deref()?)))
        .collect();
    if let Some(email) = &card.email {
        // XEP-0054's EMAIL: the kind of address, then the address.
        payloads.push(
            Element::builder("EMAIL", ns::VCARD)
                .append(Element::builder("INTERNET", ns::VCARD))
                .append(text("USERID", email))
                .build(),
        );
    }
    VCard {
        photo: None,
        payloads,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jid(s: &str) -> Jid {
        Jid::new(s).unwrap()
    }

    #[test]
    fn requests_name_a_contact_or_an_occupant() {
        let vcard: Element = "<vCard xmlns='vcard-temp'/>".parse().unwrap();
        let last: Element = "<query xmlns='jabber:iq:last'/>".parse().unwrap();
        let contact = Address::contact(Some("irc.example"), "bob");
        let room = Address::room(Some("irc.example"), "#chan");
        assert_eq!(
            request(&contact, &jid("bob%irc.example@gw"), &vcard),
            Some((contact.clone(), DetailsKind::Card))
        );
        assert_eq!(
            request(&room, &jid("#chan%irc.example@gw/bob"), &last),
            Some((contact, DetailsKind::Idle))
        );
        // The room itself has no card here; nor does a network.
        assert_eq!(request(&room, &jid("#chan%irc.example@gw"), &vcard), None);
        let network = Address::network("irc.example");
        assert_eq!(request(&network, &jid("irc.example@gw"), &vcard), None);
        let ping: Element = "<ping xmlns='urn:xmpp:ping'/>".parse().unwrap();
        assert!(!applies(&room, &jid("#chan%irc.example@gw/bob"), &ping));
    }

    #[test]
    fn answers_match_the_question() {
        let card = Card {
            full_name: Some("bob".into()),
            note: Some("Real name: Bob\u{1}".into()),
            email: Some("bob@example.com".into()),
            ..Card::default()
        };
        let el = payload(DetailsKind::Card, Details::Card(card)).unwrap();
        assert!(el.is("vCard", ns::VCARD));
        assert_eq!(el.get_child("FN", ns::VCARD).unwrap().text(), "bob");
        assert!(el.get_child("NICKNAME", ns::VCARD).is_none());
        assert_eq!(
            el.get_child("NOTE", ns::VCARD).unwrap().text(),
            "Real name: Bob"
        );
        let email = el.get_child("EMAIL", ns::VCARD).unwrap();
        assert_eq!(
            email.get_child("USERID", ns::VCARD).unwrap().text(),
            "bob@example.com"
        );

        let el = payload(DetailsKind::Idle, Details::Idle(42)).unwrap();
        assert_eq!(LastActivity::try_from(el).unwrap().seconds, 42);

        let software = Details::Software {
            name: "irssi v1.4".into(),
            version: None,
            os: None,
        };
        let el = payload(DetailsKind::Software, software).unwrap();
        let version = VersionResult::try_from(el).unwrap();
        assert_eq!(version.name, "irssi v1.4");
        assert_eq!(version.os, None);

        assert_eq!(payload(DetailsKind::Card, Details::Idle(1)), None);
    }
}
