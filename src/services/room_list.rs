//! The room list (SPEC §10): disco#items on a network JID answers that
//! network's channels from IRC `LIST`, asked through the user's session,
//! kept ten minutes for every user of the bridge, paged with RSM
//! (XEP-0059). Without a session on that network, the rooms the user is in.

use std::sync::Arc;
use std::time::Duration;

use ferry_bridge::{Address, AddressKind, Failure, Intent, RoomInfo};
use xmpp_parsers::disco::{DiscoItemsQuery, DiscoItemsResult, Item};
use xmpp_parsers::jid::Jid;
use xmpp_parsers::minidom::Element;
use xmpp_parsers::rsm::{First, SetQuery, SetResult};
use xmpp_parsers::stanza_error::StanzaError;

use super::reply::Reply;
use crate::gateway::Gateway;
use crate::sessions::registry::Refused;
use crate::stanza_error::{self, Condition};
use crate::stanzas::failure_condition;
use crate::xml_clean::clean;

/// How long a network may take to list its channels.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Characters of a topic shown in an item's name.
const TOPIC_CHARS: usize = 80;

/// Whether a disco#items query is for a network's room list.
pub fn applies(address: &Address, payload: &Element) -> bool {
    address.kind == AddressKind::Network && payload.attr("node").is_none()
}

pub fn spawn(gw: &Arc<Gateway>, reply: Reply, address: Address, payload: Element) {
    let gw = gw.clone();
    tokio::spawn(async move {
        let answer = list(&gw, &reply.them, address, payload).await;
        reply.send(&gw, answer.map(Some));
    });
}

async fn list(
    gw: &Gateway,
    them: &Jid,
    address: Address,
    payload: Element,
) -> Result<Element, StanzaError> {
    let query = DiscoItemsQuery::try_from(payload)
        .map_err(|_| stanza_error::error(Condition::BadRequest, "malformed disco#items"))?;
    let network = address.network.clone().unwrap_or_default();
    let rooms = match gw.room_lists.fresh(&network) {
        Some(rooms) => rooms,
        None => match ask(gw, them, &network).await? {
            Some(rooms) => rooms,
            None => return Ok(joined(gw, them, &network)),
        },
    };
    Ok(page(gw, &rooms, query.rsm))
}

/// Asks the user's session for the list; `None` when the user has no
/// connection to that network to ask with.
async fn ask(
    gw: &Gateway,
    them: &Jid,
    network: &str,
) -> Result<Option<Arc<Vec<RoomInfo>>>, StanzaError> {
    let (id, answer) = gw.room_lists.waiting.open("list");
    let intent = Intent::ListRooms {
        network: network.to_owned(),
        id: id.clone(),
    };
    match gw.sessions.send(&them.to_bare(), intent) {
        Ok(()) => {}
        Err(Refused::Unsupported) => {
            gw.room_lists.waiting.close(&id);
            return Ok(None);
        }
        Err(Refused::Busy) => {
            gw.room_lists.waiting.close(&id);
            let text = "too many requests waiting";
            return Err(stanza_error::error(Condition::ResourceConstraint, text));
        }
    }
    let answered = tokio::time::timeout(TIMEOUT, answer).await;
    gw.room_lists.waiting.close(&id);
    match answered {
        Ok(Ok(Ok(mut rooms))) => {
            // The busiest first, as clients show a long list.
            rooms.sort_by(|a, b| b.users.cmp(&a.users).then(a.room.name.cmp(&b.room.name)));
            let rooms = Arc::new(rooms);
            gw.room_lists.keep(network, rooms.clone());
            Ok(Some(rooms))
        }
        Ok(Ok(Err((Failure::ItemNotFound, _)))) => Ok(None),
        Ok(Ok(Err((failure, text)))) => Err(stanza_error::error(failure_condition(failure), &text)),
        Ok(Err(_)) | Err(_) => Err(stanza_error::error(
            Condition::RemoteServerTimeout,
            "the network did not list its channels within 30 s",
        )),
    }
}

