//! What logging in to an IRC server says, without the socket: CAP LS 302,
//! SASL PLAIN when offered and asked for, NICK and USER, a fallback nick
//! when ours is taken, until the welcome (001). A nick the server finds
//! erroneous ends the attempt for good: no fallback or reconnect would
//! make it acceptable. `login` writes what this asks for and feeds it
//! what the server answers; kept apart so that each answer can be tested
//! line by line.

use base64::Engine;
use ferry_bridge::{Failure, Secret};
use irc_proto::{CapSubCommand, Command, Message};

use super::{End, Params, Up};

/// What a line from the server asks of the login.
#[derive(Debug)]
pub(super) enum Step {
    /// Write these (none, for a line that only changes the state) and
    /// read on; a failed write loses the connection.
    Send(Vec<Command>),
    /// Not the login's line: the session sees it (server notices, early
    /// numerics).
    Pass,
    /// Registered: write these, then the connection is up with this
    /// `Up::Registered` (boxed: `Up` is as large as a `Message`).
    Done(Vec<Command>, Box<Up>),
    /// The attempt ends; with `quit`, after a QUIT whose write may fail.
    Fail { quit: bool, end: End },
}

/// A login in progress.
pub(super) struct Handshake<'a> {
    params: &'a Params,
    /// The capabilities listed so far: CAP LS may take several lines.
    offered: String,
    /// Some(true) once SASL succeeded, Some(false) once it failed.
    sasl: Option<bool>,
    /// How many fallback nicks were asked for.
    attempt: u32,
    /// The server refused a fallback as erroneous: later ones are cut.
    shorter: bool,
    /// The nick last asked for.
    nick: String,
}

impl<'a> Handshake<'a> {
    pub(super) fn new(params: &'a Params) -> Self {
        Handshake {
            params,
            offered: String::new(),
            sasl: None,
            attempt: 0,
            shorter: false,
            nick: params.nick.clone(),
        }
    }

    /// The lines that open the login.
    pub(super) fn start(&self) -> Vec<Command> {
        let params = self.params;
        vec![
            Command::CAP(None, CapSubCommand::LS, Some("302".into()), None),
            Command::NICK(params.nick.clone()),
            Command::USER(params.username.clone(), "0".into(), params.realname.clone()),
        ]
    }

    pub(super) fn feed(&mut self, message: &Message) -> Step {
        match &message.command {
            Command::PING(token, _) => Step::Send(vec![Command::PONG(token.clone(), None)]),
            Command::CAP(_, CapSubCommand::LS, a, b) => self.offer(a.as_deref(), b.as_deref()),
            Command::CAP(_, CapSubCommand::ACK, a, b)
                if b.as_deref()
                    .or(a.as_deref())
                    .is_some_and(|c| c.split_whitespace().any(|c| c == "sasl")) =>
            {
                Step::Send(vec![Command::AUTHENTICATE("PLAIN".into())])
            }
            Command::CAP(_, CapSubCommand::NAK, _, _) => Step::Send(vec![cap_end()]),
            Command::AUTHENTICATE(data) if data == "+" || data.is_empty() => {
                let password = self.params.password.as_ref().map(Secret::expose);
                let chunks = sasl_plain(&self.params.nick, password.unwrap_or(""));
                Step::Send(chunks.into_iter().map(Command::AUTHENTICATE).collect())
            }
            Command::ERROR(reason) => Step::Fail {
                quit: false,
                end: End::Lost(format!("server error: {reason}")),
            },
            command => match numeric(command) {
                Some(903) => {
                    self.sasl = Some(true);
                    Step::Send(vec![cap_end()])
                }
                Some(902 | 904 | 905 | 906 | 908) => {
                    // Only the first failure ends CAP; later ones are
                    // dropped, not passed on.
                    if self.sasl.is_some() {
                        return Step::Send(Vec::new());
                    }
                    self.sasl = Some(false);
                    Step::Send(vec![cap_end()])
                }
                Some(code @ (432 | 433 | 436 | 437)) => self.nick_refused(code, command),
                Some(1) => self.welcome(command),
                _ => Step::Pass,
            },
        }
    }

    /// A line of CAP LS; the last one (no `*` before the list) asks for
    /// SASL when it is offered with PLAIN and we have a password, else
    /// ends CAP.
    fn offer(&mut self, a: Option<&str>, b: Option<&str>) -> Step {
        let more = a == Some("*") && b.is_some();
        self.offered.push(' ');
        self.offered.push_str(b.or(a).unwrap_or(""));
        if more {
            return Step::Send(Vec::new());
        }
        let has_sasl = self.offered.split_whitespace().any(|c| {
            c == "sasl"
                || c.strip_prefix("sasl=")
                    .is_some_and(|m| m.split(',').any(|m| m == "PLAIN"))
        });
        if self.params.password.is_some() && has_sasl {
            Step::Send(vec![Command::CAP(
                None,
                CapSubCommand::REQ,
                None,
                Some("sasl".into()),
            )])
        } else {
            Step::Send(vec![cap_end()])
        }
    }

