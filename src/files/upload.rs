//! The user's server's HTTP upload service (XEP-0363): found once at
//! link-up unless the config names it, asked for slots as the bridge JID,
//! given the file by a PUT with the slot's headers.

use std::sync::Arc;
use std::time::Duration;

use xmpp_parsers::disco::{DiscoInfoQuery, DiscoInfoResult, DiscoItemsQuery, DiscoItemsResult};
use xmpp_parsers::http_upload::{SlotRequest, SlotResult};
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::minidom::Element;
use xmpp_parsers::ns;

use crate::file_state::Service;
use crate::gateway::Gateway;

/// How long a query to the server may take.
const ASK_WAIT: Duration = Duration::from_secs(10);

/// Asks `to` and waits for the answer's payload (`None`: no answer in
/// time, an error, or an empty result).
async fn ask(gw: &Gateway, to: &Jid, payload: Element) -> Option<Element> {
    let (id, answer) = gw.asks.open(to);
    gw.send(Iq::Get {
        from: Some(gw.jid.clone()),
        to: Some(to.clone()),
        id: id.clone(),
        payload,
    });
    match gw.asks.wait(&id, answer, ASK_WAIT).await? {
        Iq::Result { payload, .. } => payload,
        _ => None,
    }
}

/// Finds the upload service at link-up, where the config names none: the
/// first item of an allowed domain's server whose disco#info has the
/// upload feature. With none, files stay listed in the text.
pub async fn discover(gw: Arc<Gateway>) {
    if let Some(service) = gw.files.config.upload.clone() {
        // Its size bound, if it says one.
        let max_size = info(&gw, &service).await.and_then(|i| max_size(&i));
        return found(&gw, service, max_size).await;
    }
    for domain in &gw.access.allowed_domains {
        let Ok(server) = Jid::new(domain) else {
            continue;
        };
        let query = DiscoItemsQuery {
            node: None,
            rsm: None,
        };
        let Some(items) = ask(&gw, &server, query.into()).await else {
            continue;
        };
        let Ok(items) = DiscoItemsResult::try_from(items) else {
            continue;
        };
        for item in items.items {
            let Some(info) = info(&gw, &item.jid).await else {
                continue;
            };
            if info.features.contains(ns::HTTP_UPLOAD) {
                return found(&gw, item.jid, max_size(&info)).await;
            }
        }
    }
    tracing::info!(
        bridge = gw.name(),
        "no HTTP upload service found: a contact's files are listed by name"
    );
}

/// Takes the service, and learns the host its slots are on: the users'
/// own uploads are there, and may be fetched for them like `fetch_hosts`.
/// The slot asked for is never used (the service drops it unused).
async fn found(gw: &Gateway, jid: Jid, max_size: Option<u64>) {
    tracing::info!(bridge = gw.name(), service = %jid, ?max_size, "upload service");
    let probe = SlotRequest {
        filename: "ferry-probe.txt".to_owned(),
        size: 1,
        content_type: Some("text/plain".to_owned()),
    };
    match ask(gw, &jid, probe.into())
        .await
        .and_then(|el| SlotResult::try_from(el).ok())
    {
        Some(slot) => {
            gw.files.allow_upload_host(&slot.put.url);
            gw.files.allow_upload_host(&slot.get.url);
        }
        None => {
            tracing::warn!(bridge = gw.name(), service = %jid, "the upload service gives this bridge no slot (http_file_share_access?)")
        }
    }
    gw.files.set_service(Service { jid, max_size });
}

async fn info(gw: &Gateway, jid: &Jid) -> Option<DiscoInfoResult> {
    let answer = ask(gw, jid, DiscoInfoQuery { node: None }.into()).await?;
    DiscoInfoResult::try_from(answer).ok()
}

/// The `max-file-size` the service's disco#info form gives.
fn max_size(info: &DiscoInfoResult) -> Option<u64> {
    info.extensions.iter().find_map(|form| {
        form.fields
            .iter()
            .find(|f| f.var.as_deref() == Some("max-file-size"))
            .and_then(|f| f.values.first())
            .and_then(|v| v.trim().parse().ok())
    })
}

/// Uploads a file of `size` bytes whose bytes `body` gives; the URL it
/// can be fetched from.
pub async fn upload(
    gw: &Gateway,
    name: &str,
    content_type: &str,
    size: u64,
    body: reqwest::Body,
) -> Result<String, String> {
    let service = gw
        .files
        .service()
        .ok_or_else(|| "no upload service".to_owned())?;
    let request = SlotRequest {
        filename: name.to_owned(),
        size,
        content_type: Some(content_type.to_owned()),
    };
    let slot = ask(gw, &service.jid, request.into())
        .await
        .and_then(|el| SlotResult::try_from(el).ok())
        .ok_or_else(|| "the upload service gave no slot".to_owned())?;
    let mut put = gw
        .files
        .http
        .put(&slot.put.url)
        .header(reqwest::header::CONTENT_TYPE, content_type)
        // Said outright: a streamed body would otherwise go chunked.
        .header(reqwest::header::CONTENT_LENGTH, size)
        .body(body);
    for header in &slot.put.headers {
        put = put.header(header.name.as_str(), header.value.as_str());
    }
    let response = put
        .send()
        .await
        .map_err(|e| format!("upload: {}", e.without_url()))?;
    if !response.status().is_success() {
        return Err(format!("the upload service answered {}", response.status()));
    }
    // What the service hands out may be fetched back (a user forwarding
    // a contact's file to a mail contact).
    gw.files.allow_upload_host(&slot.put.url);
    gw.files.allow_upload_host(&slot.get.url);
    Ok(slot.get.url)
}

/// The body of a file in memory: a handle on the same bytes, no copy.
pub fn from_memory(data: &std::sync::Arc<[u8]>) -> reqwest::Body {
    bytes::Bytes::from_owner(data.clone()).into()
}

/// The body of a file in the store, read a chunk at a time as the upload
/// takes it: never the whole file in memory.
pub fn from_store(gw: &Gateway, user: &BareJid, id: i64) -> reqwest::Body {
    let (store, bridge, user) = (gw.store.clone(), gw.name().to_owned(), user.to_string());
    let chunks = futures::stream::unfold(0i64, move |seq| {
        let (store, bridge, user) = (store.clone(), bridge.clone(), user.clone());
        async move {
            match store.file_chunk(&bridge, &user, id, seq).await {
                Ok(Some(chunk)) => Some((Ok::<_, crate::store::StoreError>(chunk), seq + 1)),
                Ok(None) => None,
                Err(e) => Some((Err(e), i64::MAX)),
            }
        }
    });
    reqwest::Body::wrap_stream(chunks)
}
