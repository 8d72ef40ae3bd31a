//! Logging in to an IRC server: CAP LS 302, SASL PLAIN when offered and
//! asked for, NICK and USER, a fallback nick when ours is taken, until
//! the welcome (001). A nick the server finds erroneous ends the attempt
//! for good: no fallback or reconnect would make it acceptable.

use base64::Engine;
use ferry_bridge::{channel, Failure, Secret};
use futures::StreamExt;
use irc_proto::{CapSubCommand, Command, Message};
use tokio::time::{timeout, Instant};

use super::{send, Control, End, Params, Stream, Up, REGISTER_TIMEOUT};

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

/// Logs in; returns the stream and the `Registered` event.
pub(super) async fn register<K: Clone + Send + Sync>(
    params: &Params,
    mut stream: Stream,
    key: &K,
    events: &channel::Sender<(K, Up)>,
    control: &mut channel::Receiver<Control>,
) -> Result<(Stream, Up), End> {
    let lost = End::Lost;
    let want_sasl = params.password.is_some();
    send(
        &mut stream,
        Command::CAP(None, CapSubCommand::LS, Some("302".into()), None),
    )
    .await
    .map_err(lost)?;
    send(&mut stream, Command::NICK(params.nick.clone()))
        .await
        .map_err(lost)?;
    send(
        &mut stream,
        Command::USER(params.username.clone(), "0".into(), params.realname.clone()),
    )
    .await
    .map_err(lost)?;
    let mut offered = String::new();
    let mut sasl: Option<bool> = None;
    let mut attempt = 0;
    let mut shorter = false;
    let mut nick = params.nick.clone();
    let deadline = Instant::now() + REGISTER_TIMEOUT;
    loop {
        let line = tokio::select! {
            line = timeout(deadline - Instant::now(), stream.next()) => match line {
                Err(_) => return Err(End::Lost("registration timed out".into())),
                Ok(None) => return Err(End::Lost("closed during registration".into())),
                Ok(Some(Err(e))) => return Err(End::Lost(format!("read failed: {e}"))),
                Ok(Some(Ok(line))) => line,
            },
            c = control.recv() => match c {
                Some(Control::Reconnect) => return Err(End::Lost("reconnect requested".into())),
                Some(Control::Quit(reason)) => {
                    let _ = send(&mut stream, Command::QUIT(Some(reason))).await;
                    return Err(End::Quit);
                }
                None => {
                    let _ = send(&mut stream, Command::QUIT(None)).await;
                    return Err(End::Quit);
                }
            },
        };
        let Ok(message) = line.parse::<Message>() else {
            tracing::debug!("unparsable IRC line during registration");
            continue;
        };
        match &message.command {
            Command::PING(token, _) => {
                send(&mut stream, Command::PONG(token.clone(), None))
                    .await
                    .map_err(lost)?;
            }
            Command::CAP(_, CapSubCommand::LS, a, b) => {
                let more = a.as_deref() == Some("*") && b.is_some();
                offered.push(' ');
                offered.push_str(b.as_deref().or(a.as_deref()).unwrap_or(""));
                if !more {
                    let has_sasl = offered.split_whitespace().any(|c| {
                        c == "sasl"
                            || c.strip_prefix("sasl=")
                                .is_some_and(|m| m.split(',').any(|m| m == "PLAIN"))
                    });
                    if want_sasl && has_sasl {
                        send(
                            &mut stream,
                            Command::CAP(None, CapSubCommand::REQ, None, Some("sasl".into())),
                        )
                        .await
                        .map_err(lost)?;
                    } else {
                        send(
                            &mut stream,
                            Command::CAP(None, CapSubCommand::END, None, None),
                        )
                        .await
                        .map_err(lost)?;
                    }
                }
            }
            Command::CAP(_, CapSubCommand::ACK, a, b)
                if b.as_deref()
                    .or(a.as_deref())
                    .is_some_and(|c| c.split_whitespace().any(|c| c == "sasl")) =>
            {
                send(&mut stream, Command::AUTHENTICATE("PLAIN".into()))
                    .await
                    .map_err(lost)?;
            }
            Command::CAP(_, CapSubCommand::NAK, _, _) => {
                send(
                    &mut stream,
                    Command::CAP(None, CapSubCommand::END, None, None),
                )
                .await
                .map_err(lost)?;
            }
            Command::AUTHENTICATE(data) if data == "+" || data.is_empty() => {
                let password = params.password.as_ref().map(Secret::expose).unwrap_or("");
                for chunk in sasl_plain(&params.nick, password) {
                    send(&mut stream, Command::AUTHENTICATE(chunk))
                        .await
                        .map_err(lost)?;
                }
            }
            Command::ERROR(reason) => return Err(End::Lost(format!("server error: {reason}"))),
            command => match numeric(command) {
                Some(903) => {
                    sasl = Some(true);
                    send(
                        &mut stream,
                        Command::CAP(None, CapSubCommand::END, None, None),
                    )
                    .await
                    .map_err(lost)?;
                }
                Some(902 | 904 | 905 | 906 | 908) => {
                    if sasl.is_none() {
                        sasl = Some(false);
                        send(
                            &mut stream,
                            Command::CAP(None, CapSubCommand::END, None, None),
                        )
                        .await
                        .map_err(lost)?;
                    }
                }
                // The nick itself is erroneous (a character, its length):
                // no fallback helps, and no reconnect would either.
                Some(432) if attempt == 0 => {
                    let _ = send(&mut stream, Command::QUIT(None)).await;
                    let why = numeric_text(command);
                    let reason = format!("the server refuses the nick {}: {why}", params.nick);
                    return Err(End::Refused(reason, Failure::NotAcceptable));
                }
                Some(433 | 436 | 437) if !params.fallback_nick => {
                    let _ = send(&mut stream, Command::QUIT(None)).await;
                    let reason = format!("the nick {} is in use", params.nick);
                    return Err(End::Refused(reason, Failure::Conflict));
                }
                Some(code @ (432 | 433 | 436 | 437)) => {
                    attempt += 1;
                    shorter |= code == 432;
                    if attempt > 9 {
                        return Err(End::Lost("no free nick".into()));
                    }
                    nick = fallback_nick(&params.nick, attempt, shorter);
                    send(&mut stream, Command::NICK(nick.clone()))
                        .await
                        .map_err(lost)?;
                }
                Some(1) => {
                    if let Command::Response(_, args) = command {
                        if let Some(n) = args.first() {
                            nick = n.clone();
                        }
                    }
                    if let (Some(password), true) = (&params.password, sasl != Some(true)) {
                        // No SASL on this server (or it failed): NickServ.
                        let identify = format!("IDENTIFY {}", password.expose());
                        send(&mut stream, Command::PRIVMSG("NickServ".into(), identify))
                            .await
                            .map_err(lost)?;
                    }
                    let registered = Up::Registered {
                        nick,
                        wanted: params.nick.clone(),
                        sasl,
                    };
                    return Ok((stream, registered));
                }
                _ => {
                    // Server notices and early numerics go to the session.
                    if events.send((key.clone(), Up::Line(message))).await.is_err() {
                        return Err(End::Quit);
                    }
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
