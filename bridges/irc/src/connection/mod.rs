//! One IRC connection, owned by its own task: connect (TLS where asked),
//! log in (`login` writes and reads what `handshake` decides), then relay
//! lines both ways with a token-bucket throttle, answer PINGs, detect
//! lag, and reconnect with backoff. Lines the session queued survive a
//! reconnect: the queue outlives the socket.
//! Lines ferry sends on its own (CTCP answers, presence polls) wait in a
//! small queue of their own and go only when none of the user's lines
//! waits.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ferry_bridge::{channel, Failure, Secret};
use futures::{SinkExt, StreamExt, TryFutureExt};
use irc_proto::{Command, Message};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{sleep, timeout, Instant};
use tokio_util::codec::{Framed, FramedParts};

use crate::caps::Caps;
use crate::config::Network;
use crate::line::LineCodec;
use crate::tags::Tags;
use crate::throttle::Bucket;

mod check;
mod handshake;
mod login;
pub use check::{try_password, Verdict};
use login::register;

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
    /// The network's policies for this user: source address, WEBIRC,
    /// ident.
    pub origin: crate::policy::Origin,
    /// Log in by SASL EXTERNAL: `tls` presents the user's certificate.
    pub sasl_external: bool,
    /// Raw lines sent once registered (the user's settings).
    pub after_connect: Vec<String>,
    /// How lines that are not UTF-8 are read.
    pub encoding: &'static encoding_rs::Encoding,
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
        /// The capabilities the server acknowledged.
        caps: Caps,
    },
    /// Boxed as `Read` made it: a line is the largest event.
    Line(Box<(Message, Tags)>),
    Lost {
        reason: String,
        retry_in: Duration,
    },
    /// The server refused us for good (the nick is taken, or not a nick
    /// it takes); no retry.
    Refused {
        reason: String,
        failure: Failure,
    },
}

pub enum Control {
    Quit(String),
    Reconnect,
}

/// The session's end of a connection.
pub struct Handle {
    /// The user's lines, `queue` of them at most.
    pub lines: channel::Sender<String>,
    pub queue: usize,
    /// Lines ferry sends on its own; dropped when `AUTO_QUEUE` wait.
    pub auto: channel::Sender<String>,
    pub control: channel::Sender<Control>,
    /// Ends when the task does (after its QUIT is written).
    pub task: tokio::task::JoinHandle<()>,
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
const REGISTER_TIMEOUT: Duration = Duration::from_secs(60);
const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(120);
/// Automatic lines that may wait; more are dropped, not queued. Room for
/// a poll of a big roster (an ISON line asks for ~40 nicks): CTCP answers
/// are few anyway (`autoreply`), and an empty queue takes no memory.
const AUTO_QUEUE: usize = 64;

pub fn spawn<K: Clone + Send + Sync + 'static>(
    params: Params,
    queue: usize,
    key: K,
    events: channel::Sender<(K, Up)>,
) -> Handle {
    let (lines_tx, lines_rx) = channel::channel(queue);
    let (auto_tx, auto_rx) = channel::channel(AUTO_QUEUE);
    let (control_tx, control_rx) = channel::channel(4);
    let queues = Queues {
        lines: lines_rx,
        auto: auto_rx,
    };
    let task = tokio::spawn(run(params, queues, control_rx, key, events));
    Handle {
        lines: lines_tx,
        queue,
        auto: auto_tx,
        control: control_tx,
        task,
    }
}

/// What the session queued: its user's lines, and ferry's own.
struct Queues {
    lines: channel::Receiver<String>,
    auto: channel::Receiver<String>,
}

#[derive(Debug)]
enum End {
    Quit,
    Lost(String),
    Refused(String, Failure),
}

/// Not an `async fn`: that keeps each argument twice in its future (as
/// passed, and as moved into the body), and the future is memory every
/// user's connection holds.
#[allow(clippy::manual_async_fn)]
fn run<K: Clone + Send + Sync + 'static>(
    mut params: Params,
    mut queues: Queues,
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
                // The identd answers for the connection while this lives.
                let (stream, _ident) = match connecting.await {
                    Ok(connected) => connected,
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
                    &mut queues,
                    &mut control,
                    &mut pending,
                    &key,
                    &events,
                )
                .await
            };
            match end {
                End::Quit => return,
                End::Refused(reason, failure) => {
                    let _ = events
                        .send((key.clone(), Up::Refused { reason, failure }))
                        .await;
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
            // SPEC §5's series; a no-op unless the core exports metrics.
            metrics::counter!("ferry_irc_reconnects_total").increment(1);
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }
}

