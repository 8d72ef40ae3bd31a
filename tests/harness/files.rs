//! Files in the end-to-end harness: Prosody's own HTTP upload service
//! (mod_http_file_share, in Debian's prosody 0.12), a client's upload
//! through it, plain HTTP downloads, and an HTTP server that stalls.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_xmpp::parsers::minidom::Element;

use super::client::{ncname, result, TestClient};
use super::World;

pub const UPLOAD: &str = "upload.localhost";
const NS_UPLOAD: &str = "urn:xmpp:http:upload:0";

/// Gives the world's Prosody an upload service on a free HTTP port (files
/// up to 40 MB), restarts it, and waits for ferry's links to come back.
/// Returns the HTTP port.
pub async fn with_uploads(w: &mut World) -> u16 {
    let port = super::free_port();
    w.xmpp.prosody().reconfigure(|c| {
        let none = "http_ports = { }";
        assert!(c.contains(none), "the harness's Prosody config changed");
        let c = c.replace(
            none,
            &format!(
                "http_ports = {{ {port} }}\nhttp_interfaces = {{ \"127.0.0.1\" }}\n\
                 http_default_host = \"{UPLOAD}\"\n\
                 http_external_url = \"http://127.0.0.1:{port}/\""
            ),
        );
        format!(
            "{c}\nComponent \"{UPLOAD}\" \"http_file_share\"\n    \
             http_file_share_size_limit = 40*1024*1024\n    \
             http_file_share_daily_quota = 1024*1024*1024\n"
        )
    });
    let links = w.ferry.log().matches("component link up").count();
    w.ferry.wait_links(links + 2).await;
    found_uploads(w).await;
    port
}

/// Waits until each bridge of ferry's (this run) found the service.
pub async fn found_uploads(w: &World) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let found = |log: String| {
        log.lines()
            .filter(|l| l.contains("upload service") && l.contains("max_size"))
            .count()
    };
    while found(w.ferry.log()) < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "ferry found no upload service; log:\n{}",
            w.ferry.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Uploads `data` as the client does: a slot from the service, then a
/// PUT. Returns the download URL.
pub async fn upload(c: &mut TestClient, name: &str, content_type: &str, data: &[u8]) -> String {
    let request = Element::builder("request", NS_UPLOAD)
        .attr(ncname("filename"), name)
        .attr(ncname("size"), data.len().to_string())
        .attr(ncname("content-type"), content_type)
        .build();
    let slot = result(c.iq(UPLOAD, false, request).await).expect("an upload slot");
    let put = slot.get_child("put", NS_UPLOAD).expect("put");
    let get = slot.get_child("get", NS_UPLOAD).expect("get");
    let mut request = reqwest::Client::new()
        .put(put.attr("url").unwrap())
        .header("content-type", content_type)
        .body(data.to_vec());
    for header in put.children() {
        request = request.header(header.attr("name").unwrap(), header.text());
    }
    let response = request.send().await.expect("PUT");
    assert!(response.status().is_success(), "PUT: {}", response.status());
    get.attr("url").unwrap().to_owned()
}

/// The bytes at `url`.
pub async fn download(url: &str) -> Vec<u8> {
    let response = reqwest::get(url).await.expect("GET");
    assert!(
        response.status().is_success(),
        "GET {url}: {}",
        response.status()
    );
    response.bytes().await.unwrap().to_vec()
}

/// An HTTP server on a free port that answers every request with headers
/// and a few bytes of a longer body, then says nothing more. Returns the
/// port; the server lives as long as the runtime.
pub async fn stalling_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = [0u8; 2048];
            let _ = socket.read(&mut request).await;
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/pdf\r\n\
                        Content-Length: 100000\r\n\r\n%PDF-1.4";
            let _ = socket.write_all(head.as_bytes()).await;
            held.push(socket);
        }
    });
    port
}
