//! A real XMPP client session on tokio-xmpp's XML stream layer.
//!
//! tokio-xmpp's `Client` cannot be used here: ferry enables xmpp-parsers'
//! `component` feature, which switches every typed stanza of the build to
//! the `jabber:component:accept` namespace, and Prosody rightly refuses
//! those from a client. So the test client logs in (SASL PLAIN, bind) with
//! the same library's stream layer and speaks in `minidom` elements.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncBufRead, AsyncWrite, BufStream};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_xmpp::connect::AsyncReadAndWrite;
use tokio_xmpp::parsers::minidom::Element;
use tokio_xmpp::xmlstream::{initiate_stream, StreamHeader, Timeouts, XmlStream};

/// How long `expect` waits: long enough for a loaded 2-core machine running
/// several tests' servers at once; only a failing test waits it out.
pub const WAIT: Duration = Duration::from_secs(20);
pub const NS: &str = "jabber:client";

/// Plain TCP or TLS after STARTTLS, behind one type.
type Transport = Box<dyn AsyncReadAndWrite + Send>;
type Stream = XmlStream<Transport, Element>;

pub struct TestClient {
    pub jid: String,
    out: mpsc::Sender<Element>,
    inbox: mpsc::Receiver<Element>,
    next_id: u32,
}

fn header(host: &str) -> StreamHeader<'static> {
    StreamHeader {
        to: Some(host.to_owned().into()),
        from: None,
        id: None,
    }
}

async fn next<Io: AsyncBufRead + AsyncWrite + Unpin>(
    stream: &mut XmlStream<Io, Element>,
) -> Element {
    match tokio::time::timeout(WAIT, stream.next()).await {
        Ok(Some(Ok(el))) => el,
        other => panic!("login: unexpected {other:?}"),
    }
}

const TLS_NS: &str = "urn:ietf:params:xml:ns:xmpp-tls";

/// STARTTLS on a fresh connection, trusting only the PEM certificate in
/// `cert`: what a user does who accepts a server's self-signed certificate.
async fn starttls(tcp: TcpStream, host: &str, cert: &Path) -> Transport {
    let pending = initiate_stream(BufStream::new(tcp), NS, header(host), Timeouts::tight())
        .await
        .unwrap();
    let (features, mut stream) = pending.recv_features::<Element>().await.unwrap();
    assert!(features.starttls.is_some(), "{host} offers no STARTTLS");
    stream
        .send(&Element::builder("starttls", TLS_NS).build())
        .await
        .unwrap();
    let answer = next(&mut stream).await;
    assert_eq!(answer.name(), "proceed", "STARTTLS with {host}");
    let tcp = stream.into_inner().into_inner();
    let pem = std::fs::read(cert).unwrap_or_else(|e| panic!("{}: {e}", cert.display()));
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(host.to_owned()).unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .unwrap_or_else(|e| panic!("TLS handshake with {host}: {e}"));
    Box::new(BufStream::new(tls))
}

/// Logs in with SASL PLAIN, after STARTTLS when `cert` is given.
async fn login(
    user: &str,
    host: &str,
    password: &str,
    port: u16,
    cert: Option<&Path>,
) -> (Stream, String) {
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let transport = match cert {
        Some(cert) => starttls(tcp, host, cert).await,
        None => Box::new(BufStream::new(tcp)),
    };
    let pending = initiate_stream(transport, NS, header(host), Timeouts::tight())
        .await
        .unwrap();
    let (_, mut stream) = pending.recv_features::<Element>().await.unwrap();
    let token = base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"));
    let auth = Element::builder("auth", "urn:ietf:params:xml:ns:xmpp-sasl")
        .attr(ncname("mechanism"), "PLAIN")
        .append(token)
        .build();
    stream.send(&auth).await.unwrap();
    let answer = next(&mut stream).await;
    assert_eq!(answer.name(), "success", "login of {user}@{host}");
    let pending = stream
        .initiate_reset()
        .send_header(header(host))
        .await
        .unwrap();
    let (_, mut stream) = pending.recv_features::<Element>().await.unwrap();
    let bind = Element::builder("iq", NS)
        .attr(ncname("type"), "set")
        .attr(ncname("id"), "bind")
        .append(Element::builder("bind", "urn:ietf:params:xml:ns:xmpp-bind"))
        .build();
    stream.send(&bind).await.unwrap();
    let bound = next(&mut stream).await;
    let jid = bound
        .get_child("bind", "urn:ietf:params:xml:ns:xmpp-bind")
        .and_then(|b| b.get_child("jid", "urn:ietf:params:xml:ns:xmpp-bind"))
        .map(|j| j.text())
        .expect("bound jid");
    (stream, jid)
}

pub fn ncname(name: &str) -> tokio_xmpp::parsers::minidom::rxml::NcName {
    tokio_xmpp::parsers::minidom::rxml::NcName::try_from(name).unwrap()
}

impl TestClient {
    /// Logs in as `user@host` and keeps the session in a task.
    pub async fn connect(user: &str, host: &str, password: &str, port: u16) -> TestClient {
        TestClient::session(login(user, host, password, port, None).await)
    }

