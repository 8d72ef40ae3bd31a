//! One XEP-0114 link: connect, handshake, read stanzas, write the
//! outbound queue, reconnect with backoff. Built on tokio-xmpp's
//! lower-level `XmppStream` because its `Component` ends the stream on the
//! first stanza that fails to parse, which any remote user can send.

use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio_xmpp::parsers::component::Handshake;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::jid::Jid;
use tokio_xmpp::parsers::ns;
use tokio_xmpp::parsers::ping::Ping;
use tokio_xmpp::xmlstream::{
    self, FallibleStreamElement, ReadError, StreamElementError, StreamHeader, Timeouts, XmppStream,
    XmppStreamElement,
};
use tokio_xmpp::Stanza;

use super::outbound::{Outbound, Outgoing, Queued};
use super::wire::Wire;

/// What the link reports to the gateway that owns it.
#[derive(Debug)]
pub enum LinkEvent {
    /// The handshake succeeded (first time or after a reconnect).
    Up,
    Stanza(Box<Stanza>),
    /// A stanza that failed to parse; the header is what could be read.
    Invalid(Box<StreamElementError>),
}

#[derive(Debug, Clone)]
pub struct LinkConfig {
    pub host: String,
    pub port: u16,
    pub jid: Jid,
    pub secret: String,
    /// Silence before we ping the server; it then has as long to answer.
    pub keepalive: Duration,
}

/// Stanzas written per flush: coalescing writes is most of the cost saved
/// on a busy link.
const BATCH: usize = 64;
const BACKOFF_MIN: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

type Stream = XmppStream<Wire>;

#[derive(Debug, thiserror::Error)]
enum LinkError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("the server refused the handshake (wrong secret or component JID?)")]
    Refused,
    #[error("the server closed the stream")]
    Closed,
    #[error("{0}")]
    Read(ReadError),
}

async fn connect(config: &LinkConfig) -> Result<Stream, LinkError> {
    let tcp = TcpStream::connect((config.host.as_str(), config.port)).await?;
    tcp.set_nodelay(true)?;
    let timeouts = Timeouts {
        read_timeout: config.keepalive,
        response_timeout: config.keepalive,
    };
    let mut pending = xmlstream::initiate_stream(
        Wire::new(tcp),
        ns::COMPONENT,
        StreamHeader {
            to: Some(config.jid.to_string().into()),
            from: None,
            id: None,
        },
        timeouts,
    )
    .await?;
    let id = pending.take_header().id.ok_or(LinkError::Refused)?;
    let mut stream: Stream = pending.skip_features();
    let handshake = Handshake::from_stream_id_and_password(id.into_owned(), &config.secret);
    stream
        .send(&XmppStreamElement::ComponentHandshake(handshake))
        .await?;
    loop {
        match stream.next().await {
            Some(Ok(FallibleStreamElement::Ok(XmppStreamElement::ComponentHandshake(_)))) => {
                return Ok(stream)
            }
            Some(Err(ReadError::SoftTimeout)) => continue,
            Some(Err(ReadError::HardError(e))) => return Err(e.into()),
            Some(Ok(_)) | Some(Err(_)) | None => return Err(LinkError::Refused),
        }
    }
}

/// The domain the component is attached to, for keepalive pings.
fn server_domain(jid: &Jid) -> Jid {
    jid.domain()
        .as_str()
        .split_once('.')
        .and_then(|(_, rest)| Jid::new(rest).ok())
        .unwrap_or_else(|| jid.clone())
}

enum End {
    Lost(LinkError),
    Stopped,
}

/// A stanza's bytes. xmpp-parsers writes `<priority>0</priority>` into
/// every presence; ferry never sets a priority and 0 is the default
/// (RFC 6121 §4.7.2.3), while a priority on an unavailable, subscription or
/// error presence is wrong, so a zero one is left out.
pub fn serialise(stanza: &Stanza) -> Result<Vec<u8>, String> {
    match stanza {
        Stanza::Presence(p) if p.priority.0 == 0 => {
            let mut el = tokio_xmpp::parsers::minidom::Element::from(p.clone());
            el.remove_child("priority", ns::DEFAULT_NS);
            let mut out = Vec::with_capacity(256);
            el.write_to(&mut out).map_err(|e| e.to_string())?;
            Ok(out)
        }
        other => xso::to_vec(other).map_err(|e| e.to_string()),
    }
}

async fn write_batch(
    stream: &mut Stream,
    outbound: &Outbound,
    batch: Vec<Queued>,
) -> Result<(), LinkError> {
    let wire = stream.get_stream();
    for item in &batch {
        match &item.stanza {
            Outgoing::Bytes(bytes) => wire.push(bytes),
            Outgoing::Stanza(stanza) => match serialise(stanza) {
                Ok(bytes) => wire.push(&bytes),
                Err(error) => tracing::error!(%error, "a stanza could not be serialised"),
            },
        }
    }
    match SinkExt::<&Stanza>::flush(stream).await {
        Ok(()) => {
            outbound.written(&batch);
            Ok(())
        }
        Err(e) => {
            // Kept for the next connection: at-least-once beats silence.
            outbound.requeue(batch);
            Err(e.into())
        }
    }
}

