//! Hot standby on PostgreSQL (SPEC §5): three ferry processes on one
//! store, one Prosody, ngircd and the mail stack; and one process per
//! SQLite database.

mod harness;

use std::time::{Duration, Instant};

use harness::client::{TestClient, NS};
use harness::ircd::IrcClient;
use harness::postgres::Postgres;
use harness::stanzas::{body, register_and_subscribe, stanza};
use harness::{Ferry, World, IRC, MAIL};
use tokio_xmpp::parsers::minidom::Element;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const ROOM: &str = "#chan%127.0.0.1@irc.localhost";
const BOB: &str = "bob\\40example.org@mail.localhost";

fn on_postgres(config: String, url: &str) -> String {
    let start = config.find("url = \"sqlite://").unwrap();
    let end = start + config[start..].find('\n').unwrap();
    format!(
        "{}url = \"{url}\"\nkey = \"{KEY}\"{}",
        &config[..start],
        &config[end..]
    )
}

/// Another ferry process with the world's config, in its own directory.
fn another(w: &World, name: &str) -> Ferry {
    let config = std::fs::read_to_string(w.tmp.path().join("ferry.toml")).unwrap();
    let dir = w.tmp.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    Ferry::start(&dir, &config)
}

fn holds(f: &Ferry) -> bool {
    f.log().contains("lease acquired")
}

async fn join(alice: &mut TestClient) {
    let own = format!("{ROOM}/alice");
    let x = Element::builder("x", "http://jabber.org/protocol/muc").build();
    alice
        .send(stanza("presence", &[("to", &own)], vec![x]))
        .await;
    alice
        .expect("joined", |el| {
            el.name() == "message"
                && el.get_child("subject", NS).is_some()
                && el.attr("from").is_some_and(|f| f.starts_with(ROOM))
        })
        .await;
}

