//! A user's room history: `<history/>` on join and XEP-0313 queries, both
//! answered from the user's own archive (what their connection received
//! while they were in the room; nobody reads another user's).

use std::sync::Arc;

use ferry_bridge::Text;
use xmpp_parsers::date::DateTime;
use xmpp_parsers::delay::Delay;
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::mam::{Fin, Query};
use xmpp_parsers::message::{Message, MessageType};
use xmpp_parsers::minidom::Element;
use xmpp_parsers::muc::muc::History;
use xmpp_parsers::muc::user::Status;
use xmpp_parsers::ns;
use xmpp_parsers::presence::Type;
use xmpp_parsers::rsm::{First, SetResult};
use xmpp_parsers::stanza_error::StanzaError;
use xmpp_parsers::stanza_id::StanzaId;

use super::away;
use super::stanzas::{self, occupant};
use crate::gateway::Gateway;
use crate::rooms::Room;
use crate::stanza_error::{self, Condition};
use crate::store::{Archived, Filter};

/// History sent on join when the client does not say.
const DEFAULT_HISTORY: usize = 20;
/// The largest MAM page.
const MAX_PAGE: usize = 250;

fn micros(date: &DateTime) -> i64 {
    date.0.timestamp_micros()
}

fn stamp(seq: i64) -> DateTime {
    let time = chrono::DateTime::from_timestamp_micros(seq).unwrap_or_default();
    DateTime(time.fixed_offset())
}

/// The archived message as the room sent it, with its archive id.
fn archived_message(room: &BareJid, row: &Archived, to: Option<Jid>) -> Option<Message> {
    let from = occupant(room, &row.nick)?;
    let text = Text {
        body: row.body.clone(),
        action: row.action,
        ..Text::default()
    };
    let mut m = crate::stanzas::message(from, to.unwrap_or_else(|| Jid::from(room.clone())), &text);
    m.type_ = MessageType::Groupchat;
    m.payloads.push(
        StanzaId {
            id: row.seq.to_string(),
            by: Jid::from(room.clone()),
        }
        .into(),
    );
    Some(m)
}

/// Sends the history a join asked for, then the subject: the subject ends
/// the join for clients, so it always comes last.
pub async fn send_history_then_subject(
    gw: Arc<Gateway>,
    user: BareJid,
    room: BareJid,
    key: String,
    to: Jid,
    history: Option<History>,
    subject: Message,
) {
    let limit = history
        .as_ref()
        .and_then(|h| h.maxstanzas)
        .map(|n| n as usize)
        .unwrap_or(DEFAULT_HISTORY)
        .min(MAX_PAGE);
    let maxchars = history
        .as_ref()
        .and_then(|h| h.maxchars)
        .map(|n| n as usize);
    let wanted = limit > 0 && maxchars != Some(0);
    let mut messages = Vec::new();
    if wanted {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as i64)
            .unwrap_or(0);
        let start = history.as_ref().and_then(|h| {
            let by_seconds = h.seconds.map(|s| now - i64::from(s) * 1_000_000);
            let by_since = h.since.as_ref().map(micros);
            by_seconds.into_iter().chain(by_since).max()
        });
        let filter = Filter {
            start,
            last_page: true,
            max: limit,
            ..Filter::default()
        };
        gw.archiver.flush().await;
        match gw
            .store
            .archive_query(gw.name(), user.as_str(), &key, &filter)
            .await
        {
            Ok((rows, _)) => {
                let mut budget = maxchars.unwrap_or(usize::MAX);
                let mut keep = rows.len();
                for (i, row) in rows.iter().enumerate().rev() {
                    if row.body.len() > budget {
                        break;
                    }
                    budget -= row.body.len();
                    keep = i;
                }
                for row in &rows[keep..] {
                    if let Some(mut m) = archived_message(&room, row, Some(to.clone())) {
                        m.payloads.push(
                            Delay {
                                from: Some(Jid::from(room.clone())),
                                stamp: stamp(row.seq),
                                data: None,
                            }
                            .into(),
                        );
                        messages.push(m);
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot read the archive for history"),
        }
    }
    // Part of the join: like a foreign event, it waits for room rather
    // than losing the subject that tells the client it is in.
    gw.out.wait_room(user.as_str()).await;
    crate::component::admitted(|| {
        for m in messages {
            gw.send(m);
        }
        gw.send(subject);
    });
}

fn field<'a>(query: &'a Query, var: &str) -> Option<&'a str> {
    query
        .form
        .as_ref()?
        .fields
        .iter()
        .find(|f| f.var.as_deref() == Some(var))?
        .values
        .first()
        .map(String::as_str)
}

fn bad(text: &str) -> StanzaError {
    stanza_error::error(Condition::BadRequest, text)
}

