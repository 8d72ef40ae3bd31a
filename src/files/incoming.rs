//! A contact's files, for the user: each uploaded and sent after the
//! message's text as its own message whose body is the link, with the same
//! link as XEP-0066 OOB data (what Conversations, Dino and Gajim show
//! inline). A file that cannot go that way stays listed in the text.

use ferry_bridge::{Address, Event, FileContent};
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::message::{Lang, Message, MessageType};
use xmpp_parsers::oob::Oob;

use super::human_size;
use crate::gateway::Gateway;

/// Links to send after a message: from whom, and the URLs.
pub struct Links {
    from: Address,
    urls: Vec<String>,
}

/// Uploads the files of a contact's message; those that stay behind are
/// listed at the end of its text. Returns the links to send after it.
pub async fn carry(gw: &Gateway, user: &BareJid, event: &mut Event) -> Option<Links> {
    let Event::DirectMessage { from, text } = event else {
        return None;
    };
    if text.files.is_empty() {
        return None;
    }
    let max = gw.files.max_size();
    let mut urls = Vec::new();
    let mut listed = Vec::new();
    for file in std::mem::take(&mut text.files) {
        let line = format!("[attachment: {}, {}]", file.name, human_size(file.size));
        if gw.files.service().is_none() {
            listed.push(line);
        } else if file.size > max {
            listed.push(format!(
                "{line} not forwarded: over the {} this gateway carries",
                human_size(max)
            ));
        } else {
            let body = match &file.content {
                FileContent::Bytes(data) => super::upload::from_memory(data),
                FileContent::Stored(id) => super::upload::from_store(gw, user, *id),
            };
            let (name, ctype) = (&file.name, &file.content_type);
            match super::upload::upload(gw, name, ctype, file.size, body).await {
                Ok(url) => urls.push(url),
                Err(e) => {
                    tracing::warn!(bridge = gw.name(), error = %e, "an attachment was not uploaded");
                    listed.push(format!("{line} not forwarded: {e}"));
                }
            }
        }
        if let FileContent::Stored(id) = file.content {
            let _ = gw.store.file_delete(gw.name(), &user.to_string(), id).await;
        }
    }
    if !listed.is_empty() {
        if !text.body.is_empty() {
            text.body.push_str("\n\n");
        }
        text.body.push_str(&listed.join("\n"));
    }
    (!urls.is_empty()).then(|| Links {
        from: from.clone(),
        urls,
    })
}

/// Sends the links, after the message they came with.
pub fn send(gw: &Gateway, user: &BareJid, links: Links) {
    let Some(from) = gw.speaking_jid(user, &links.from) else {
        return;
    };
    for url in links.urls {
        gw.send(link_message(from.clone(), Jid::from(user.clone()), url));
    }
}

fn link_message(from: Jid, to: Jid, url: String) -> Message {
    let mut m = Message::new_with_type(MessageType::Chat, Some(to));
    m.from = Some(from);
    m.bodies.insert(Lang::default(), url.clone());
    m.payloads.push(Oob { url, desc: None }.into());
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_message_is_body_and_oob() {
        let m = link_message(
            Jid::new("bob@mail.gw").unwrap(),
            Jid::new("alice@example.org").unwrap(),
            "https://up.example.org/a/report.pdf".into(),
        );
        assert_eq!(m.bodies[""], "https://up.example.org/a/report.pdf");
        let oob = Oob::try_from(m.payloads[0].clone()).unwrap();
        assert_eq!(oob.url, "https://up.example.org/a/report.pdf");
    }
}
