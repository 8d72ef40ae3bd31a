//! Requests in, lines out; answers matched back.

use std::time::Instant;

use ferry_bridge::{Affiliation, Event, Failure, Listed, Moderation, OccupantChange, Role};
use irc_proto::Message;

use super::*;
use crate::tags::Tags;

fn support() -> Support {
    let mut support = Support::default();
    support.absorb(["PREFIX=(ohv)@%+"]);
    support
}

/// alice (op), bob (voiced) and carol in #c.
fn channels(support: &Support) -> Channels {
    let mut c = Channels::default();
    c.joining(support, "#c", "alice", None);
    for raw in [
        ":alice!a@h JOIN #c",
        ":irc.test 353 alice = #c :@alice +bob carol",
        ":irc.test 366 alice #c :End of NAMES",
    ] {
        let message: Message = raw.parse().unwrap();
        c.line(support, "irc.test", "alice", &message, &Tags::default());
    }
    c
}

fn sent(action: Moderation) -> (Vec<String>, Expect) {
    let support = support();
    match plan(&action, "#c", &support, &channels(&support)).unwrap() {
        Planned::Send(lines, expect) => (lines, expect),
        known => panic!("{known:?}"),
    }
}

fn affiliation(nick: &str, affiliation: Affiliation) -> Moderation {
    Moderation::Affiliation {
        nick: nick.into(),
        affiliation,
        reason: None,
    }
}

fn role(nick: &str, role: Role) -> Moderation {
    Moderation::Role {
        nick: nick.into(),
        role,
        reason: Some("bye\r\nQUIT".into()),
    }
}

#[test]
fn xep_0045_changes_become_modes_and_kicks() {
    assert_eq!(
        sent(role("carol", Role::Participant)).0,
        ["MODE #c +v carol"]
    );
    assert_eq!(sent(role("bob", Role::Visitor)).0, ["MODE #c -v bob"]);
    assert_eq!(sent(role("bob", Role::Moderator)).0, ["MODE #c +o bob"]);
    // A reason never carries a line break to IRC.
    assert_eq!(sent(role("bob", Role::None)).0, ["KICK #c bob :bye  QUIT"]);
    assert_eq!(
        sent(affiliation("carol", Affiliation::Admin)).0,
        ["MODE #c +o carol"]
    );
    assert_eq!(
        sent(affiliation("alice", Affiliation::Member)).0,
        ["MODE #c -o+h alice alice"]
    );
    // Present: banned and removed; absent: banned only.
    assert_eq!(
        sent(affiliation("carol", Affiliation::Outcast)).0,
        ["MODE #c +b carol!*@*", "KICK #c carol :Banned"]
    );
    assert_eq!(
        sent(affiliation("dave", Affiliation::Outcast)).0,
        ["MODE #c +b dave!*@*"]
    );
    // None takes every mode held, else lifts the ban.
    assert_eq!(
        sent(affiliation("bob", Affiliation::None)).0,
        ["MODE #c -v bob"]
    );
    assert_eq!(
        sent(affiliation("dave", Affiliation::None)).0,
        ["MODE #c -b dave!*@*"]
    );
    assert_eq!(
        sent(Moderation::ListAffiliation(Affiliation::Outcast)),
        (vec!["MODE #c +b".to_owned()], Expect::Bans(Vec::new()))
    );
}

#[test]
fn nicks_that_would_break_the_line_are_refused() {
    let support = support();
    for nick in ["", ":x", "a b", "a\r\nQUIT :x", "a\tb"] {
        let refused = plan(&role(nick, Role::None), "#c", &support, &channels(&support));
        assert!(matches!(refused, Err((Failure::BadRequest, _))), "{nick:?}");
        let refused = plan(
            &affiliation(nick, Affiliation::Outcast),
            "#c",
            &support,
            &channels(&support),
        );
        assert!(matches!(refused, Err((Failure::BadRequest, _))), "{nick:?}");
    }
    let owner = plan(
        &affiliation("bob", Affiliation::Owner),
        "#c",
        &support,
        &channels(&support),
    );
    assert!(matches!(owner, Err((Failure::NotAcceptable, _))));
}

#[test]
fn member_lists_come_from_the_channel() {
    let support = support();
    let known = plan(
        &Moderation::ListRole(Role::Moderator),
        "#c",
        &support,
        &channels(&support),
    );
    let alice = Listed {
        nick: Some("alice".into()),
        mask: None,
        role: Some(Role::Moderator),
        affiliation: Affiliation::Admin,
    };
    assert_eq!(known, Ok(Planned::Known(vec![alice])));
}

#[test]
fn echoes_refusals_and_ban_lists_settle_the_oldest_request_of_their_channel() {
    let support = support();
    let now = Instant::now();
    let mut m = Moderations::default();
    let (_, voice) = sent(role("carol", Role::Participant));
    m.wait("1".into(), "#c".into(), voice.clone(), now);
    m.wait("2".into(), "#c".into(), voice, now);
    m.wait("3".into(), "#c".into(), Expect::Bans(Vec::new()), now);
    m.wait("4".into(), "#d".into(), Expect::Kick("bob".into()), now);
    // Another change's echo settles nothing.
    assert_eq!(m.mode_echo("#c", &[(true, 'v', "bob".into())]), None);
    assert_eq!(
        m.mode_echo("#c", &[(true, 'v', "carol".into())]),
        Some(("1".into(), Ok(vec![])))
    );
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let refusal = m.refused(
        &support,
        482,
        &args(&["alice", "#C", "You're not channel operator"]),
    );
    let Some((id, Err((Failure::Forbidden, text)))) = refusal else {
        panic!("{refusal:?}")
    };
    assert_eq!(
        (id.as_str(), text.as_str()),
        ("2", "#C: You're not channel operator")
    );
    assert!(m.ban("#c", "eve!*@*"));
    assert!(m.ban("#c", "*!*@bad.example"));
    assert!(!m.ban("#e", "x!*@*"));
    let (id, list) = m.bans_end("#c").unwrap();
    assert_eq!(id, "3");
    let list = list.unwrap();
    assert_eq!(list[0].nick.as_deref(), Some("eve"));
    assert_eq!(list[1].mask.as_deref(), Some("*!*@bad.example"));
    assert_eq!(list[1].affiliation, Affiliation::Outcast);
    assert_eq!(m.kick_echo("#d", "bob"), Some(("4".into(), Ok(vec![]))));
    assert!(m.is_empty());
}

#[test]
fn a_request_never_answered_is_forgotten() {
    let mut m = Moderations::default();
    let long_ago = Instant::now() - QUIET - std::time::Duration::from_millis(1);
    m.wait(
        "1".into(),
        "#c".into(),
        Expect::Kick("bob".into()),
        long_ago,
    );
    assert_eq!(m.kick_echo("#c", "bob"), None);
    assert!(m.is_empty());
}

#[test]
fn a_moderated_channel_makes_visitors() {
    let support = support();
    let mut c = channels(&support);
    let message: Message = ":alice!a@h MODE #c +m".parse().unwrap();
    let events = c
        .line(&support, "irc.test", "alice", &message, &Tags::default())
        .unwrap();
    let standing: Vec<_> = events
        .iter()
        .map(|e| match e {
            Event::Occupant {
                nick,
                change: OccupantChange::Standing { role, .. },
                ..
            } => (nick.as_str(), *role),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(standing, [("carol", Role::Visitor)]);
}
