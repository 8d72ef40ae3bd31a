//! The login's answers to each server line, line by line.

use std::time::Duration;

use super::*;
use crate::config::Network;
use crate::throttle::Bucket;

fn params(password: Option<&str>, fallback_nick: bool) -> Params {
    Params {
        network: Network {
            host: "irc.example.org".into(),
            port: 6667,
            ..Network::default()
        },
        nick: "alice".into(),
        username: "al".into(),
        realname: "Alice A".into(),
        password: password.map(Secret::new),
        tls: None,
        throttle: Bucket::new(10, 2.0),
        ping_every: Duration::from_secs(120),
        fallback_nick,
        origin: Default::default(),
        sasl_external: false,
        after_connect: Vec::new(),
        encoding: encoding_rs::WINDOWS_1252,
    }
}

fn wire(commands: &[Command]) -> Vec<String> {
    commands.iter().map(String::from).collect()
}

fn feed(handshake: &mut Handshake, line: &str) -> Step {
    handshake.feed(&line.parse().expect("a valid line"))
}

/// The lines a server's line makes the login send.
fn sends(handshake: &mut Handshake, line: &str) -> Vec<String> {
    match feed(handshake, line) {
        Step::Send(commands) => wire(&commands),
        other => panic!("{line:?} gave {other:?}"),
    }
}

/// The lines sent on the welcome, and the nick and SASL outcome it
/// registers.
fn welcome(handshake: &mut Handshake, line: &str) -> (Vec<String>, String, Option<bool>) {
    let (commands, registered) = match feed(handshake, line) {
        Step::Done(commands, registered) => (commands, *registered),
        other => panic!("{line:?} gave {other:?}"),
    };
    match registered {
        Up::Registered {
            nick, wanted, sasl, ..
        } => {
            assert_eq!(wanted, "alice");
            (wire(&commands), nick, sasl)
        }
        other => panic!("{line:?} registered {other:?}"),
    }
}

/// How a line ends the attempt: whether a QUIT goes first, the reason,
/// and the failure when the server refused us for good (without one,
/// the connection is lost and tried again).
fn ends(handshake: &mut Handshake, line: &str) -> (bool, String, Option<Failure>) {
    match feed(handshake, line) {
        Step::Fail {
            quit,
            end: End::Lost(reason),
        } => (quit, reason, None),
        Step::Fail {
            quit,
            end: End::Refused(reason, failure),
        } => (quit, reason, Some(failure)),
        other => panic!("{line:?} gave {other:?}"),
    }
}

fn passes(handshake: &mut Handshake, line: &str) {
    assert!(matches!(feed(handshake, line), Step::Pass), "{line:?}");
}

#[test]
fn start_lists_caps_then_names_us() {
    let params = params(None, true);
    assert_eq!(
        wire(&Handshake::new(&params).start()),
        ["CAP LS 302", "NICK alice", "USER al 0 * :Alice A"]
    );
}

#[test]
fn cap_ls_over_several_lines_is_answered_after_the_last() {
    let params = params(Some("pw"), true);
    let mut h = Handshake::new(&params);
    assert!(sends(&mut h, ":srv CAP * LS * :multi-prefix away-notify").is_empty());
    assert!(sends(&mut h, ":srv CAP * LS * :sasl=EXTERNAL,PLAIN").is_empty());
    assert_eq!(
        sends(&mut h, ":srv CAP * LS :chghost"),
        ["CAP REQ :sasl away-notify multi-prefix chghost"]
    );
}

#[test]
fn cap_ls_without_a_usable_sasl_ends_cap() {
    let with_password = params(Some("pw"), true);
    for offer in [":srv CAP * LS :foo/bar", ":srv CAP * LS :sasl=EXTERNAL"] {
        let mut h = Handshake::new(&with_password);
        assert_eq!(sends(&mut h, offer), ["CAP END"], "{offer}");
    }
    // SASL offered, but nothing to log in with.
    let without = params(None, true);
    let mut h = Handshake::new(&without);
    assert_eq!(sends(&mut h, ":srv CAP * LS :sasl"), ["CAP END"]);
}