/// The rooms of `network` the user is in (what a user without a
/// connection there is shown).
fn joined(gw: &Gateway, them: &Jid, network: &str) -> Element {
    let rooms = gw.rooms.joined_on(&them.to_bare(), network);
    let items = rooms.into_iter().map(|(n, j)| (n, j.into())).collect();
    super::disco::named_items(items)
}

/// One page of the list, as RSM asks for it.
fn page(gw: &Gateway, rooms: &[RoomInfo], rsm: Option<SetQuery>) -> Element {
    let items: Vec<Item> = rooms
        .iter()
        .filter_map(|room| {
            let jid = gw.jid_of(&room.room)?;
            Some(Item {
                jid,
                node: None,
                name: Some(item_name(room)),
            })
        })
        .collect();
    let count = items.len();
    let (start, end) = window(&items, rsm.as_ref());
    let page = items[start..end].to_vec();
    let rsm = rsm.map(|_| SetResult {
        first: page.first().map(|i| First {
            index: Some(start),
            item: i.jid.to_string(),
        }),
        last: page.last().map(|i| i.jid.to_string()),
        count: Some(count),
    });
    DiscoItemsResult {
        node: None,
        items: page,
        rsm,
    }
    .into()
}

/// The slice `[start, end)` of `items` a query asks for.
fn window(items: &[Item], rsm: Option<&SetQuery>) -> (usize, usize) {
    let Some(rsm) = rsm else {
        return (0, items.len());
    };
    let position = |key: &str| items.iter().position(|i| i.jid.as_str() == key);
    let max = rsm.max.unwrap_or(items.len());
    if let Some(before) = &rsm.before {
        let end = if before.is_empty() {
            items.len()
        } else {
            position(before).unwrap_or(0)
        };
        return (end.saturating_sub(max), end);
    }
    let start = match (&rsm.after, rsm.index) {
        (Some(after), _) => position(after).map_or(items.len(), |p| p + 1),
        (None, Some(index)) => index.min(items.len()),
        (None, None) => 0,
    };
    (start, (start + max).min(items.len()))
}

/// `#rust (42) The Rust language`: the name a client shows.
fn item_name(room: &RoomInfo) -> String {
    let mut topic: String = room.topic.chars().take(TOPIC_CHARS).collect();
    if topic.len() < room.topic.len() {
        topic.push('…');
    }
    let name = if topic.is_empty() {
        format!("{} ({})", room.room.name, room.users)
    } else {
        format!("{} ({}) {topic}", room.room.name, room.users)
    };
    clean(&name).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(n: usize) -> Vec<Item> {
        (0..n)
            .map(|i| Item {
                jid: Jid::new(&format!("#c{i}%h@irc.gw")).unwrap(),
                node: None,
                name: None,
            })
            .collect()
    }

    fn query(max: usize, after: Option<&str>, before: Option<&str>) -> SetQuery {
        SetQuery {
            max: Some(max),
            after: after.map(str::to_owned),
            before: before.map(str::to_owned),
            index: None,
        }
    }

    #[test]
    fn pages_go_forward_and_back() {
        let all = items(25);
        assert_eq!(window(&all, None), (0, 25));
        assert_eq!(window(&all, Some(&query(10, None, None))), (0, 10));
        assert_eq!(
            window(&all, Some(&query(10, Some("#c9%h@irc.gw"), None))),
            (10, 20)
        );
        assert_eq!(
            window(&all, Some(&query(10, Some("#c19%h@irc.gw"), None))),
            (20, 25)
        );
        assert_eq!(window(&all, Some(&query(10, None, Some("")))), (15, 25));
        assert_eq!(
            window(&all, Some(&query(10, None, Some("#c15%h@irc.gw")))),
            (5, 15)
        );
        let gone = query(10, Some("#nope%h@irc.gw"), None);
        assert_eq!(window(&all, Some(&gone)), (25, 25));
    }

    #[test]
    fn names_show_users_and_topic() {
        let room = RoomInfo {
            room: Address::room(Some("h"), "#rust"),
            users: 42,
            topic: "t".repeat(100),
        };
        let name = item_name(&room);
        assert!(
            name.starts_with("#rust (42) ttt") && name.ends_with('…'),
            "{name}"
        );
    }
}
