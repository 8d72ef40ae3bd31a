//! The scale workload's users: one XEP-0114 component (`load.localhost`)
//! speaking for thousands of `u@load.localhost` at once, so that neither
//! c2s logins nor Prosody's per-session work limit how many users the
//! gateways see.

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use tokio::io::BufStream;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_xmpp::parsers::component::Handshake;
use tokio_xmpp::parsers::minidom::Element;
use tokio_xmpp::xmlstream::{initiate_stream, ReadError, StreamHeader, Timeouts};

use crate::harness::client::ncname;
use crate::harness::Prosody;

pub const DOMAIN: &str = "load.localhost";
const SECRET: &str = "load-secret";
pub const NS: &str = "jabber:component:accept";

/// Adds the component to the harness's Prosody, whose debug log (a line
/// per stanza) would make Prosody the bottleneck of every pass, and
/// restarts it.
pub fn attach(prosody: &mut Prosody) {
    let path = prosody.dir.join("prosody.cfg.lua");
    let config = std::fs::read_to_string(&path).unwrap();
    assert!(
        config.contains("min = \"debug\""),
        "the harness's Prosody log changed"
    );
    let config = config.replace("min = \"debug\"", "min = \"info\"")
        + &format!("Component \"{DOMAIN}\"\n    component_secret = \"{SECRET}\"\n");
    std::fs::write(&path, config).unwrap();
    prosody.restart();
}

pub struct Load {
    out: mpsc::UnboundedSender<Element>,
    link: tokio::task::JoinHandle<()>,
}

/// How long a new load component waits for Prosody to let go of the last
/// one's name: Prosody unregisters a component when it has processed its
/// stream's end, not when the socket closes.
const NAME_FREED: Duration = Duration::from_secs(10);

/// Every stanza for the users but iqs, which are answered in the component.
pub type Inbox = mpsc::UnboundedReceiver<Element>;

impl Load {
    /// Connects as the load component; the previous pass's one may still
    /// hold the name for a moment, so a conflict is tried again.
    pub async fn connect(port: u16) -> (Load, Inbox) {
        let began = Instant::now();
        loop {
            match Self::try_connect(port).await {
                Ok(connected) => return connected,
                Err(refusal) if began.elapsed() < NAME_FREED => {
                    eprintln!("  load component refused ({refusal}), trying again");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(refusal) => panic!("the load component was refused: {refusal}"),
            }
        }
    }

    async fn try_connect(port: u16) -> Result<(Load, Inbox), String> {
        let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let header = StreamHeader {
            to: Some(DOMAIN.into()),
            from: None,
            id: None,
        };
        // Default (long) timeouts: the idle phase is silent for a minute.
        let mut pending = initiate_stream(BufStream::new(tcp), NS, header, Timeouts::default())
            .await
            .unwrap();
        let id = pending.take_header().id.expect("a stream id").into_owned();
        let mut stream = pending.skip_features::<Element>();
        let handshake = Element::from(Handshake::from_stream_id_and_password(id, SECRET));
        stream.send(&handshake).await.unwrap();
        match stream.next().await {
            Some(Ok(el)) if el.name() == "handshake" => {}
            other => return Err(format!("{other:?}")),
        }
        let (out, mut outbox) = mpsc::unbounded_channel::<Element>();
        let (deliver, inbox) = mpsc::unbounded_channel();
        let link = tokio::spawn(async move {
            loop {
                tokio::select! {
                    read = stream.next() => match read {
                        Some(Ok(el)) if el.name() == "iq" => match answer(&el) {
                            Some(answer) => {
                                let _ = stream.send(&answer).await;
                            }
                            // Answers to the load's own requests.
                            None => {
                                let _ = deliver.send(el);
                            }
                        },
                        Some(Ok(el)) => {
                            let _ = deliver.send(el);
                        }
                        Some(Err(ReadError::SoftTimeout)) => {}
                        Some(Err(_)) | None => return,
                    },
                    el = outbox.recv() => match el {
                        Some(el) => {
                            if stream.send(&el).await.is_err() {
                                return;
                            }
                        }
                        None => break,
                    },
                }
            }
            // The stream's end, then Prosody's: the name is free after it.
            if SinkExt::<&Element>::close(&mut stream).await.is_ok() {
                // Until its end (or an error): a stream that ended keeps
                // answering at once, and a loop over that never yields.
                let drained = async { while let Some(Ok(_)) = stream.next().await {} };
                let _ = tokio::time::timeout(Duration::from_secs(5), drained).await;
            }
        });
        Ok((Load { out, link }, inbox))
    }

    /// Ends the component's stream and waits until Prosody has ended its
    /// own, so that the next pass's component can take the name.
    pub async fn close(self) {
        drop(self.out);
        let _ = self.link.await;
    }

    pub fn send(&self, el: Element) {
        let _ = self.out.send(el);
    }
}

/// What a user's client answers to an iq from a gateway: biboumi pings a
/// user's resource before it answers its IRC server's PING (a silent user
/// counts as gone), so pings get a result; anything else is not offered.
fn answer(iq: &Element) -> Option<Element> {
    let type_ = iq.attr("type")?;
    if type_ != "get" && type_ != "set" {
        return None;
    }
    let mut reply = Element::builder("iq", NS)
        .attr(ncname("from"), iq.attr("to").unwrap_or_default())
        .attr(ncname("to"), iq.attr("from").unwrap_or_default())
        .attr(ncname("id"), iq.attr("id").unwrap_or_default());
    if iq.has_child("ping", "urn:xmpp:ping") {
        reply = reply.attr(ncname("type"), "result");
    } else {
        reply = reply.attr(ncname("type"), "error").append(
            Element::builder("error", NS)
                .attr(ncname("type"), "cancel")
                .append(Element::builder(
                    "service-unavailable",
                    "urn:ietf:params:xml:ns:xmpp-stanzas",
                )),
        );
    }
    Some(reply.build())
}