#[test]
fn cap_nak_ends_cap() {
    let params = params(Some("pw"), true);
    let mut h = Handshake::new(&params);
    assert_eq!(sends(&mut h, ":srv CAP * LS :sasl"), ["CAP REQ sasl"]);
    assert_eq!(sends(&mut h, ":srv CAP * NAK :sasl"), ["CAP END"]);
    let (sent, _, sasl) = welcome(&mut h, ":srv 001 alice :Welcome");
    assert_eq!(sent, ["PRIVMSG NickServ :IDENTIFY pw"]);
    assert_eq!(sasl, None);
}

#[test]
fn sasl_success_logs_in_without_nickserv() {
    let params = params(Some("pw"), true);
    let mut h = Handshake::new(&params);
    assert_eq!(sends(&mut h, ":srv CAP * LS :sasl"), ["CAP REQ sasl"]);
    assert_eq!(
        sends(&mut h, ":srv CAP * ACK :sasl"),
        ["AUTHENTICATE PLAIN"]
    );
    let token = base64::engine::general_purpose::STANDARD.encode("alice\0alice\0pw");
    assert_eq!(
        sends(&mut h, "AUTHENTICATE +"),
        [format!("AUTHENTICATE {token}")]
    );
    passes(
        &mut h,
        ":srv 900 alice alice!al@host alice :You are now logged in",
    );
    assert_eq!(
        sends(&mut h, ":srv 903 alice :SASL successful"),
        ["CAP END"]
    );
    let (sent, nick, sasl) = welcome(&mut h, ":srv 001 alice :Welcome");
    assert!(sent.is_empty());
    assert_eq!((nick.as_str(), sasl), ("alice", Some(true)));
}

#[test]
fn sasl_failure_ends_cap_once_then_nickserv() {
    for code in [902, 904, 905, 908] {
        let params = params(Some("pw"), true);
        let mut h = Handshake::new(&params);
        let failed = format!(":srv {code} alice :SASL failed");
        assert_eq!(sends(&mut h, &failed), ["CAP END"], "{code}");
        // A second failure is swallowed: CAP is already ended.
        assert!(sends(&mut h, ":srv 904 alice :again").is_empty());
        let (sent, _, sasl) = welcome(&mut h, ":srv 001 alice :Welcome");
        assert_eq!(sent, ["PRIVMSG NickServ :IDENTIFY pw"], "{code}");
        assert_eq!(sasl, Some(false), "{code}");
    }
}

#[test]
fn sasl_abort_counts_as_failure() {
    let params = params(Some("pw"), true);
    let mut h = Handshake::new(&params);
    assert_eq!(
        sends(&mut h, ":srv CAP * ACK :sasl"),
        ["AUTHENTICATE PLAIN"]
    );
    assert_eq!(sends(&mut h, ":srv 906 alice :SASL aborted"), ["CAP END"]);
    let (_, _, sasl) = welcome(&mut h, ":srv 001 alice :Welcome");
    assert_eq!(sasl, Some(false));
}

#[test]
fn a_failure_after_success_changes_nothing() {
    let params = params(Some("pw"), true);
    let mut h = Handshake::new(&params);
    assert_eq!(
        sends(&mut h, ":srv 903 alice :SASL successful"),
        ["CAP END"]
    );
    assert!(sends(&mut h, ":srv 904 alice :late").is_empty());
    let (sent, _, sasl) = welcome(&mut h, ":srv 001 alice :Welcome");
    assert!(sent.is_empty());
    assert_eq!(sasl, Some(true));
}

#[test]
fn taken_nick_tries_fallbacks_then_gives_up() {
    let params = params(None, true);
    let mut h = Handshake::new(&params);
    let taken = ":srv 433 * alice :Nickname is already in use";
    assert_eq!(sends(&mut h, taken), ["NICK alice_"]);
    assert_eq!(
        sends(&mut h, ":srv 436 * alice_ :collision"),
        ["NICK alice2"]
    );
    // A fallback refused as erroneous (too long): the rest are cut.
    assert_eq!(
        sends(&mut h, ":srv 432 * alice2 :Erroneous"),
        ["NICK alic3"]
    );
    assert_eq!(
        sends(&mut h, ":srv 437 * alic3 :unavailable"),
        ["NICK alic4"]
    );
    for n in 5..=9 {
        assert_eq!(sends(&mut h, taken), [format!("NICK alic{n}")]);
    }
    assert_eq!(ends(&mut h, taken), (false, "no free nick".into(), None));
}

