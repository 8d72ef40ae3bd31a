//! Channel lines in, room events out.

use super::*;
use ferry_bridge::{Affiliation, Role};

fn line(channels: &mut Channels, raw: &str) -> Vec<Event> {
    let (tags, rest) = Tags::split(raw);
    let message: Message = rest.parse().unwrap();
    channels
        .line(&Support::default(), "irc.test", "alice", &message, &tags)
        .unwrap_or_default()
}

fn joined(events: &[Event]) -> bool {
    events.iter().any(|e| matches!(e, Event::Joined { .. }))
}

#[test]
fn names_prefixes_become_modes() {
    let support = Support::default();
    let mut c = Channels::default();
    assert!(c.joining(&support, "#c", "alice", None));
    line(&mut c, ":alice!a@h JOIN #c");
    line(&mut c, ":irc.test 353 alice = #c :@+bob +carol alice");
    let standings: Vec<_> = line(&mut c, ":irc.test 366 alice #c :End of NAMES")
        .into_iter()
        .filter_map(|e| match e {
            Event::Occupant {
                nick,
                change: OccupantChange::Joined { role, affiliation },
                ..
            } => Some((nick, role, affiliation)),
            _ => None,
        })
        .collect();
    assert_eq!(
        standings,
        [
            ("alice".to_owned(), Role::Participant, Affiliation::None),
            ("bob".to_owned(), Role::Moderator, Affiliation::Admin),
            ("carol".to_owned(), Role::Participant, Affiliation::Member),
        ]
    );
}

#[test]
fn the_echo_of_a_part_does_not_end_the_join_after_it() {
    let support = Support::default();
    let mut c = Channels::default();
    assert!(c.joining(&support, "#c", "alice", None));
    line(&mut c, ":alice!a@h JOIN #c");
    assert!(joined(&line(
        &mut c,
        ":irc.test 366 alice #c :End of NAMES"
    )));
    // Leave, and join again before the server echoes the PART.
    c.left(&support, "#c");
    assert!(c.joining(&support, "#c", "alice", None));
    let echo = line(&mut c, ":alice!a@h PART #c :bye");
    assert!(!echo.iter().any(|e| matches!(e, Event::Left { .. })));
    line(&mut c, ":alice!a@h JOIN #c");
    assert!(joined(&line(
        &mut c,
        ":irc.test 366 alice #c :End of NAMES"
    )));
    // A PART the user did not ask for still ends the room.
    let forced = line(&mut c, ":alice!a@h PART #c :removed");
    assert!(forced.iter().any(|e| matches!(e, Event::Left { .. })));
}

#[test]
fn away_notify_in_every_shared_channel() {
    let support = Support::default();
    let mut c = Channels::default();
    for chan in ["#a", "#b"] {
        c.joining(&support, chan, "alice", None);
        line(&mut c, &format!(":irc.test 353 alice = {chan} :alice bob"));
        line(&mut c, &format!(":irc.test 366 alice {chan} :End"));
    }
    let away = line(&mut c, ":bob!b@h AWAY :\x02lunch\x02");
    assert_eq!(away.len(), 2);
    assert!(away.iter().all(|e| matches!(e, Event::Occupant {
        nick, change: OccupantChange::Away { note: Some(note) }, ..
    } if nick == "bob" && note == "lunch")));
    let back = line(&mut c, ":bob!b@h AWAY");
    assert!(back.iter().all(|e| matches!(
        e,
        Event::Occupant {
            change: OccupantChange::Back,
            ..
        }
    )));
    assert!(line(&mut c, ":carol!c@h AWAY :gone").is_empty());
}

#[test]
fn history_batches_mark_replayed_lines() {
    let support = Support::default();
    let mut c = Channels::default();
    c.joining(&support, "#h", "alice", None);
    line(&mut c, ":irc.test 353 alice = #h :alice bob");
    line(&mut c, ":irc.test 366 alice #h :End");
    line(&mut c, ":irc.test BATCH +1 chathistory :#h");
    let replayed = line(
        &mut c,
        "@time=2026-12-06T05:19:52.000Z;msgid=m1;batch=1 :bob!b@h PRIVMSG #h :old",
    );
    let Event::RoomMessage { text, .. } = &replayed[0] else {
        panic!("{replayed:?}");
    };
    assert_eq!(text.sent_at, Some(1_796_534_392));
    assert_eq!(text.foreign_id.as_deref(), Some("m1"));
    line(&mut c, ":irc.test BATCH :-1");
    // After the batch, a fresh line with a recent time is now.
    let now = chrono::DateTime::from_timestamp_millis(crate::tags::now_ms())
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ");
    let live = line(
        &mut c,
        &format!("@time={now};msgid=m2;batch=1 :bob!b@h PRIVMSG #h :new"),
    );
    let Event::RoomMessage { text, .. } = &live[0] else {
        panic!("{live:?}");
    };
    assert_eq!(text.sent_at, None);
    assert_eq!(text.foreign_id.as_deref(), Some("m2"));
}

#[test]
fn a_kick_after_the_kickers_ban_is_a_ban() {
    let support = Support::default();
    let mut c = Channels::default();
    assert!(c.joining(&support, "#c", "alice", None));
    line(&mut c, ":alice!a@h JOIN #c");
    line(
        &mut c,
        ":irc.test 353 alice = #c :@bob carol dave erin alice",
    );
    line(&mut c, ":irc.test 366 alice #c :End of NAMES");
    let banned = |events: Vec<Event>| match events.as_slice() {
        [Event::Occupant {
            change: OccupantChange::Kicked { banned, .. },
            ..
        }] => *banned,
        other => panic!("{other:?}"),
    };
    line(&mut c, ":bob!b@h MODE #c +b carol!*@*");
    assert!(banned(line(&mut c, ":bob!b@h KICK #c carol :out")));
    // Taken by that KICK: the next one is a kick.
    assert!(!banned(line(&mut c, ":bob!b@h KICK #c dave :out")));
    // Lifted before the KICK.
    line(&mut c, ":bob!b@h MODE #c +b erin!*@*");
    line(&mut c, ":bob!b@h MODE #c -b erin!*@*");
    assert!(!banned(line(&mut c, ":bob!b@h KICK #c erin :out")));
}