    /// Logs in over STARTTLS, trusting the PEM certificate in `cert`.
    pub async fn connect_tls(
        user: &str,
        host: &str,
        password: &str,
        port: u16,
        cert: &Path,
    ) -> TestClient {
        TestClient::session(login(user, host, password, port, Some(cert)).await)
    }

    fn session((mut stream, jid): (Stream, String)) -> TestClient {
        let (out_tx, mut out_rx) = mpsc::channel::<Element>(64);
        let (in_tx, inbox) = mpsc::channel::<Element>(1024);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    read = stream.next() => match read {
                        Some(Ok(el)) => {
                            if in_tx.send(el).await.is_err() {
                                return;
                            }
                        }
                        Some(Err(tokio_xmpp::xmlstream::ReadError::SoftTimeout)) => {}
                        Some(Err(_)) | None => return,
                    },
                    out = out_rx.recv() => match out {
                        Some(el) => { let _ = stream.send(&el).await; }
                        None => { let _ = SinkExt::<&Element>::close(&mut stream).await; return; }
                    },
                }
            }
        });
        TestClient {
            jid,
            out: out_tx,
            inbox,
            next_id: 0,
        }
    }

    pub async fn send(&self, el: Element) {
        self.out.send(el).await.expect("client task alive");
    }

    pub async fn presence(&self, to: Option<&str>, type_: Option<&str>) {
        let mut p = Element::builder("presence", NS);
        if let Some(to) = to {
            p = p.attr(ncname("to"), to);
        }
        if let Some(t) = type_ {
            p = p.attr(ncname("type"), t);
        }
        self.send(p.build()).await;
    }

    pub async fn available(&self) {
        self.presence(None, None).await;
    }

    /// The next stanza matching `pred`, skipping others; panics after WAIT.
    pub async fn expect(&mut self, what: &str, pred: impl Fn(&Element) -> bool) -> Element {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.inbox.recv()).await {
                Ok(Some(el)) if pred(&el) => return el,
                Ok(Some(_)) => continue,
                Ok(None) => panic!("connection closed while waiting for {what}"),
                Err(_) => panic!("timed out waiting for {what}"),
            }
        }
    }

    /// The next stanza matching `pred` within `wait`, if one comes.
    pub async fn arrives_item(
        &mut self,
        wait: Duration,
        pred: impl Fn(&Element) -> bool,
    ) -> Option<Element> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.inbox.recv()).await {
                Ok(Some(el)) if pred(&el) => return Some(el),
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => return None,
            }
        }
    }

    /// Whether a stanza matching `pred` arrives within `wait`.
    pub async fn arrives(&mut self, wait: Duration, pred: impl Fn(&Element) -> bool) -> bool {
        self.arrives_item(wait, pred).await.is_some()
    }

    /// Sends an iq and returns its answer (result or error).
    pub async fn iq(&mut self, to: &str, set: bool, payload: Element) -> Element {
        self.next_id += 1;
        let id = format!("t{}", self.next_id);
        let iq = Element::builder("iq", NS)
            .attr(ncname("to"), to)
            .attr(ncname("id"), id.as_str())
            .attr(ncname("type"), if set { "set" } else { "get" })
            .append(payload)
            .build();
        self.send(iq).await;
        self.expect(&format!("answer to iq {id}"), |el| {
            el.name() == "iq"
                && el.attr("id") == Some(id.as_str())
                && matches!(el.attr("type"), Some("result") | Some("error"))
        })
        .await
    }
}

/// The bare part of a JID string.
pub fn bare(jid: &str) -> &str {
    jid.split('/').next().unwrap_or(jid)
}

/// A presence from `from` (bare) with `type_` (None: available).
pub fn presence_from(el: &Element, from: &str, type_: Option<&str>) -> bool {
    el.name() == "presence" && el.attr("from").map(bare) == Some(from) && el.attr("type") == type_
}

/// The payload of a result; panics naming the error otherwise.
pub fn result(iq: Element) -> Option<Element> {
    assert_eq!(
        iq.attr("type"),
        Some("result"),
        "expected a result: {}",
        String::from(&iq)
    );
    iq.children().next().cloned()
}

/// The defined condition of an error answer.
pub fn error_condition(stanza: &Element) -> String {
    stanza
        .children()
        .find(|c| c.name() == "error")
        .and_then(|e| {
            e.children()
                .find(|c| c.ns() == "urn:ietf:params:xml:ns:xmpp-stanzas" && c.name() != "text")
        })
        .map(|c| c.name().to_owned())
        .unwrap_or_else(|| panic!("expected an error: {}", String::from(stanza)))
}

pub fn error_text(stanza: &Element) -> String {
    stanza
        .children()
        .find(|c| c.name() == "error")
        .and_then(|e| e.get_child("text", "urn:ietf:params:xml:ns:xmpp-stanzas"))
        .map(|t| t.text())
        .unwrap_or_default()
}