#[test]
fn welcome_names_the_fallback_we_got() {
    let params = params(None, true);
    let mut h = Handshake::new(&params);
    assert_eq!(sends(&mut h, ":srv 433 * alice :in use"), ["NICK alice_"]);
    let (sent, nick, sasl) = welcome(&mut h, ":srv 001 alice_ :Welcome");
    assert!(sent.is_empty());
    assert_eq!((nick.as_str(), sasl), ("alice_", None));
}

#[test]
fn taken_nick_without_fallback_is_refused() {
    let params = params(None, false);
    let mut h = Handshake::new(&params);
    let (quit, reason, failure) = ends(&mut h, ":srv 433 * alice :in use");
    assert!(quit);
    assert_eq!(reason, "the nick alice is in use");
    assert_eq!(failure, Some(Failure::Conflict));
    // Only 433 is a conflict (SPEC §3): a collision or a held-back nick
    // is refused.
    for code in [436, 437] {
        let mut h = Handshake::new(&params);
        let (quit, reason, failure) = ends(&mut h, &format!(":srv {code} * alice :held"));
        assert!(quit);
        assert_eq!(reason, "the server refuses the nick alice: held");
        assert_eq!(failure, Some(Failure::NotAcceptable));
    }
}

#[test]
fn erroneous_first_nick_is_refused_for_good() {
    for fallback in [true, false] {
        let params = params(None, fallback);
        let mut h = Handshake::new(&params);
        let (quit, reason, failure) = ends(&mut h, ":srv 432 * alice :Erroneous Nickname");
        assert!(quit);
        assert_eq!(
            reason,
            "the server refuses the nick alice: Erroneous Nickname"
        );
        assert_eq!(failure, Some(Failure::NotAcceptable));
    }
}

#[test]
fn a_server_without_cap_welcomes_all_the_same() {
    let params = params(Some("pw"), true);
    let mut h = Handshake::new(&params);
    passes(&mut h, ":srv 421 * CAP :Unknown command");
    let (sent, nick, sasl) = welcome(&mut h, ":srv 001 alice :Welcome");
    assert_eq!(sent, ["PRIVMSG NickServ :IDENTIFY pw"]);
    assert_eq!((nick.as_str(), sasl), ("alice", None));
}

#[test]
fn other_lines_before_the_welcome() {
    let params = params(None, true);
    let mut h = Handshake::new(&params);
    assert_eq!(sends(&mut h, "PING :12345"), ["PONG 12345"]);
    // Notices, early numerics and what the login does not follow go
    // to the session.
    passes(&mut h, ":srv NOTICE * :*** Looking up your hostname");
    passes(
        &mut h,
        ":srv 020 * :Please wait while we process your connection",
    );
    passes(&mut h, ":srv CAP * NEW :sasl");
    passes(&mut h, "AUTHENTICATE abc");
    passes(&mut h, ":srv 999 alice :odd");
    let (quit, reason, failure) = ends(&mut h, "ERROR :Closing link (throttled)");
    assert_eq!((quit, failure), (false, None));
    assert_eq!(reason, "server error: Closing link (throttled)");
}

#[test]
fn sasl_plain_chunks() {
    let chunks = sasl_plain("nick", "pw");
    assert_eq!(chunks.len(), 1);
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&chunks[0])
        .unwrap();
    assert_eq!(decoded, b"nick\0nick\0pw");
    let long = "p".repeat(600);
    let chunks = sasl_plain("n", &long);
    assert!(chunks.iter().all(|c| c.len() <= 400));
    assert!(chunks.len() >= 2);
}

