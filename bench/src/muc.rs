//! The MUC stanzas every workload's users send and wait for.

use tokio_xmpp::parsers::minidom::Element;

use crate::harness::client::ncname;

const MUC: &str = "http://jabber.org/protocol/muc";

/// A join without history from `from` (None: the client's own JID) to the
/// occupant JID `to`, in the stream namespace `ns`.
pub fn join(ns: &str, from: Option<&str>, to: &str) -> Element {
    presence(ns, from, to, None)
        .append(
            Element::builder("x", MUC)
                .append(Element::builder("history", MUC).attr(ncname("maxstanzas"), "0")),
        )
        .build()
}

/// The "settings" command making `room` always-on for `from` (ferry).
pub fn always_on(ns: &str, from: &str, room: &str) -> Element {
    let data = "jabber:x:data";
    let form = Element::builder("x", data)
        .attr(ncname("type"), "submit")
        .append(
            Element::builder("field", data)
                .attr(ncname("var"), "persistent")
                .append(Element::builder("value", data).append("true")),
        );
    let command = Element::builder("command", "http://jabber.org/protocol/commands")
        .attr(ncname("node"), "settings")
        .attr(ncname("action"), "execute")
        .append(form);
    Element::builder("iq", ns)
        .attr(ncname("type"), "set")
        .attr(ncname("id"), format!("ao-{from}"))
        .attr(ncname("from"), from)
        .attr(ncname("to"), room)
        .append(command)
        .build()
}

/// Leaving the room of the occupant JID `to`.
pub fn leave(ns: &str, from: Option<&str>, to: &str) -> Element {
    presence(ns, from, to, Some("unavailable")).build()
}

fn presence(
    ns: &str,
    from: Option<&str>,
    to: &str,
    type_: Option<&str>,
) -> tokio_xmpp::parsers::minidom::ElementBuilder {
    let mut p = Element::builder("presence", ns).attr(ncname("to"), to);
    if let Some(from) = from {
        p = p.attr(ncname("from"), from);
    }
    if let Some(type_) = type_ {
        p = p.attr(ncname("type"), type_);
    }
    p
}

/// The room's subject, which ends a join (XEP-0045 §7.2.15).
pub fn is_subject(el: &Element, ns: &str) -> bool {
    el.name() == "message" && el.get_child("subject", ns).is_some()
}
