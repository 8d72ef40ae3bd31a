//! Stanzas and exchanges the end-to-end tests share.

use tokio_xmpp::parsers::data_forms::{DataForm, DataFormType, Field};
use tokio_xmpp::parsers::disco::{DiscoInfoQuery, DiscoInfoResult};
use tokio_xmpp::parsers::minidom::Element;

use super::client::{ncname, presence_from, result, TestClient, NS};

pub async fn disco_info(c: &mut TestClient, to: &str, node: Option<String>) -> DiscoInfoResult {
    let iq = c.iq(to, false, DiscoInfoQuery { node }.into()).await;
    DiscoInfoResult::try_from(result(iq).unwrap()).unwrap()
}

pub fn register_form(pairs: &[(&str, &str)]) -> Element {
    let fields = pairs
        .iter()
        .map(|(var, value)| Field::text_single(var, value))
        .collect();
    let form = DataForm::new(DataFormType::Submit, "jabber:iq:register", fields);
    Element::builder("query", "jabber:iq:register")
        .append(Element::from(form))
        .build()
}

pub fn query(ns: &str) -> Element {
    Element::builder("query", ns).build()
}

pub fn stanza(name: &str, attrs: &[(&str, &str)], children: Vec<Element>) -> Element {
    let mut b = Element::builder(name, NS);
    for (k, v) in attrs {
        b = b.attr(ncname(k), *v);
    }
    b.append_all(children).build()
}

pub fn body(text: &str) -> Element {
    Element::builder("body", NS).append(text).build()
}

/// Registers on `gateway` and completes the XEP-0100 dance; returns the
/// gateway's presence that follows its approval.
pub async fn register_and_subscribe(
    c: &mut TestClient,
    gateway: &str,
    form: &[(&str, &str)],
) -> Element {
    result(c.iq(gateway, true, register_form(form)).await);
    c.expect("subscribe from the gateway", |s| {
        presence_from(s, gateway, Some("subscribe"))
    })
    .await;
    c.presence(Some(gateway), Some("subscribed")).await;
    c.presence(Some(gateway), Some("subscribe")).await;
    c.expect("the gateway's presence", |s| {
        presence_from(s, gateway, None)
    })
    .await
}

/// The network JID of the harness's IRC server.
pub const IRC_NET: &str = "127.0.0.1@irc.localhost";

/// `user` (password "pw") registers `nick` on the IRC bridge, comes online
/// and waits until the network JID says the connection is up; returns the
/// client and that presence.
pub async fn online_on_irc(w: &super::World, user: &str, nick: &str) -> (TestClient, Element) {
    let mut c = TestClient::connect(user, "localhost", "pw", w.xmpp.c2s).await;
    c.available().await;
    register_and_subscribe(&mut c, super::IRC, &[("nick", nick)]).await;
    let connected = connected_on_irc(&mut c).await;
    (c, connected)
}

/// Waits until the network JID says the connection is up; returns that
/// presence.
pub async fn connected_on_irc(c: &mut TestClient) -> Element {
    c.expect("connected on the network JID", |el| {
        presence_from(el, IRC_NET, None)
            && el
                .get_child("status", NS)
                .is_some_and(|s| s.text().starts_with("Connected"))
    })
    .await
}

/// The status codes of a MUC presence.
pub fn muc_statuses(el: &Element) -> Vec<String> {
    el.get_child("x", "http://jabber.org/protocol/muc#user")
        .map(|x| {
            x.children()
                .filter(|c| c.name() == "status")
                .filter_map(|c| c.attr("code").map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