    /// The server refused the nick we asked for (erroneous, taken,
    /// colliding, unavailable).
    fn nick_refused(&mut self, code: u16, command: &Command) -> Step {
        let wanted = &self.params.nick;
        // The nick itself is erroneous (a character, its length): no
        // fallback helps, and no reconnect would either.
        if code == 432 && self.attempt == 0 {
            let why = numeric_text(command);
            let reason = format!("the server refuses the nick {wanted}: {why}");
            let end = End::Refused(reason, Failure::NotAcceptable);
            return Step::Fail { quit: true, end };
        }
        if code != 432 && !self.params.fallback_nick {
            let reason = format!("the nick {wanted} is in use");
            let end = End::Refused(reason, Failure::Conflict);
            return Step::Fail { quit: true, end };
        }
        self.attempt += 1;
        self.shorter |= code == 432;
        if self.attempt > 9 {
            let end = End::Lost("no free nick".into());
            return Step::Fail { quit: false, end };
        }
        self.nick = fallback_nick(wanted, self.attempt, self.shorter);
        Step::Send(vec![Command::NICK(self.nick.clone())])
    }

    /// The welcome: registered under the nick it names, after identifying
    /// to NickServ where SASL did not log us in.
    fn welcome(&mut self, command: &Command) -> Step {
        if let Command::Response(_, args) = command {
            if let Some(n) = args.first() {
                self.nick = n.clone();
            }
        }
        let mut send = Vec::new();
        if let (Some(password), true) = (&self.params.password, self.sasl != Some(true)) {
            // No SASL on this server (or it failed): NickServ.
            let identify = format!("IDENTIFY {}", password.expose());
            send.push(Command::PRIVMSG("NickServ".into(), identify));
        }
        let registered = Up::Registered {
            nick: self.nick.clone(),
            wanted: self.params.nick.clone(),
            sasl: self.sasl,
        };
        Step::Done(send, Box::new(registered))
    }
}

fn cap_end() -> Command {
    Command::CAP(None, CapSubCommand::END, None, None)
}

/// The fallback when `wanted` is taken: `wanted_`, then `wanted2`, …;
/// `shorter` (the server refused a fallback as erroneous: too long) cuts
/// `wanted` so that the fallback is no longer than it.
fn fallback_nick(wanted: &str, attempt: u32, shorter: bool) -> String {
    let suffix = if attempt == 1 {
        "_".to_owned()
    } else {
        attempt.to_string()
    };
    let base = if shorter {
        let keep = wanted.chars().count().saturating_sub(suffix.len()).max(1);
        wanted.chars().take(keep).collect()
    } else {
        wanted.to_owned()
    };
    format!("{base}{suffix}")
}

/// The text of a numeric reply (its last argument).
fn numeric_text(command: &Command) -> String {
    match command {
        Command::Response(_, args) | Command::Raw(_, args) => args.last().cloned(),
        _ => None,
    }
    .unwrap_or_default()
}

fn numeric(command: &Command) -> Option<u16> {
    match command {
        Command::Response(r, _) => Some(*r as u16),
        Command::Raw(code, _) => code.parse().ok(),
        _ => None,
    }
}

fn sasl_plain(nick: &str, password: &str) -> Vec<String> {
    let token =
        base64::engine::general_purpose::STANDARD.encode(format!("{nick}\0{nick}\0{password}"));
    // AUTHENTICATE carries at most 400 bytes a line; a full last chunk is
    // followed by "+".
    let mut out: Vec<String> = token
        .as_bytes()
        .chunks(400)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    if token.len() % 400 == 0 {
        out.push("+".into());
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::Network;
    use crate::throttle::Bucket;

    fn params(password: Option<&str>, fallback_nick: bool) -> Params {
        Params {
            network: Network {
                host: "irc.example.org".into(),
                port: 6667,
                tls: false,
            },
            nick: "alice".into(),
            username: "al".into(),
            realname: "Alice A".into(),
            password: password.map(Secret::new),
            tls: None,
            throttle: Bucket::new(10, 2.0),
            ping_every: Duration::from_secs(120),
            fallback_nick,
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
            Up::Registered { nick, wanted, sasl } => {
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
        assert_eq!(sends(&mut h, ":srv CAP * LS :chghost"), ["CAP REQ sasl"]);
    }

    #[test]
    fn cap_ls_without_a_usable_sasl_ends_cap() {
        let with_password = params(Some("pw"), true);
        for offer in [
            ":srv CAP * LS :multi-prefix",
            ":srv CAP * LS :sasl=EXTERNAL",
        ] {
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
        for code in [433, 436, 437] {
            let mut h = Handshake::new(&params);
            let (quit, reason, failure) = ends(&mut h, &format!(":srv {code} * alice :in use"));
            assert!(quit);
            assert_eq!(reason, "the nick alice is in use");
            assert_eq!(failure, Some(Failure::Conflict));
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
        passes(&mut h, ":srv CAP * ACK :multi-prefix");
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
}