async fn serve(
    config: &LinkConfig,
    stream: &mut Stream,
    outbound: &Outbound,
    events: &mpsc::Sender<LinkEvent>,
    stop: &mut watch::Receiver<bool>,
) -> End {
    let mut pings = 0u64;
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => {
                // Drain what is queued (the shutdown presences), then close.
                while outbound.len() > 0 {
                    let batch = outbound.take(BATCH).await;
                    if write_batch(stream, outbound, batch).await.is_err() {
                        break;
                    }
                }
                let _ = SinkExt::<&Stanza>::close(stream).await;
                return End::Stopped;
            }
            read = stream.next() => match read {
                Some(Ok(FallibleStreamElement::Ok(XmppStreamElement::Stanza(stanza)))) => {
                    if events.send(LinkEvent::Stanza(Box::new(stanza))).await.is_err() {
                        return End::Stopped;
                    }
                }
                Some(Ok(FallibleStreamElement::Err(error))) => {
                    tracing::debug!(%error, "invalid stanza");
                    if events.send(LinkEvent::Invalid(Box::new(error))).await.is_err() {
                        return End::Stopped;
                    }
                }
                Some(Ok(FallibleStreamElement::Ok(other))) => {
                    tracing::debug!(?other, "ignoring non-stanza element");
                }
                Some(Err(ReadError::SoftTimeout)) => {
                    pings += 1;
                    let ping = Iq::from_get(format!("ferry-keepalive-{pings}"), Ping)
                        .with_from(config.jid.clone())
                        .with_to(server_domain(&config.jid));
                    if let Err(e) = outbound.push(ping) {
                        tracing::warn!(%e, "cannot queue keepalive ping");
                    }
                }
                Some(Err(ReadError::ParseError(e))) => {
                    tracing::warn!(%e, "unparsable element from the server, skipped");
                }
                Some(Err(ReadError::HardError(e))) => return End::Lost(e.into()),
                Some(Err(e @ ReadError::StreamFooterReceived)) => return End::Lost(LinkError::Read(e)),
                None => return End::Lost(LinkError::Closed),
            },
            // Only waiting for stanzas here: the write itself happens
            // outside select!, so a read is never interrupted by it.
            batch = outbound.take(BATCH) => {
                if let Err(e) = write_batch(stream, outbound, batch).await {
                    return End::Lost(e);
                }
            }
        }
    }
}

/// Runs the link until `stop` turns true, reconnecting with backoff.
pub async fn run(
    config: LinkConfig,
    outbound: Arc<Outbound>,
    events: mpsc::Sender<LinkEvent>,
    mut stop: watch::Receiver<bool>,
) {
    let mut backoff = BACKOFF_MIN;
    loop {
        if *stop.borrow() {
            return;
        }
        match connect(&config).await {
            Ok(mut stream) => {
                tracing::info!(jid = %config.jid, "component link up");
                outbound.set_up(true);
                backoff = BACKOFF_MIN;
                if events.send(LinkEvent::Up).await.is_err() {
                    return;
                }
                let end = serve(&config, &mut stream, &outbound, &events, &mut stop).await;
                outbound.set_up(false);
                match end {
                    End::Stopped => {
                        tracing::info!(jid = %config.jid, "component link closed");
                        return;
                    }
                    End::Lost(e) => {
                        tracing::warn!(jid = %config.jid, error = %e, queued = outbound.len(), "component link lost")
                    }
                }
            }
            Err(e) => {
                tracing::warn!(jid = %config.jid, error = %e, retry_in = ?backoff, "component link failed")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.changed() => return,
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_xmpp::parsers::presence::{Presence, Type};

    #[test]
    fn presences_carry_no_default_priority() {
        for type_ in [Type::None, Type::Unavailable, Type::Subscribe, Type::Error] {
            let p = Presence::new(type_).with_to(Jid::new("u@x").unwrap());
            let text = String::from_utf8(serialise(&Stanza::Presence(p)).unwrap()).unwrap();
            assert!(!text.contains("priority"), "{text}");
            assert!(
                text.contains("to=\"u@x\"") || text.contains("to='u@x'"),
                "{text}"
            );
        }
        let p = Presence::new(Type::None).with_priority(5);
        let text = String::from_utf8(serialise(&Stanza::Presence(p)).unwrap()).unwrap();
        assert!(text.contains("<priority>5</priority>"), "{text}");
    }
}
