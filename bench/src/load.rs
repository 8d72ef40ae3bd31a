//! The scale workload's users: one XEP-0114 component (`load.localhost`)
//! speaking for thousands of `u@load.localhost` at once, so that neither
//! c2s logins nor Prosody's per-session work limit how many users the
//! gateways see.

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
}

/// Every stanza for the users but iqs, which are answered in the component.
pub type Inbox = mpsc::UnboundedReceiver<Element>;

impl Load {
    pub async fn connect(port: u16) -> (Load, Inbox) {
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
            other => panic!("the load component was refused: {other:?}"),
        }
        let (out, mut outbox) = mpsc::unbounded_channel::<Element>();
        let (deliver, inbox) = mpsc::unbounded_channel();
        tokio::spawn(async move {
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
                        None => return,
                    },
                }
            }
        });
        (Load { out }, inbox)
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
