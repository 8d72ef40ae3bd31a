//! Prometheus metrics on `[metrics] listen` (SPEC §5), and the admins'
//! statistics command that shows the same figures.

mod harness;

use std::time::Duration;

use harness::client::{result, TestClient};
use harness::stanzas::query;
use harness::{World, IRC};
use tokio_xmpp::parsers::data_forms::DataForm;
use tokio_xmpp::parsers::minidom::Element;

const SERIES: [&str; 12] = [
    "ferry_stanzas_in_total",
    "ferry_stanzas_out_total",
    "ferry_link_up",
    "ferry_link_queue",
    "ferry_users_online",
    "ferry_foreign_connections",
    "ferry_refused_total",
    "ferry_outbox_depth",
    "ferry_outbox_oldest_seconds",
    "ferry_archive_backlog",
    "ferry_irc_reconnects_total",
    "ferry_lease_holder",
];

async fn scrape(port: u16) -> String {
    let url = format!("http://127.0.0.1:{port}/metrics");
    for _ in 0..100 {
        if let Ok(response) = reqwest::get(&url).await {
            if response.status().is_success() {
                return response.text().await.unwrap();
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("nothing serves {url}");
}

/// The value of one series with these labels, as Prometheus text has it.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Scrapes until `series` stops changing (the series are set once a
/// second from ferry's counts).
async fn settled(port: u16, series: &str) -> f64 {
    let mut last = value(&scrape(port).await, series);
    loop {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let now = value(&scrape(port).await, series);
        if now == last {
            return now.unwrap_or_else(|| panic!("no {series}"));
        }
        last = now;
    }
}

#[tokio::test]
async fn metrics_count_what_passes_and_admins_see_them() {
    let port = harness::free_port();
    let w = World::start_irc_with(move |c, _| {
        format!("{c}\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n")
    })
    .await;
    let mut alice = TestClient::connect("alice", "localhost", "pw", w.xmpp.c2s).await;
    alice.available().await;
    // The bridges' series appear with the first sample after their start.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let text = scrape(port).await;
        let missing: Vec<_> = SERIES.iter().filter(|s| !text.contains(*s)).collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{missing:?} missing:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let stanzas_in = "ferry_stanzas_in_total{bridge=\"irc.localhost\"}";
    let stanzas_out = "ferry_stanzas_out_total{bridge=\"irc.localhost\"}";
    let link_up = "ferry_link_up{bridge=\"irc.localhost\"}";
    let before = settled(port, stanzas_in).await;
    let out_before = settled(port, stanzas_out).await;
    assert_eq!(value(&scrape(port).await, link_up), Some(1.0));

    const SENT: usize = 25;
    for _ in 0..SENT {
        let info = alice
            .iq(IRC, false, query("http://jabber.org/protocol/disco#info"))
            .await;
        assert_eq!(info.attr("type"), Some("result"));
    }
    let after = settled(port, stanzas_in).await;
    assert_eq!(after - before, SENT as f64, "each stanza sent counted once");
    assert!(settled(port, stanzas_out).await - out_before >= SENT as f64);

    // The admins' command shows the same count.
    let mut admin = TestClient::connect("admin", "localhost", "pw", w.xmpp.c2s).await;
    let command = Element::builder("command", "http://jabber.org/protocol/commands")
        .attr(harness::client::ncname("node"), "statistics")
        .attr(harness::client::ncname("action"), "execute")
        .build();
    let answer = result(admin.iq(IRC, true, command).await).expect("statistics");
    let form = DataForm::try_from(answer.get_child("x", "jabber:x:data").unwrap().clone()).unwrap();
    let shown = |var: &str| -> u64 {
        let field = form.fields.iter().find(|f| f.var.as_deref() == Some(var));
        field.unwrap().values[0].parse().unwrap()
    };
    assert!(
        shown("stanzas_in") >= after as u64,
        "{}",
        String::from(&answer)
    );
    assert_eq!(shown("outbox_depth"), 0);
}