fn filter_of(query: &Query, room: &BareJid) -> Result<Filter, StanzaError> {
    let time = |var: &str| -> Result<Option<i64>, StanzaError> {
        field(query, var)
            .map(|v| {
                v.parse::<DateTime>()
                    .map(|d| micros(&d))
                    .map_err(|_| bad(&format!("{var}: not a date")))
            })
            .transpose()
    };
    let nick = match field(query, "with") {
        None => None,
        Some(with) => {
            let jid: Jid = with.parse().map_err(|_| bad("with: not a JID"))?;
            if jid.to_bare() != *room {
                return Err(bad("with: not an occupant of this room"));
            }
            jid.resource().map(|r| r.to_string())
        }
    };
    let id = |v: &str| {
        v.parse::<i64>()
            .map_err(|_| stanza_error::error(Condition::ItemNotFound, "no such archive id"))
    };
    let set = query.set.as_ref();
    let max = set.and_then(|s| s.max).unwrap_or(MAX_PAGE).min(MAX_PAGE);
    let before = set.and_then(|s| s.before.as_deref());
    Ok(Filter {
        start: time("start")?,
        end: time("end")?,
        nick,
        after: set.and_then(|s| s.after.as_deref()).map(id).transpose()?,
        // An empty <before/> asks for the last page.
        before: before.filter(|b| !b.is_empty()).map(id).transpose()?,
        last_page: before.is_some(),
        max,
    })
}

/// The element with our stream's namespace replaced by jabber:client, for
/// a stanza carried inside another. Only the root declares the default
/// namespace (its children inherit it), so the first occurrence in the
/// serialised form is that declaration.
fn client_namespace(el: Element) -> Element {
    let xml = String::from(&el).replacen(ns::COMPONENT, "jabber:client", 1);
    xml.parse().unwrap_or(el)
}

/// Answers a XEP-0313 query on a room: the result messages, then `fin`.
pub async fn query(
    gw: &Gateway,
    user: &BareJid,
    to: &Jid,
    room: &BareJid,
    key: &str,
    payload: Element,
) -> Result<Option<Element>, StanzaError> {
    let query = Query::try_from(payload).map_err(|_| bad("malformed MAM query"))?;
    let filter = filter_of(&query, room)?;
    gw.archiver.flush().await;
    let (rows, complete) = gw
        .store
        .archive_query(gw.name(), user.as_str(), key, &filter)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "archive query failed");
            stanza_error::error(Condition::InternalServerError, "")
        })?;
    // A page is asked for whole: it waits for room rather than arriving
    // with holes.
    gw.out.wait_room(user.as_str()).await;
    let mut page = Vec::with_capacity(rows.len());
    for row in &rows {
        let Some(inner) = archived_message(room, row, None) else {
            continue;
        };
        let delay = Delay {
            from: None,
            stamp: stamp(row.seq),
            data: None,
        };
        // Built by hand: xmpp-parsers' `Forwarded` would serialise the
        // inner message in our stream's namespace (jabber:component:accept)
        // where XEP-0297 wants jabber:client.
        let forwarded = Element::builder("forwarded", ns::FORWARD)
            .append(Element::from(delay))
            .append(client_namespace(Element::from(inner)))
            .build();
        let mut result = Element::builder("result", ns::MAM)
            .attr(crate::xml_name::ncname("id"), row.seq.to_string());
        if let Some(queryid) = &query.queryid {
            result = result.attr(crate::xml_name::ncname("queryid"), queryid.0.as_str());
        }
        // Type normal, to the asking resource only: a `chat` result would
        // be copied by the server's carbons to the user's other clients.
        let mut m = Message::normal(Some(to.clone()));
        m.from = Some(Jid::from(room.clone()));
        m.payloads.push(result.append(forwarded).build());
        page.push(m);
    }
    crate::component::admitted(|| page.into_iter().for_each(|m| gw.send(m)));
    let set = SetResult {
        first: rows.first().map(|r| First {
            index: None,
            item: r.seq.to_string(),
        }),
        last: rows.last().map(|r| r.seq.to_string()),
        count: None,
    };
    Ok(Some(Fin { complete, set }.into()))
}

/// Sends the room's state to one resource, in XEP-0045's order: the other
/// occupants, the self-presence, the history, then the subject (always,
/// empty when there is none: clients take it as the end of the join).
/// The history is read from the archive by a task: its handle, for a
/// caller whose next lines must come after it.
pub fn send_state(
    gw: &Arc<Gateway>,
    user: &BareJid,
    room: &Room,
    to: &Jid,
    history: Option<History>,
) -> Option<tokio::task::JoinHandle<()>> {
    for (nick, standing) in &room.occupants {
        if away::of(room, nick).is_some() {
            away::send(gw, room, nick, to);
        } else if let Some(from) = stanzas::occupant_text(&room.jid, nick) {
            stanzas::send_occupant(gw, &from, to, false, *standing);
        }
    }
    let mut statuses = vec![Status::SelfPresence, Status::ConfigRoomLoggingEnabled];
    if room.renamed {
        statuses.push(Status::AssignedNick);
    }
    if let Some(from) = occupant(&room.jid, &room.nick) {
        gw.send(stanzas::presence(
            from,
            to.clone(),
            Type::None,
            room.own,
            statuses,
            |i| i,
        ));
    }
    let (by, text) = room
        .subject
        .as_ref()
        .map(|(by, text)| (by.as_deref(), text.as_str()))
        .unwrap_or((None, ""));
    let subject = stanzas::subject(&room.jid, by, to.clone(), text);
    let key = gw.room_key(&room.address)?;
    Some(tokio::spawn(send_history_then_subject(
        gw.clone(),
        user.clone(),
        room.jid.clone(),
        key,
        to.clone(),
        history,
        subject,
    )))
}