#[test]
fn fallback_nicks() {
    assert_eq!(fallback_nick("al", 1, false), "al_");
    assert_eq!(fallback_nick("al", 2, false), "al2");
    assert_eq!(fallback_nick("alice", 1, true), "alic_");
    assert_eq!(fallback_nick("alice", 2, true), "alic2");
    assert_eq!(fallback_nick("a", 3, true), "a3");
}

#[test]
fn numerics_from_known_and_unknown_codes() {
    let m: Message = ":srv 433 * al :Nickname is already in use".parse().unwrap();
    assert_eq!(numeric(&m.command), Some(433));
    let m: Message = ":srv 999 al :odd".parse().unwrap();
    assert_eq!(numeric(&m.command), Some(999));
}

#[test]
fn acknowledged_caps_are_registered() {
    let params = params(None, true);
    let mut h = Handshake::new(&params);
    let offer = ":srv CAP * LS :cap-notify echo-message foo server-time sasl";
    assert_eq!(
        sends(&mut h, offer),
        ["CAP REQ :server-time echo-message cap-notify"]
    );
    assert_eq!(
        sends(
            &mut h,
            ":srv CAP * ACK :server-time echo-message cap-notify"
        ),
        ["CAP END"]
    );
    let Step::Done(_, registered) = feed(&mut h, ":srv 001 alice :Welcome") else {
        panic!("not registered");
    };
    let Up::Registered { caps, .. } = *registered else {
        panic!("not registered");
    };
    assert_eq!(caps.names(), "server-time echo-message cap-notify");
}

#[test]
fn a_refused_request_goes_without() {
    let params = params(None, true);
    let mut h = Handshake::new(&params);
    assert_eq!(sends(&mut h, ":srv CAP * LS :batch"), ["CAP REQ batch"]);
    assert_eq!(sends(&mut h, ":srv CAP * NAK :batch"), ["CAP END"]);
    let Step::Done(_, registered) = feed(&mut h, ":srv 001 alice :Welcome") else {
        panic!("not registered");
    };
    assert!(matches!(*registered, Up::Registered { caps, .. } if caps.is_empty()));
}

#[test]
fn a_client_certificate_logs_in_by_sasl_external_where_offered() {
    let mut params = params(None, true);
    params.sasl_external = true;
    let mut h = Handshake::new(&params);
    let req = sends(&mut h, ":srv CAP * LS :multi-prefix sasl=PLAIN,EXTERNAL");
    assert!(
        req[0].starts_with("CAP REQ") && req[0].contains("sasl"),
        "{req:?}"
    );
    assert_eq!(
        sends(&mut h, ":srv CAP * ACK :sasl"),
        ["AUTHENTICATE EXTERNAL"]
    );
    // The certificate says who we are: the empty answer.
    assert_eq!(sends(&mut h, "AUTHENTICATE +"), ["AUTHENTICATE +"]);
    assert_eq!(
        sends(&mut h, ":srv 903 alice :SASL authentication successful"),
        ["CAP END"]
    );
    let (sent, _, sasl) = welcome(&mut h, ":srv 001 alice :Welcome");
    assert!(sent.is_empty() && sasl == Some(true), "{sent:?}");

    // A server that takes only PLAIN: a password is used, else no SASL.
    params.password = Some(Secret::new("pw"));
    let mut h = Handshake::new(&params);
    sends(&mut h, ":srv CAP * LS :sasl=PLAIN");
    assert_eq!(
        sends(&mut h, ":srv CAP * ACK :sasl"),
        ["AUTHENTICATE PLAIN"]
    );
    params.password = None;
    let mut h = Handshake::new(&params);
    assert_eq!(sends(&mut h, ":srv CAP * LS :sasl=PLAIN"), ["CAP END"]);
}

#[test]
fn webirc_goes_first() {
    let mut params = params(None, true);
    params.origin.webirc = Some(crate::policy::webirc(
        &Secret::new("pw"),
        "alice@example.org",
        Some("127.0.0.5".parse().unwrap()),
    ));
    let h = Handshake::new(&params);
    let start = wire(&h.start());
    assert_eq!(start[0], "WEBIRC pw ferry example.org 127.0.0.5");
    assert!(start[1].starts_with("CAP LS 302"), "{start:?}");
}
