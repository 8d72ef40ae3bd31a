//! One IRC connection, owned by its own task: connect (TLS where asked),
//! register (CAP LS 302 → SASL PLAIN → CAP END, a fallback nick when ours
//! is taken), then relay lines both ways with a token-bucket throttle,
//! answer PINGs, detect lag, and reconnect with backoff. Lines the session
//! queued survive a reconnect: the queue outlives the socket.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use ferry_bridge::{channel, Secret};
use futures::{SinkExt, StreamExt, TryFutureExt};
use irc_proto::{CapSubCommand, Command, Message};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::{sleep, timeout, Instant};
use tokio_util::codec::{Framed, FramedParts};

use crate::config::Network;
use crate::line::LineCodec;
use crate::throttle::Bucket;

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

type Stream = Framed<Box<dyn Io>, LineCodec>;

/// How to reach and log in to one network.
pub struct Params {
    pub network: Network,
    pub nick: String,
    pub username: String,
    pub realname: String,
    pub password: Option<Secret>,
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub throttle: Bucket,
    /// Idle time before we PING the server; as long again for its PONG.
    pub ping_every: Duration,
    /// Try `nick_`, `nick2`… when the nick is taken; when false (a room's
    /// nick for a user without registration) a taken nick ends the
    /// connection with `Up::Refused`.
    pub fallback_nick: bool,
}

/// What the connection reports to its session.
#[derive(Debug)]
pub enum Up {
    Connecting,
    Registered {
        nick: String,
        wanted: String,
        /// Some(false) when SASL was tried and refused.
        sasl: Option<bool>,
    },
    Line(Message),
    Lost {
        reason: String,
        retry_in: Duration,
    },
    /// The server refused us for good (the nick is taken); no retry.
    Refused {
        reason: String,
    },
}

pub enum Control {
    Quit(String),
    Reconnect,
}

/// The session's end of a connection.
pub struct Handle {
    pub lines: channel::Sender<String>,
    pub control: channel::Sender<Control>,
    /// Ends when the task does (after its QUIT is written).
    pub task: tokio::task::JoinHandle<()>,
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
const REGISTER_TIMEOUT: Duration = Duration::from_secs(60);
const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(120);

pub fn spawn<K: Clone + Send + Sync + 'static>(
    params: Params,
    queue: usize,
    key: K,
    events: channel::Sender<(K, Up)>,
) -> Handle {
    let (lines_tx, lines_rx) = channel::channel(queue);
    let (control_tx, control_rx) = channel::channel(4);
    let task = tokio::spawn(run(params, lines_rx, control_rx, key, events));
    Handle {
        lines: lines_tx,
        control: control_tx,
        task,
    }
}

#[derive(Debug)]
enum End {
    Quit,
    Lost(String),
    Refused(String),
}