/// The room's archive, as bodies, from a MAM query.
async fn archive(alice: &mut TestClient) -> Vec<String> {
    let (rows, _) = harness::rooms::mam_page(
        alice,
        Element::builder("set", "http://jabber.org/protocol/rsm").build(),
    )
    .await;
    rows.into_iter().map(|(_, body)| body).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn standbys_take_over_and_one_process_leads() {
    let pg = Postgres::start();
    let url = pg.url();
    let mut w = World::start_irc_and_mail_with(move |c| on_postgres(c, &url)).await;
    assert!(holds(&w.ferry));
    let mut standbys = [another(&w, "second"), another(&w, "third")];
    for s in &standbys {
        s.wait_log("standby: waiting for the lease", Duration::from_secs(10))
            .await;
    }

    // alice: always-on in #chan with carol, and a mail account.
    let mut carol = IrcClient::connect(w.irc_port(), "carol").await;
    carol.send("JOIN #chan").await;
    carol.expect("carol's join", |l| l.contains(" 366 ")).await;
    let mut alice = TestClient::connect("alice", "localhost", "pw", w.xmpp.c2s).await;
    alice.available().await;
    let form = [("nick", "alice"), ("persistent", "true")];
    register_and_subscribe(&mut alice, IRC, &form).await;
    harness::stanzas::connected_on_irc(&mut alice).await;
    let mail_form = [("email", "alice@example.org"), ("password", "pw")];
    register_and_subscribe(&mut alice, MAIL, &mail_form).await;
    join(&mut alice).await;
    carol
        .expect("alice joins", |l| {
            l.starts_with(":alice!") && l.contains("JOIN")
        })
        .await;
    carol.send("PRIVMSG #chan :before the crash").await;
    alice
        .expect("the line", |el| {
            el.get_child("body", NS)
                .is_some_and(|b| b.text() == "before the crash")
        })
        .await;
    // Three mails wait in the outbox: no mail server.
    w.mail.as_mut().unwrap().stop_postfix();
    for i in 0..3 {
        let m = stanza(
            "message",
            &[("to", BOB), ("type", "chat"), ("id", &format!("m{i}"))],
            vec![body(&format!("mail {i}"))],
        );
        alice.send(m).await;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while pg.psql("SELECT COUNT(*) FROM outbox").trim() != "3" {
        assert!(Instant::now() < deadline, "the mails are not in the outbox");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // kill -9 the holder: a standby holds the lease and the links in 10 s.
    let killed = Instant::now();
    w.ferry.kill();
    w.mail.as_mut().unwrap().start_postfix();
    let new = loop {
        if let Some(i) = standbys.iter().position(holds) {
            break i;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(10),
            "no standby took over"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    standbys[new].wait_links(2).await;
    assert!(
        killed.elapsed() < Duration::from_secs(10),
        "{:?}",
        killed.elapsed()
    );
    eprintln!("takeover after kill -9: {:?}", killed.elapsed());
    carol
        .expect("alice back in #chan", |l| {
            l.starts_with(":alice!") && l.contains("JOIN")
        })
        .await;
    carol.send("PRIVMSG #chan :after the crash").await;
    let mail = w.mail.as_ref().unwrap();
    mail.wait_inbox("bob", 3, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(mail.inbox("bob").len(), 3, "each mail once");
    // The room: rejoined by the client after the new holder's 332, its
    // archive without a line twice.
    join(&mut alice).await;
    let lines = archive(&mut alice).await;
    for line in ["before the crash", "after the crash"] {
        let n = lines.iter().filter(|l| *l == line).count();
        assert_eq!(n, 1, "{line:?} in {lines:?}");
    }

    // SIGTERM the new holder: the third holds the links within 2 s.
    let third = 1 - new;
    let termed = Instant::now();
    let (status, _) = standbys[new].terminate();
    assert!(status.success());
    while standbys[third].log().matches("component link up").count() < 2 {
        assert!(
            termed.elapsed() < Duration::from_secs(5),
            "no takeover after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!("takeover after SIGTERM: {:?}", termed.elapsed());
    assert!(
        termed.elapsed() <= Duration::from_secs(2),
        "{:?}",
        termed.elapsed()
    );

    // The store gone: the holder leaves before its lease (8 s) runs out.
    let gone = Instant::now();
    pg.stop();
    let status = loop {
        if let Some(status) = standbys[third].exited() {
            break status;
        }
        assert!(
            gone.elapsed() < Duration::from_secs(8),
            "the holder kept its links"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    eprintln!("holder left after {:?} without the store", gone.elapsed());
    assert_eq!(status.code(), Some(75));
    tokio::time::sleep(Duration::from_secs(9).saturating_sub(gone.elapsed())).await;
    pg.start_again();
    // Every process started again, as the service manager would: one leads.
    w.ferry.launch();
    for s in &mut standbys {
        if s.pid().is_none() {
            s.launch();
        }
    }
    tokio::time::sleep(Duration::from_secs(12)).await;
    let all = [&w.ferry, &standbys[0], &standbys[1]];
    let leading: Vec<_> = all.iter().filter(|f| holds(f)).collect();
    assert_eq!(leading.len(), 1, "exactly one process leads");
    assert!(leading[0].log().matches("component link up").count() >= 2);
    let waiting = all
        .iter()
        .filter(|f| f.log().contains("standby: waiting"))
        .count();
    assert_eq!(waiting, 3, "each started as a standby");
}

#[tokio::test]
async fn a_second_process_on_one_sqlite_database_exits() {
    let w = World::start_irc().await;
    let started = Instant::now();
    let mut second = another(&w, "second");
    let status = loop {
        if let Some(status) = second.exited() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the second process runs"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(!status.success());
    assert!(second.log().contains("in use"), "{}", second.log());
    // The first serves on.
    let mut c = TestClient::connect("alice", "localhost", "pw", w.xmpp.c2s).await;
    let info = harness::stanzas::disco_info(&mut c, IRC, None).await;
    assert!(!info.identities.is_empty());
}
