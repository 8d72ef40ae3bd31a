//! File transfer from a user's client to a contact (XEP-0096 stream
//! initiation over XEP-0047 in-band bytestreams, the seed suite's file
//! transfer): the offer accepted with IBB, each block written to the store
//! as it comes, the file handed to the backend once closed and whole.

use std::time::Instant;

use ferry_bridge::{Address, File, FileContent};
use xmpp_parsers::jid::Jid;
use xmpp_parsers::minidom::Element;

pub use crate::file_state::Refusal;
pub use crate::file_state::NS_IBB;
use crate::file_state::{refusal, Transfer, Transfers, IDLE, PER_USER};
use crate::gateway::Gateway;
use crate::stanza_error::Condition;

pub const NS_SI: &str = "http://jabber.org/protocol/si";
pub const NS_FILE_TRANSFER: &str = "http://jabber.org/protocol/si/profile/file-transfer";
const NS_FEATURE_NEG: &str = "http://jabber.org/protocol/feature-neg";
const NS_DATA: &str = "jabber:x:data";

/// What an offer names: the stream id and the file.
#[derive(Debug)]
struct Offer {
    sid: String,
    name: String,
    content_type: String,
    size: u64,
}

fn parse_offer(si: &Element) -> Result<Offer, Refusal> {
    let bad = |text: &str| refusal(Condition::BadRequest, text);
    if si.attr("profile") != Some(NS_FILE_TRANSFER) {
        return Err(bad("only the file-transfer profile is taken"));
    }
    let sid = si.attr("id").filter(|s| !s.is_empty() && s.len() <= 128);
    let sid = sid.ok_or_else(|| bad("an offer without a stream id"))?;
    let file = si
        .get_child("file", NS_FILE_TRANSFER)
        .ok_or_else(|| bad("an offer without a file"))?;
    let size = file.attr("size").and_then(|s| s.parse().ok());
    let size = size.ok_or_else(|| bad("an offer without a size"))?;
    let url = format!("file:///{}", file.attr("name").unwrap_or(""));
    let name = reqwest::Url::parse(&url)
        .map(|u| super::fetch::file_name(&u))
        .unwrap_or_else(|_| "file".to_owned());
    let content_type = si
        .attr("mime-type")
        .filter(|t| t.contains('/') && !t.contains(char::is_whitespace) && t.len() < 128)
        .unwrap_or("application/octet-stream")
        .to_ascii_lowercase();
    let methods = si
        .get_child("feature", NS_FEATURE_NEG)
        .and_then(|f| f.get_child("x", NS_DATA))
        .into_iter()
        .flat_map(|x| x.children())
        .filter(|f| f.attr("var") == Some("stream-method"))
        .flat_map(|f| f.children())
        .filter(|o| o.name() == "option")
        .filter_map(|o| o.get_child("value", NS_DATA).map(|v| v.text()))
        .collect::<Vec<_>>();
    if !methods.iter().any(|m| m == NS_IBB) {
        return Err(bad(
            "in-band bytestreams (XEP-0047) are the only method taken",
        ));
    }
    Ok(Offer {
        sid: sid.to_owned(),
        name,
        content_type,
        size,
    })
}

/// The answer to an accepted offer: IBB chosen.
fn accepted() -> Element {
    let xml = format!(
        "<si xmlns='{NS_SI}'><feature xmlns='{NS_FEATURE_NEG}'>\
         <x xmlns='{NS_DATA}' type='submit'><field var='stream-method'>\
         <value>{NS_IBB}</value></field></x></feature></si>"
    );
    xml.parse().expect("a well-formed constant")
}

impl Transfers {
    /// Takes an offer from `from` to `contact`; the answer's payload.
    pub fn offer(
        &self,
        gw: &Gateway,
        from: &Jid,
        contact: Address,
        si: &Element,
    ) -> Result<Element, Refusal> {
        let offer = parse_offer(si)?;
        let max = gw.files.max_size();
        if offer.size > max {
            let text = format!("a file may have {max} bytes (max_attachment)");
            return Err((Condition::NotAcceptable, text));
        }
        let mut open = self.lock();
        // Transfers left idle are dropped (their unfinished files go with
        // the store's sweep of cut-off downloads).
        open.retain(|_, t| t.touched.elapsed() < IDLE);
        let user = from.to_bare();
        if open.keys().filter(|(f, _)| f.to_bare() == user).count() >= PER_USER {
            let text = "too many file transfers under way";
            return Err(refusal(Condition::ResourceConstraint, text));
        }
        open.insert(
            (from.clone(), offer.sid),
            Transfer {
                contact,
                name: offer.name,
                content_type: offer.content_type,
                size: offer.size,
                file: None,
                next_seq: 0,
                buffer: Vec::new(),
                chunks: 0,
                received: 0,
                touched: Instant::now(),
            },
        );
        Ok(accepted())
    }

