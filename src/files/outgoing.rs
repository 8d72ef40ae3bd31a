//! A file the user sends: an XEP-0066 link in their message. A backend
//! that takes files (mail) gets it fetched into the store and attached; any
//! other gets the link in the text.

use ferry_bridge::{FileContent, Text};
use xmpp_parsers::jid::BareJid;
use xmpp_parsers::message::Message;
use xmpp_parsers::ns;
use xmpp_parsers::oob::Oob;

use crate::gateway::Gateway;
use crate::stanza_error::Condition;

/// The link a message carries as its file, if any.
pub fn link(message: &Message) -> Option<String> {
    let el = message
        .payloads
        .iter()
        .find(|p| p.is("x", ns::OOB))?
        .clone();
    Oob::try_from(el)
        .ok()
        .map(|oob| oob.url)
        .filter(|u| !u.trim().is_empty())
}

/// The link as text, for a backend without files: the body, then the
/// link on its own line unless the body is the link already.
pub fn as_text(text: &mut Text, url: &str) {
    if text.body.trim() == url.trim() {
        return;
    }
    if !text.body.is_empty() {
        text.body.push('\n');
    }
    text.body.push_str(url);
    // The styles cover the body as it was; the link line has none.
    text.styled = None;
}

/// Fetches the file a link names into the store and puts it in `text`,
/// whose body then no longer holds the link. On a refusal: the error the
/// message gets.
pub async fn attach(
    gw: &Gateway,
    user: &BareJid,
    url: &str,
    text: &mut Text,
) -> Result<(), (Condition, String)> {
    let checked = super::fetch::allowed(gw, url).map_err(|e| e.condition())?;
    let file = super::fetch::fetch(gw, user, checked)
        .await
        .map_err(|e| e.condition())?;
    let body = text.body.trim();
    if body == url.trim() {
        text.body.clear();
    } else if let Some(rest) = body.strip_suffix(url.trim()) {
        // Clients put the link after what the user wrote.
        text.body = rest.trim_end().to_owned();
    }
    text.styled = None;
    text.files.push(file);
    Ok(())
}

/// Deletes the stored files of a message no session took.
pub async fn let_go(gw: &Gateway, user: &BareJid, text: &Text) {
    for file in &text.files {
        if let FileContent::Stored(id) = file.content {
            let _ = gw.store.file_delete(gw.name(), &user.to_string(), id).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_as_text() {
        let url = "https://up.example.org/a/cat.jpg";
        let mut t = Text {
            body: url.into(),
            ..Text::default()
        };
        as_text(&mut t, url);
        assert_eq!(t.body, url);
        let mut t = Text {
            body: "look".into(),
            ..Text::default()
        };
        as_text(&mut t, url);
        assert_eq!(t.body, format!("look\n{url}"));
    }

    #[test]
    fn only_an_oob_url_is_a_link() {
        let mut m = Message::new(None);
        assert_eq!(link(&m), None);
        m.payloads.push(
            Oob {
                url: "https://h/x.png".into(),
                desc: None,
            }
            .into(),
        );
        assert_eq!(link(&m).as_deref(), Some("https://h/x.png"));
    }
}
