//! The fuzz targets' way into a session: a server's bytes through the line
//! codec, the connection's first look at each line and the session's
//! handling of it, on a session registered on one network, in one channel
//! and following one contact.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use bytes::BytesMut;
use ferry_bridge::{channel, Event, Limits};
use ferry_bridge::{SessionStorage, StorageError};
use futures::FutureExt;
use tokio_util::codec::{Decoder, Encoder};

use super::Session;
use crate::channels::Channels;
use crate::config::{IrcConfig, NetworkEntry};
use crate::connection::{Handle, Read};
use crate::isupport::Support;
use crate::line::LineCodec;
use crate::net::Net;
use crate::shared::Shared;

/// The sample config's network (deploy/ferry.toml), which the core's side of
/// the fuzz targets knows too.
const HOST: &str = "127.0.0.1";

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
    })
}

/// Feeds `data`, as a server would send it, to a fresh session; returns
/// the events the session sent the core. Panics when the session queues a
/// line the codec would refuse to write: the connection would drop and
/// retry that line after every reconnect.
pub fn server_bytes(data: &[u8]) -> Vec<Event> {
    runtime().block_on(async {
        let config = IrcConfig {
            networks: vec![NetworkEntry::Plain(format!("{HOST}:6667"))],
            default_network: Some(format!("{HOST}:6667")),
            ca_files: HashMap::new(),
            throttle_burst: 10,
            throttle_rate: 2.0,
            ping_interval: 120,
            presence_poll: 60,
            list_max: 100,
            dcc_receive: false,
            dcc_allow: Vec::new(),
            identd: None,
        };
        let shared = Arc::new(Shared::new(&config).expect("the network is valid"));
        // Room for every event one line can cause: a full one is awaited.
        let (events, mut events_rx) = channel::channel(1 << 16);
        let (lines, mut lines_rx) = channel::channel(1 << 16);
        let (auto, mut auto_rx) = channel::channel(1 << 16);
        let (control, _control_rx) = channel::channel(16);
        let (up_tx, _up_rx) = channel::channel(16);
        let support = Support::default();
        let mut channels = Channels::default();
        channels.joining(&support, "#room", "ferry_", None);
        let net = Net {
            handle: Handle {
                lines,
                queue: 1 << 16,
                auto,
                control,
                task: tokio::spawn(async {}),
            },
            nick: "ferry_".into(),
            username: "ferry".into(),
            support,
            registered: true,
            // Every capability: their paths (echoes, history batches)
            // are fuzzed too.
            caps: crate::caps::Caps::listed(
                "server-time message-tags echo-message batch labeled-response \
                 away-notify draft/chathistory",
            ),
            echoes: Default::default(),
            typing: Default::default(),
            watched: BTreeMap::from([("bob".into(), "Bob".into())]),
            online: HashSet::new(),
            away: HashMap::new(),
            whois_away: HashSet::new(),
            whois_next: 0,
            last_id: HashMap::from([("bob".into(), "m1".into())]),
            channels,
            pending_nick: None,
            reclaim: Some("ferry".into()),
            sasl_failed: false,
            pm_rooms: HashMap::new(),
            room_only: false,
            replies: Default::default(),
            lookups: Default::default(),
            listing: Default::default(),
            moderations: Default::default(),
        };
        let mut session = Session {
            // Offers are shown as text: a fuzzed line opens no connection.
            dcc: crate::dcc::Dcc {
                receive: false,
                allow: Arc::default(),
                storage: Arc::new(NoStorage),
                max_bytes: 0,
            },
            shared,
            user: "user@example.org".into(),
            limits: Limits::default(),
            nets: HashMap::from([(HOST.to_owned(), Box::new(net))]),
            events,
            up_tx,
            presence: super::attendance::Presence::new(&ferry_bridge::Attendance::Present),
        };
        let mut seen = Vec::new();
        let mut codec = LineCodec::default();
        let mut buf = BytesMut::from(data);
        while let Some(line) = codec.decode_eof(&mut buf).expect("decoding never fails") {
            if let Read::Line(message) = Read::of(&line) {
                let (message, tags) = *message;
                session.line(HOST, message, tags).await;
            }
            while let Some(Some(event)) = events_rx.recv().now_or_never() {
                seen.push(event);
            }
            // The user's lines and ferry's own (CTCP answers, polls).
            for rx in [&mut lines_rx, &mut auto_rx] {
                while let Some(Some(queued)) = rx.recv().now_or_never() {
                    LineCodec::default()
                        .encode(queued.clone(), &mut BytesMut::new())
                        .unwrap_or_else(|e| panic!("queued {queued:?}: {e}"));
                }
            }
        }
        // Tasks spawned meanwhile (the stand-in connection's) run only
        // when this future yields: without it each input would leave one
        // behind in the runtime, and memory would grow run after run.
        tokio::task::yield_now().await;
        seen
    })
}

/// The store of a fuzzed session: never reached (no outbox, no files).
struct NoStorage;

fn none<'a, T: Send + 'a>() -> ferry_bridge::BoxFuture<'a, Result<T, StorageError>> {
    Box::pin(async { Err(StorageError::Failed("no store while fuzzing".into())) })
}

impl SessionStorage for NoStorage {
    fn get<'a>(
        &'a self,
        _: &'a str,
    ) -> ferry_bridge::BoxFuture<'a, Result<Option<String>, StorageError>> {
        none()
    }
    fn put<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
    ) -> ferry_bridge::BoxFuture<'a, Result<(), StorageError>> {
        none()
    }
    fn delete<'a>(&'a self, _: &'a str) -> ferry_bridge::BoxFuture<'a, Result<(), StorageError>> {
        none()
    }
    fn outbox_push<'a>(
        &'a self,
        _: &'a str,
    ) -> ferry_bridge::BoxFuture<'a, Result<i64, StorageError>> {
        none()
    }
    fn outbox_due(
        &self,
        _: i64,
    ) -> ferry_bridge::BoxFuture<'_, Result<Vec<ferry_bridge::OutboxItem>, StorageError>> {
        none()
    }
    fn outbox_done(&self, _: i64) -> ferry_bridge::BoxFuture<'_, Result<(), StorageError>> {
        none()
    }
    fn outbox_retry(
        &self,
        _: i64,
        _: i64,
    ) -> ferry_bridge::BoxFuture<'_, Result<(), StorageError>> {
        none()
    }
    fn file_create(&self) -> ferry_bridge::BoxFuture<'_, Result<i64, StorageError>> {
        none()
    }
    fn file_append<'a>(
        &'a self,
        _: i64,
        _: i64,
        _: &'a [u8],
    ) -> ferry_bridge::BoxFuture<'a, Result<(), StorageError>> {
        none()
    }
    fn file_finish(&self, _: i64, _: u64) -> ferry_bridge::BoxFuture<'_, Result<(), StorageError>> {
        none()
    }
    fn file_size(&self, _: i64) -> ferry_bridge::BoxFuture<'_, Result<Option<u64>, StorageError>> {
        none()
    }
    fn file_chunk(
        &self,
        _: i64,
        _: i64,
    ) -> ferry_bridge::BoxFuture<'_, Result<Option<Vec<u8>>, StorageError>> {
        none()
    }
    fn file_delete(&self, _: i64) -> ferry_bridge::BoxFuture<'_, Result<(), StorageError>> {
        none()
    }
}