/// Not an `async fn`: that keeps each argument twice in its future (as
/// passed, and as moved into the body), and the future is memory every
/// user's connection holds.
#[allow(clippy::manual_async_fn)]
fn run<K: Clone + Send + Sync + 'static>(
    mut params: Params,
    mut lines: channel::Receiver<String>,
    mut control: channel::Receiver<Control>,
    key: K,
    events: channel::Sender<(K, Up)>,
) -> impl Future<Output = ()> + Send {
    async move {
        let mut backoff = BACKOFF_MIN;
        // A line taken from the queue but not written when the link broke.
        let mut pending: Option<String> = None;
        loop {
            if events.send((key.clone(), Up::Connecting)).await.is_err() {
                return;
            }
            // Connecting and registering are boxed: inline, their futures
            // (TLS handshake included) would size the task for its whole
            // life. Results are taken apart in `let`s: a `match` on an
            // `.await` keeps the awaited value until the match ends, so
            // through `serve`.
            let end = 'attempt: {
                let connecting = Box::pin(connect(&params));
                let stream = match connecting.await {
                    Ok(stream) => stream,
                    Err(e) => break 'attempt End::Lost(e),
                };
                let registering = Box::pin(register(&params, stream, &key, &events, &mut control));
                let (stream, registered) = match registering.await {
                    Ok(done) => done,
                    Err(end) => break 'attempt end,
                };
                backoff = BACKOFF_MIN;
                if events.send((key.clone(), registered)).await.is_err() {
                    return;
                }
                serve(
                    &mut params,
                    stream,
                    &mut lines,
                    &mut control,
                    &mut pending,
                    &key,
                    &events,
                )
                .await
            };
            match end {
                End::Quit => return,
                End::Refused(reason) => {
                    let _ = events.send((key.clone(), Up::Refused { reason })).await;
                    return;
                }
                End::Lost(reason) => {
                    tracing::info!(network = %params.network.host, %reason, "IRC connection lost");
                    let up = Up::Lost {
                        reason,
                        retry_in: backoff,
                    };
                    if events.send((key.clone(), up)).await.is_err() {
                        return;
                    }
                }
            }
            tokio::select! {
                _ = sleep(backoff) => {}
                c = control.recv() => match c {
                    Some(Control::Reconnect) => {}
                    Some(Control::Quit(_)) | None => return,
                }
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }
}

async fn connect(params: &Params) -> Result<Stream, String> {
    let network = &params.network;
    let tcp = timeout(
        CONNECT_TIMEOUT,
        TcpStream::connect((network.host.as_str(), network.port)),
    )
    .await
    .map_err(|_| "connection timed out".to_owned())?
    .map_err(|e| format!("cannot connect: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let io: Box<dyn Io> = match &params.tls {
        None => Box::new(tcp),
        Some(config) => {
            let name = rustls::pki_types::ServerName::try_from(network.host.clone())
                .map_err(|_| format!("`{}` is not a TLS server name", network.host))?;
            let tls = tokio_rustls::TlsConnector::from(config.clone())
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS failed: {e}"))?;
            Box::new(tls)
        }
    };
    // tokio-util starts both buffers at 8 KB; most IRC lines are under
    // 200 bytes, and every user's connection would keep 16 KB.
    let mut parts = FramedParts::new::<String>(io, LineCodec::default());
    parts.read_buf = bytes::BytesMut::with_capacity(READ_BUFFER);
    parts.write_buf = bytes::BytesMut::new();
    Ok(Framed::from_parts(parts))
}

/// An IRC line without tags is at most 512 bytes.
const READ_BUFFER: usize = 512;
/// A buffer a burst (the MOTD, a big NAMES) grew past this is given back
/// once it is empty: an idle connection keeps `READ_BUFFER`, not the peak.
const KEEP_BUFFER: usize = 4096;

fn shrink_buffers(stream: &mut Stream) {
    if stream.read_buffer().is_empty() && stream.read_buffer().capacity() > KEEP_BUFFER {
        *stream.read_buffer_mut() = bytes::BytesMut::with_capacity(READ_BUFFER);
    }
    if stream.write_buffer().is_empty() && stream.write_buffer().capacity() > KEEP_BUFFER {
        *stream.write_buffer_mut() = bytes::BytesMut::new();
    }
}

/// Not an `async fn`, which would keep the `Command` in the caller's
/// future: the connection task's future is per-user memory.
fn send(stream: &mut Stream, command: Command) -> impl Future<Output = Result<(), String>> + '_ {
    stream
        .send(String::from(&command))
        .map_err(|e| format!("write failed: {e}"))
}

/// The fallback when `wanted` is taken: `wanted_`, then `wanted1`, …
fn fallback_nick(wanted: &str, attempt: u32) -> String {
    if attempt == 1 {
        format!("{wanted}_")
    } else {
        format!("{wanted}{attempt}")
    }
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
async fn register<K: Clone + Send + Sync>(
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
                Some(432 | 433 | 436 | 437) if !params.fallback_nick => {
                    let _ = send(&mut stream, Command::QUIT(None)).await;
                    let reason = format!("the nick {} is in use", params.nick);
                    return Err(End::Refused(reason));
                }
                Some(432 | 433 | 436 | 437) => {
                    attempt += 1;
                    if attempt > 9 {
                        return Err(End::Lost("no free nick".into()));
                    }
                    nick = fallback_nick(&params.nick, attempt);
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

/// What a line read while serving asks of the connection. The message
/// travels boxed: `serve`'s future, which every user's connection holds for
/// its whole life, keeps room for whatever it holds across an await.
pub(crate) enum Read {
    Skip,
    Ping(String),
    Pong,
    Error(String),
    Line(Box<Message>),
}

impl Read {
    pub(crate) fn of(line: &str) -> Read {
        let Ok(message) = line.parse::<Message>() else {
            tracing::debug!("unparsable IRC line skipped");
            return Read::Skip;
        };
        match message.command {
            Command::PING(token, _) => Read::Ping(token),
            Command::PONG(..) => Read::Pong,
            Command::ERROR(reason) => Read::Error(reason),
            _ => Read::Line(Box::new(message)),
        }
    }
}

/// Not an `async fn`, for the reason `run` is not.
#[allow(clippy::manual_async_fn, clippy::too_many_arguments)]
fn serve<'a, K: Clone + Send + Sync>(
    params: &'a mut Params,
    mut stream: Stream,
    lines: &'a mut channel::Receiver<String>,
    control: &'a mut channel::Receiver<Control>,
    pending: &'a mut Option<String>,
    key: &'a K,
    events: &'a channel::Sender<(K, Up)>,
) -> impl Future<Output = End> + Send + 'a {
    async move {
        let mut last_read = Instant::now();
        let mut ping_sent: Option<Instant> = None;
        let mut tick = tokio::time::interval(params.ping_every.min(Duration::from_secs(5)));
        loop {
            if let Some(line) = pending.take() {
                if params.throttle.ready() {
                    params.throttle.take();
                    if let Err(e) = stream.send(line.clone()).await {
                        *pending = Some(line);
                        return End::Lost(format!("write failed: {e}"));
                    }
                } else {
                    *pending = Some(line);
                }
            }
            let ready = pending.is_none() && params.throttle.ready();
            tokio::select! {
                biased;
                c = control.recv() => match c {
                    Some(Control::Quit(reason)) => {
                        let _ = send(&mut stream, Command::QUIT(Some(reason))).await;
                        return End::Quit;
                    }
                    None => {
                        let _ = send(&mut stream, Command::QUIT(None)).await;
                        return End::Quit;
                    }
                    Some(Control::Reconnect) => {
                        let _ = send(&mut stream, Command::QUIT(Some("Reconnecting".into()))).await;
                        return End::Lost("reconnect requested".into());
                    }
                },
                read = stream.next() => {
                    let line = match read {
                        None => return End::Lost("the server closed the connection".into()),
                        Some(Err(e)) => return End::Lost(format!("read failed: {e}")),
                        Some(Ok(line)) => line,
                    };
                    last_read = Instant::now();
                    shrink_buffers(&mut stream);
                    match Read::of(&line) {
                        Read::Skip => {}
                        Read::Ping(token) => {
                            if let Err(e) = send(&mut stream, Command::PONG(token, None)).await {
                                return End::Lost(e);
                            }
                        }
                        Read::Pong => ping_sent = None,
                        Read::Error(reason) => return End::Lost(format!("server error: {reason}")),
                        Read::Line(message) => {
                            if events.send((key.clone(), Up::Line(*message))).await.is_err() {
                                let _ = send(&mut stream, Command::QUIT(None)).await;
                                return End::Quit;
                            }
                        }
                    }
                }
                line = lines.recv(), if ready => match line {
                    Some(line) => *pending = Some(line),
                    None => {
                        let _ = send(&mut stream, Command::QUIT(None)).await;
                        return End::Quit;
                    }
                },
                _ = sleep(params.throttle.wait()), if pending.is_some() => {}
                _ = tick.tick() => {
                    let now = Instant::now();
                    match ping_sent {
                        Some(sent) if now - sent > params.ping_every => {
                            return End::Lost(format!("ping timeout ({} s)", (now - sent).as_secs()));
                        }
                        None if now - last_read > params.ping_every => {
                            if let Err(e) = send(&mut stream, Command::PING(format!("ferry-{}", now.elapsed().as_millis()), None)).await {
                                return End::Lost(e);
                            }
                            ping_sent = Some(now);
                        }
                        _ => {}
                    }
                }
            }
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
    fn lines_read_while_serving() {
        assert!(matches!(Read::of("PING :srv"), Read::Ping(t) if t == "srv"));
        assert!(matches!(Read::of(":srv PONG srv :ferry-1"), Read::Pong));
        assert!(matches!(Read::of("ERROR :Closing link"), Read::Error(r) if r == "Closing link"));
        assert!(matches!(Read::of(":a!b@c PRIVMSG #r :hi"), Read::Line(_)));
        assert!(matches!(Read::of(""), Read::Skip));
    }

    #[test]
    fn fallback_nicks() {
        assert_eq!(fallback_nick("al", 1), "al_");
        assert_eq!(fallback_nick("al", 2), "al2");
    }

    #[test]
    fn numerics_from_known_and_unknown_codes() {
        let m: Message = ":srv 433 * al :Nickname is already in use".parse().unwrap();
        assert_eq!(numeric(&m.command), Some(433));
        let m: Message = ":srv 999 al :odd".parse().unwrap();
        assert_eq!(numeric(&m.command), Some(999));
    }
}
