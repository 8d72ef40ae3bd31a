//! File transfer to a contact (XEP-0096 over XEP-0047), as the seed suite
//! sends one: the offer, the bytestream's open, blocks and close, each
//! answered in the user's lane so blocks are taken in the order they came;
//! the closed file goes to the session like a message holding it.

use std::sync::Arc;

use ferry_bridge::{Address, AddressKind, Text};
use xmpp_parsers::ibb::{Close, Data, Open};
use xmpp_parsers::minidom::Element;

use super::reply::Reply;
use crate::files::transfers::{NS_IBB, NS_SI};
use crate::gateway::Gateway;
use crate::stanza_error;

/// Whether a request is part of a file transfer this bridge takes.
pub fn applies(gw: &Gateway, address: &Address, payload: &Element) -> bool {
    gw.bridge.takes_files()
        && address.kind == AddressKind::Contact
        && (payload.is("si", NS_SI) || payload.ns() == NS_IBB)
}

/// Answers one transfer request, after the user's earlier ones.
pub fn spawn(gw: &Arc<Gateway>, reply: Reply, address: Address, payload: Element) {
    let lane = gw.clone();
    gw.lanes.run(&reply.them.to_bare(), async move {
        let gw = lane;
        let answer = step(&gw, &reply, address, payload).await;
        let answer = answer.map_err(|(condition, text)| stanza_error::error(condition, &text));
        reply.send(&gw, answer);
    });
}

async fn step(
    gw: &Arc<Gateway>,
    reply: &Reply,
    address: Address,
    payload: Element,
) -> Result<Option<Element>, crate::files::transfers::Refusal> {
    let transfers = &gw.files.transfers;
    let bad =
        |e: xso::error::FromElementError| (stanza_error::Condition::BadRequest, e.to_string());
    let from = &reply.them;
    if !gw.allowed(from) {
        let text = "your server may not use this gateway";
        return Err((stanza_error::Condition::Forbidden, text.into()));
    }
    match payload.name() {
        "si" => {
            // A file is taken only from a user who can then send it.
            let admitted = super::message::admit(gw, &from.to_bare()).await;
            admitted.map_err(|(condition, text)| (condition, text.to_owned()))?;
            transfers.offer(gw, from, address, &payload).map(Some)
        }
        "open" => {
            let open = Open::try_from(payload).map_err(bad)?;
            transfers.open(gw, from, &open).await.map(|()| None)
        }
        "data" => {
            let data = Data::try_from(payload).map_err(bad)?;
            transfers.data(gw, from, data).await.map(|()| None)
        }
        "close" => {
            let close = Close::try_from(payload).map_err(bad)?;
            let (contact, file) = transfers.close(gw, from, &close.sid.0).await?;
            let text = Text {
                files: vec![file],
                ..Text::default()
            };
            let to = reply.us.to_bare().into();
            let handed = match super::message::admit(gw, &from.to_bare()).await {
                Ok(()) => super::message::hand_over(gw, from, &to, contact, text).await,
                Err(refused) => {
                    crate::files::outgoing::let_go(gw, &from.to_bare(), &text).await;
                    Err(refused)
                }
            };
            handed.map_err(|(condition, text)| (condition, text.to_owned()))?;
            Ok(None)
        }
        _ => Err((
            stanza_error::Condition::FeatureNotImplemented,
            "only in-band bytestreams over iq".into(),
        )),
    }
}
