//! What logging in to an IRC server says, without the socket: CAP LS 302
//! and a REQ for the capabilities we use, SASL PLAIN when offered and
//! asked for, NICK and USER, a fallback nick
//! when ours is taken, until the welcome (001). A nick the server finds
//! erroneous ends the attempt for good: no fallback or reconnect would
//! make it acceptable. `login` writes what this asks for and feeds it
//! what the server answers; kept apart so that each answer can be tested
//! line by line.

use base64::Engine;
use ferry_bridge::{Failure, Secret};
use irc_proto::{CapSubCommand, Command, Message};

use super::{End, Params, Up};
use crate::caps::{self, Cap, Caps};

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
    /// `Up::Registered`.
    Done(Vec<Command>, Box<Up>),
    /// The attempt ends; with `quit`, after a QUIT whose write may fail.
    Fail { quit: bool, end: End },
}

/// A login in progress.
pub(super) struct Handshake<'a> {
    params: &'a Params,
    /// The capabilities listed so far: CAP LS may take several lines.
    offered: String,
    /// The capabilities the server acknowledged.
    caps: Caps,
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
            caps: Caps::default(),
            sasl: None,
            attempt: 0,
            shorter: false,
            nick: params.nick.clone(),
        }
    }

    /// The lines that open the login.
    pub(super) fn start(&self) -> Vec<Command> {
        let params = self.params;
        // WEBIRC first: servers take it only before registration.
        let webirc = params.origin.webirc.iter().map(|w| {
            let args = vec![
                w.password.expose().to_owned(),
                crate::policy::GATEWAY.to_owned(),
                w.hostname.clone(),
                w.ip.to_string(),
            ];
            Command::Raw("WEBIRC".into(), args)
        });
        webirc
            .chain([
                Command::CAP(None, CapSubCommand::LS, Some("302".into()), None),
                Command::NICK(params.nick.clone()),
                Command::USER(params.username.clone(), "0".into(), params.realname.clone()),
            ])
            .collect()
    }

    pub(super) fn feed(&mut self, message: &Message) -> Step {
        match &message.command {
            Command::PING(token, _) => Step::Send(vec![Command::PONG(token.clone(), None)]),
            Command::CAP(_, CapSubCommand::LS, a, b) => self.offer(a.as_deref(), b.as_deref()),
            Command::CAP(_, CapSubCommand::ACK, a, b) => {
                let list = b.as_deref().or(a.as_deref()).unwrap_or("");
                self.caps = caps::notify(self.caps, "ACK", list).0;
                match self.mechanism() {
                    Some(mech) if self.caps.has(Cap::Sasl) && self.sasl.is_none() => {
                        Step::Send(vec![Command::AUTHENTICATE(mech.into())])
                    }
                    _ => Step::Send(vec![cap_end()]),
                }
            }
            // A REQ is taken or refused whole: refused, we go without.
            Command::CAP(_, CapSubCommand::NAK, _, _) => Step::Send(vec![cap_end()]),
            // EXTERNAL: the certificate says who we are; the empty answer.
            Command::AUTHENTICATE(data)
                if (data == "+" || data.is_empty()) && self.mechanism() == Some("EXTERNAL") =>
            {
                Step::Send(vec![Command::AUTHENTICATE("+".into())])
            }
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
                    let mechanism = self.mechanism().unwrap_or("");
                    let host = &self.params.network.host;
                    tracing::info!(network = %host, "logged in by SASL {mechanism}");
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
    /// the capabilities we use that are offered, SASL among them when it
    /// takes PLAIN and we have a password; with none, it ends CAP.
    fn offer(&mut self, a: Option<&str>, b: Option<&str>) -> Step {
        let more = a == Some("*") && b.is_some();
        self.offered.push(' ');
        self.offered.push_str(b.or(a).unwrap_or(""));
        if more {
            return Step::Send(Vec::new());
        }
        let mut ask = Caps::wanted(Caps::listed(&self.offered));
        if caps::lists_sasl(&self.offered) && self.mechanism().is_some() {
            ask = ask.with(Cap::Sasl);
        }
        if ask.is_empty() {
            return Step::Send(vec![cap_end()]);
        }
        Step::Send(vec![Command::CAP(
            None,
            CapSubCommand::REQ,
            None,
            Some(ask.names()),
        )])
    }

    /// The SASL mechanism to log in with, when the server takes it:
    /// EXTERNAL with a client certificate, else PLAIN with a password. A
    /// server that acknowledged `sasl` without listing it takes either.
    fn mechanism(&self) -> Option<&'static str> {
        let offered = &self.offered;
        let takes = |mech| !caps::lists_sasl(offered) || caps::offers_sasl(offered, mech);
        if self.params.sasl_external && takes("EXTERNAL") {
            Some("EXTERNAL")
        } else if self.params.password.is_some() && takes("PLAIN") {
            Some("PLAIN")
        } else {
            None
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
            let end = match code {
                433 => End::Refused(format!("the nick {wanted} is in use"), Failure::Conflict),
                // A collision, or a nick held back for a while: refused,
                // not taken (SPEC §3 keeps `conflict` for 433).
                _ => {
                    let why = numeric_text(command);
                    let reason = format!("the server refuses the nick {wanted}: {why}");
                    End::Refused(reason, Failure::NotAcceptable)
                }
            };
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
            caps: self.caps,
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
#[path = "handshake_tests.rs"]
mod tests;
