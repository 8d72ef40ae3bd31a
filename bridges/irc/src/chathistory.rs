//! `draft/chathistory` (ircv3.net/specs/extensions/chathistory): on every
//! (re)join of a channel, ferry asks the server for what was said since
//! the newest line it heard there (or the latest lines, when it heard
//! none). The answer is a `chathistory` batch, read as the history a
//! server replays on join (`Channels::replayed`): archived at the
//! server's time, deduplicated by the core (SPEC §9).

/// Lines asked for when the server gives no limit of its own.
const DEFAULT_LIMIT: usize = 100;

/// The request for `target`'s lines after `since_ms` (unix ms), at most
/// `limit` (the server's ISUPPORT `CHATHISTORY`, 0 or none for no limit
/// of its own).
pub fn request(target: &str, since_ms: Option<i64>, limit: Option<usize>) -> String {
    let limit = limit.filter(|l| *l > 0).unwrap_or(DEFAULT_LIMIT);
    match since_ms.and_then(chrono::DateTime::from_timestamp_millis) {
        Some(since) => format!(
            "CHATHISTORY AFTER {target} timestamp={} {limit}",
            since.format("%Y-%m-%dT%H:%M:%S%.3fZ")
        ),
        None => format!("CHATHISTORY LATEST {target} * {limit}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::Channels;
    use crate::isupport::Support;
    use crate::tags::Tags;
    use ferry_bridge::Event;
    use irc_proto::Message;

    #[test]
    fn requests_as_the_spec_writes_them() {
        // The spec's examples: LATEST with `*`, AFTER a timestamp.
        assert_eq!(
            request("#channel", None, Some(50)),
            "CHATHISTORY LATEST #channel * 50"
        );
        let at = chrono::DateTime::parse_from_rfc3339("2019-01-04T14:33:26.123Z")
            .unwrap()
            .timestamp_millis();
        assert_eq!(
            request("#channel", Some(at), Some(50)),
            "CHATHISTORY AFTER #channel timestamp=2019-01-04T14:33:26.123Z 50"
        );
        assert_eq!(
            request("#c", None, Some(0)),
            format!("CHATHISTORY LATEST #c * {DEFAULT_LIMIT}")
        );
    }

    /// The spec's answer: a `chathistory` batch whose lines carry their
    /// time and msgid; they are replayed lines, and an empty batch is
    /// nothing.
    #[test]
    fn the_specs_batch_is_history() {
        let support = Support::default();
        let mut c = Channels::default();
        c.joining(&support, "#channel", "me", None);
        let feed = |c: &mut Channels, raw: &str| {
            let (tags, rest) = Tags::split(raw);
            let message: Message = rest.parse().unwrap();
            let events = c.line(&support, "irc.test", "me", &message, &tags);
            (events.unwrap_or_default(), c.replayed(&tags))
        };
        feed(&mut c, ":irc.host 353 me = #channel :me john");
        feed(&mut c, ":irc.host 366 me #channel :End");
        let lines = [
            ":irc.host BATCH +ID chathistory #channel",
            "@batch=ID;msgid=1234;time=2019-01-04T14:33:26.123Z :john!~john@1.1.1.1 PRIVMSG #channel :hi",
            "@batch=ID;msgid=1235;time=2019-01-04T14:33:27.123Z :john!~john@1.1.1.1 PRIVMSG #channel :there",
            ":irc.host BATCH -ID",
        ];
        let mut said = Vec::new();
        for line in lines {
            let (events, replayed) = feed(&mut c, line);
            for event in events {
                if let Event::RoomMessage { text, nick, .. } = event {
                    assert!(replayed);
                    said.push((nick, text.body, text.sent_at, text.foreign_id));
                }
            }
        }
        assert_eq!(
            said,
            [
                (
                    "john".into(),
                    "hi".into(),
                    Some(1_546_612_406),
                    Some("1234".into())
                ),
                (
                    "john".into(),
                    "there".into(),
                    Some(1_546_612_407),
                    Some("1235".into())
                ),
            ]
        );
        // Empty batch (nothing new): opened and closed, no events.
        assert!(feed(&mut c, ":irc.host BATCH +2 chathistory #channel")
            .0
            .is_empty());
        assert!(feed(&mut c, ":irc.host BATCH -2").0.is_empty());
        // Other batch types are not history.
        feed(&mut c, ":irc.host BATCH +3 netsplit irc.a irc.b");
        let (_, replayed) = feed(&mut c, "@batch=3 :john!~john@1.1.1.1 QUIT :split");
        assert!(!replayed);
    }
}
