//! XEP-0050 ad-hoc commands payloads. xmpp-parsers lacks them, so they are
//! our own xso types, written the way xmpp-parsers writes its XEPs.

use xmpp_parsers::data_forms::DataForm;
use xso::{AsXml, FromXml};

pub const NS: &str = "http://jabber.org/protocol/commands";

/// `<actions/>`: what the requester may do next.
#[derive(FromXml, AsXml, Debug, Clone, PartialEq, Default)]
#[xml(namespace = NS, name = "actions")]
pub struct Actions {
    #[xml(attribute(default))]
    pub execute: Option<String>,
    #[xml(flag)]
    pub prev: bool,
    #[xml(flag)]
    pub next: bool,
    #[xml(flag)]
    pub complete: bool,
}

/// `<note type='info|warn|error'>`.
#[derive(FromXml, AsXml, Debug, Clone, PartialEq)]
#[xml(namespace = NS, name = "note")]
pub struct Note {
    #[xml(attribute(name = "type", default))]
    pub type_: Option<String>,
    #[xml(text)]
    pub text: String,
}

/// `<command/>`, request and response alike.
#[derive(FromXml, AsXml, Debug, Clone, PartialEq, Default)]
#[xml(namespace = NS, name = "command")]
pub struct Command {
    #[xml(attribute)]
    pub node: String,
    #[xml(attribute(default))]
    pub sessionid: Option<String>,
    /// execute | cancel | prev | next | complete (requests only).
    #[xml(attribute(default))]
    pub action: Option<String>,
    /// executing | completed | canceled (responses only).
    #[xml(attribute(default))]
    pub status: Option<String>,
    #[xml(child(default))]
    pub actions: Option<Actions>,
    #[xml(child(n = ..))]
    pub notes: Vec<Note>,
    #[xml(child(default))]
    pub form: Option<DataForm>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use xmpp_parsers::minidom::Element;

    #[test]
    fn parses_a_request_and_round_trips_a_response() {
        let req: Element = "<command xmlns='http://jabber.org/protocol/commands' node='list-users' action='execute'/>"
            .parse()
            .unwrap();
        let cmd = Command::try_from(req).unwrap();
        assert_eq!(cmd.node, "list-users");
        assert_eq!(cmd.action.as_deref(), Some("execute"));
        let resp = Command {
            node: "announce".into(),
            sessionid: Some("s1".into()),
            status: Some("executing".into()),
            actions: Some(Actions {
                execute: Some("complete".into()),
                complete: true,
                ..Default::default()
            }),
            notes: vec![Note {
                type_: Some("info".into()),
                text: "hi".into(),
            }],
            ..Default::default()
        };
        let el: Element = resp.clone().into();
        assert!(el
            .get_child("actions", NS)
            .unwrap()
            .has_child("complete", NS));
        assert_eq!(Command::try_from(el).unwrap(), resp);
    }
}