type Connected = (Stream, Option<crate::identd::Registered>);

async fn connect(params: &Params) -> Result<Connected, String> {
    let network = &params.network;
    let tcp = timeout(CONNECT_TIMEOUT, tcp(network, params.origin.source))
        .await
        .map_err(|_| "connection timed out".to_owned())?
        .map_err(|e| format!("cannot connect: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let ident = match (&params.origin.idents, tcp.local_addr(), tcp.peer_addr()) {
        (Some(idents), Ok(local), Ok(remote)) => {
            Some(idents.register(local, remote, &params.username))
        }
        _ => None,
    };
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
    let mut parts = FramedParts::new::<String>(io, LineCodec::reading(params.encoding));
    parts.read_buf = bytes::BytesMut::with_capacity(READ_BUFFER);
    parts.write_buf = bytes::BytesMut::new();
    Ok((Framed::from_parts(parts), ident))
}

/// A TCP connection to the network, from `source` where one is set.
async fn tcp(network: &Network, source: Option<IpAddr>) -> std::io::Result<TcpStream> {
    let target = (network.host.as_str(), network.port);
    let Some(source) = source else {
        return TcpStream::connect(target).await;
    };
    let mut addresses = tokio::net::lookup_host(target).await?;
    let to = addresses
        .find(|a| a.is_ipv4() == source.is_ipv4())
        .ok_or_else(|| std::io::Error::other(format!("no address of {source}'s family")))?;
    let socket = match source {
        IpAddr::V4(_) => TcpSocket::new_v4()?,
        IpAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket
        .bind(SocketAddr::new(source, 0))
        .map_err(|e| std::io::Error::other(format!("cannot bind {source}: {e}")))?;
    socket.connect(to).await
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

/// What a line read while serving asks of the connection. The message
/// travels boxed: `serve`'s future, which every user's connection holds for
/// its whole life, keeps room for whatever it holds across an await.
pub(crate) enum Read {
    Skip,
    Ping(String),
    Pong,
    Error(String),
    Line(Box<(Message, Tags)>),
}

/// A line as `irc-proto` parses it, but for its tags, which are kept
/// whole for whoever reads one (`tags`).
pub(crate) fn parse(line: &str) -> Option<(Message, Tags)> {
    let (tags, rest) = Tags::split(line);
    match rest.parse::<Message>() {
        Ok(message) => Some((message, tags)),
        Err(_) => {
            tracing::debug!("unparsable IRC line skipped");
            None
        }
    }
}

impl Read {
    pub(crate) fn of(line: &str) -> Read {
        let Some((message, tags)) = parse(line) else {
            return Read::Skip;
        };
        match message.command {
            Command::PING(token, _) => Read::Ping(token),
            Command::PONG(..) => Read::Pong,
            Command::ERROR(reason) => Read::Error(reason),
            _ => Read::Line(Box::new((message, tags))),
        }
    }
}

/// Not an `async fn`, for the reason `run` is not.
#[allow(clippy::manual_async_fn, clippy::too_many_arguments)]
fn serve<'a, K: Clone + Send + Sync>(
    params: &'a mut Params,
    mut stream: Stream,
    queues: &'a mut Queues,
    control: &'a mut channel::Receiver<Control>,
    pending: &'a mut Option<String>,
    key: &'a K,
    events: &'a channel::Sender<(K, Up)>,
) -> impl Future<Output = End> + Send + 'a {
    async move {
        let mut keepalive = Keepalive::new();
        let mut tick = tokio::time::interval(params.ping_every.min(Duration::from_secs(5)));
        // The user's after-connect lines, as they wrote them (settings
        // refuse CR and LF in them): throttled like any line, and first
        // (a NickServ IDENTIFY before the JOINs, and before the line a
        // lost connection left).
        let mut preface = params.after_connect.clone().into_iter();
        // Ends with a QUIT, for the session's control (`None` when the
        // session is gone).
        let closed = 'serving: loop {
            while params.throttle.ready() {
                let Some(line) = preface.next() else { break };
                params.throttle.take();
                if let Err(e) = stream.send(line).await {
                    return End::Lost(format!("write failed: {e}"));
                }
            }
            let prefaced = preface.as_slice().is_empty();
            if let Some(line) = pending.take_if(|_| prefaced) {
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
            let ready = prefaced && pending.is_none() && params.throttle.ready();
            tokio::select! {
                biased;
                c = control.recv() => break 'serving c,
                read = stream.next() => {
                    let line = match read {
                        None => return End::Lost("the server closed the connection".into()),
                        Some(Err(e)) => return End::Lost(format!("read failed: {e}")),
                        Some(Ok(line)) => line,
                    };
                    keepalive.last_read = Instant::now();
                    shrink_buffers(&mut stream);
                    match Read::of(&line) {
                        Read::Skip => {}
                        Read::Ping(token) => {
                            if let Err(e) = send(&mut stream, Command::PONG(token, None)).await {
                                return End::Lost(e);
                            }
                        }
                        Read::Pong => keepalive.ping_sent = None,
                        Read::Error(reason) => return End::Lost(format!("server error: {reason}")),
                        Read::Line(line) => {
                            if events.send((key.clone(), Up::Line(line))).await.is_err() {
                                break 'serving None;
                            }
                        }
                    }
                }
                // Biased: an automatic line is taken only when no line of
                // the user's waits.
                line = queues.lines.recv(), if ready => match line {
                    Some(line) => *pending = Some(line),
                    None => break 'serving None,
                },
                Some(line) = queues.auto.recv(), if ready => *pending = Some(line),
                // A line waiting, or the bucket empty: nothing is taken
                // from the queues until it refills.
                _ = sleep(params.throttle.wait()), if !ready => {}
                _ = tick.tick() => match keepalive.tick(params.ping_every) {
                    Err(end) => return end,
                    Ok(Some(ping)) => {
                        if let Err(e) = send(&mut stream, ping).await {
                            return End::Lost(e);
                        }
                    }
                    Ok(None) => {}
                }
            }
        };
        let (reason, end) = closing(closed);
        let _ = send(&mut stream, Command::QUIT(reason)).await;
        end
    }
}

/// What the session's control asks at the end (`None` when the session
/// is gone): the QUIT's reason, and how the connection ends (a reconnect
/// as a loss, so that `run` connects again).
fn closing(control: Option<Control>) -> (Option<String>, End) {
    match control {
        Some(Control::Quit(reason)) => (Some(reason), End::Quit),
        None => (None, End::Quit),
        Some(Control::Reconnect) => (
            Some("Reconnecting".into()),
            End::Lost("reconnect requested".into()),
        ),
    }
}

/// Lag detection: a server silent for `ping_every` is sent a PING, and
/// one that leaves it unanswered as long again is gone.
struct Keepalive {
    last_read: Instant,
    /// The PING awaiting its PONG.
    ping_sent: Option<Instant>,
}

impl Keepalive {
    fn new() -> Self {
        Keepalive {
            last_read: Instant::now(),
            ping_sent: None,
        }
    }

    /// At a tick: the PING to send, if one is due, or the end when the
    /// last one went unanswered. The PING counts as sent once asked for:
    /// a failed write ends the connection anyway.
    fn tick(&mut self, ping_every: Duration) -> Result<Option<Command>, End> {
        let now = Instant::now();
        match self.ping_sent {
            Some(sent) if now - sent > ping_every => Err(End::Lost(format!(
                "ping timeout ({} s)",
                (now - sent).as_secs()
            ))),
            None if now - self.last_read > ping_every => {
                self.ping_sent = Some(now);
                let token = format!("ferry-{}", now.elapsed().as_millis());
                Ok(Some(Command::PING(token, None)))
            }
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_while_serving() {
        assert!(matches!(Read::of("PING :srv"), Read::Ping(t) if t == "srv"));
        assert!(matches!(Read::of(":srv PONG srv :ferry-1"), Read::Pong));
        assert!(matches!(Read::of("ERROR :Closing link"), Read::Error(r) if r == "Closing link"));
        assert!(matches!(Read::of(":a!b@c PRIVMSG #r :hi"), Read::Line(_)));
        let Read::Line(line) = Read::of("@time=x;+typing=active :a!b@c TAGMSG #r") else {
            panic!("a tagged line");
        };
        assert_eq!(line.1.get("time").as_deref(), Some("x"));
        assert!(line.0.tags.is_none());
        assert!(matches!(Read::of("@time=x PING :srv"), Read::Ping(t) if t == "srv"));
        assert!(matches!(Read::of(""), Read::Skip));
    }
}