    /// Opens the bytestream of an accepted offer.
    pub async fn open(
        &self,
        gw: &Gateway,
        from: &Jid,
        open: &xmpp_parsers::ibb::Open,
    ) -> Result<(), Refusal> {
        // A block size fits in 16 bits (XEP-0047's limit, by its type).
        if open.stanza != xmpp_parsers::ibb::Stanza::Iq {
            let text = "blocks in iq stanzas only";
            return Err(refusal(Condition::FeatureNotImplemented, text));
        }
        let key = (from.clone(), open.sid.0.clone());
        if self.lock().get(&key).is_none_or(|t| t.file.is_some()) {
            return Err(refusal(Condition::ItemNotFound, "no such offer"));
        }
        let id = gw
            .store
            .file_create(gw.name(), &from.to_bare().to_string())
            .await
            .map_err(|e| (Condition::InternalServerError, e.to_string()))?;
        match self.lock().get_mut(&key) {
            Some(t) => t.file = Some(id),
            None => return Err(refusal(Condition::ItemNotFound, "no such offer")),
        }
        Ok(())
    }

    /// Takes a block; a block out of order or past the size ends it.
    pub async fn data(
        &self,
        gw: &Gateway,
        from: &Jid,
        data: xmpp_parsers::ibb::Data,
    ) -> Result<(), Refusal> {
        let key = (from.clone(), data.sid.0.clone());
        let taken = self.take_block(&key, &data.data, data.seq);
        let (id, seq, full) = match taken {
            Ok(taken) => taken,
            Err(refused) => {
                if refused.0 != Condition::ItemNotFound {
                    self.abandon(gw, &key).await;
                }
                return Err(refused);
            }
        };
        if let Some(bytes) = full {
            if let Err(e) = gw.store.file_append(id, seq, &bytes).await {
                self.abandon(gw, &key).await;
                return Err((Condition::InternalServerError, e.to_string()));
            }
        }
        Ok(())
    }

    /// Ends a bytestream: the contact and the whole file.
    pub async fn close(
        &self,
        gw: &Gateway,
        from: &Jid,
        sid: &str,
    ) -> Result<(Address, File), Refusal> {
        let key = (from.clone(), sid.to_owned());
        let t = self.lock().remove(&key);
        let t = t.ok_or_else(|| refusal(Condition::ItemNotFound, "no such stream"))?;
        let Some(id) = t.file else {
            return Err(refusal(Condition::ItemNotFound, "no such stream"));
        };
        let user = from.to_bare().to_string();
        let written = async {
            if !t.buffer.is_empty() || t.chunks == 0 {
                gw.store.file_append(id, t.chunks, &t.buffer).await?;
            }
            gw.store.file_finish(id, t.received).await
        };
        if t.received != t.size || written.await.is_err() {
            let _ = gw.store.file_delete(gw.name(), &user, id).await;
            let text = format!("{} of {} bytes came", t.received, t.size);
            return Err((Condition::NotAcceptable, text));
        }
        let file = File {
            name: t.name,
            content_type: t.content_type,
            size: t.size,
            content: FileContent::Stored(id),
        };
        Ok((t.contact, file))
    }

    async fn abandon(&self, gw: &Gateway, key: &(Jid, String)) {
        let gone = self.lock().remove(key);
        if let Some(id) = gone.and_then(|t| t.file) {
            let user = key.0.to_bare().to_string();
            let _ = gw.store.file_delete(gw.name(), &user, id).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(methods: &[&str], size: &str) -> Element {
        let options: String = methods
            .iter()
            .map(|m| format!("<option><value>{m}</value></option>"))
            .collect();
        format!(
            "<si xmlns='{NS_SI}' id='s1' mime-type='application/pdf' profile='{NS_FILE_TRANSFER}'>\
             <file xmlns='{NS_FILE_TRANSFER}' name='../a/re port.pdf' size='{size}'/>\
             <feature xmlns='{NS_FEATURE_NEG}'><x xmlns='{NS_DATA}' type='form'>\
             <field var='stream-method' type='list-single'>{options}</field></x></feature></si>"
        )
        .parse()
        .unwrap()
    }

    #[test]
    fn offers_with_ibb_are_taken() {
        let o = parse_offer(&offer(
            &["http://jabber.org/protocol/bytestreams", NS_IBB],
            "300",
        ))
        .unwrap();
        assert_eq!(
            (o.sid.as_str(), o.name.as_str(), o.size),
            ("s1", "re port.pdf", 300)
        );
        assert_eq!(o.content_type, "application/pdf");
        let answer = accepted();
        let value = answer
            .get_child("feature", NS_FEATURE_NEG)
            .and_then(|f| f.get_child("x", NS_DATA))
            .and_then(|x| x.get_child("field", NS_DATA))
            .and_then(|f| f.get_child("value", NS_DATA))
            .map(|v| v.text());
        assert_eq!(value.as_deref(), Some(NS_IBB));
    }

    #[test]
    fn offers_without_ibb_or_size_are_refused() {
        let e = parse_offer(&offer(&["http://jabber.org/protocol/bytestreams"], "3")).unwrap_err();
        assert_eq!(e.0, Condition::BadRequest);
        assert!(parse_offer(&offer(&[NS_IBB], "many")).is_err());
    }
}
