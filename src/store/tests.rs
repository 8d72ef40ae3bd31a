//! The same store tests against SQLite and a real PostgreSQL started in a
//! temp dir (Debian's package; see tests/harness for the e2e servers).

use super::*;
use ferry_bridge::{Registration, Secret};

/// Everything the store keeps for a user, on one store: each part in turn,
/// then the user's removal, which takes all of it.
async fn exercise(store: &Store) {
    exercise_registrations(store).await;
    exercise_contacts(store).await;
    exercise_state(store).await;
    exercise_outbox(store).await;
    exercise_state_taken(store).await;
    exercise_archive(store).await;
    exercise_replays(store).await;
    exercise_files(store).await;
    exercise_removal(store).await;
}

/// A file is written in chunks, read back by its owner only, and gone
/// once deleted; an unfinished one is never read.
async fn exercise_files(store: &Store) {
    let id = store.file_create("mail.gw", "a@localhost").await.unwrap();
    let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    for (seq, chunk) in bytes.chunks(30_000).enumerate() {
        store.file_append(id, seq as i64, chunk).await.unwrap();
    }
    let read = |user: &'static str| store.file_size("mail.gw", user, id);
    assert_eq!(read("a@localhost").await.unwrap(), None, "not finished");
    store.file_finish(id, bytes.len() as u64).await.unwrap();
    assert_eq!(read("a@localhost").await.unwrap(), Some(70_000));
    let chunk = |user: &'static str, seq| store.file_chunk("mail.gw", user, id, seq);
    assert_eq!(
        chunk("a@localhost", 0).await.unwrap().as_deref(),
        Some(&bytes[..30_000])
    );
    assert_eq!(
        chunk("a@localhost", 2).await.unwrap().as_deref(),
        Some(&bytes[60_000..])
    );
    assert_eq!(
        chunk("a@localhost", 3).await.unwrap(),
        None,
        "past the last"
    );
    assert_eq!(chunk("b@localhost", 0).await.unwrap(), None, "not b's");
    let owned = store.file_append_owned("mail.gw", "b@localhost", id, 9, b"x");
    assert!(owned.await.is_err(), "b cannot write to it");
    assert_eq!(read("b@localhost").await.unwrap(), None, "not b's");
    store
        .file_delete("mail.gw", "b@localhost", id)
        .await
        .unwrap();
    assert!(
        read("a@localhost").await.unwrap().is_some(),
        "b cannot delete it"
    );
    store
        .file_delete("mail.gw", "a@localhost", id)
        .await
        .unwrap();
    assert_eq!(read("a@localhost").await.unwrap(), None);
    // What a user leaves goes with their removal.
    let kept = store.file_create("irc.gw", "f@localhost").await.unwrap();
    store.file_append(kept, 0, b"x").await.unwrap();
    store.file_finish(kept, 1).await.unwrap();
    assert_eq!(store.files_sweep().await.unwrap(), 0, "a fresh file stays");
    let read = store.file_size("irc.gw", "f@localhost", kept);
    assert_eq!(read.await.unwrap(), Some(1));
    store.remove_user("irc.gw", "f@localhost").await.unwrap();
    let read = store.file_size("irc.gw", "f@localhost", kept);
    assert_eq!(read.await.unwrap(), None);
}

/// A line a server replays is archived once: by its foreign id, else by
/// nick and text near its time; other lines and other users' stay apart.
async fn exercise_replays(store: &Store) {
    let line = |user: &str, seq: i64, id: Option<&str>, body: &str| Archived {
        bridge: "irc.gw".into(),
        user: user.into(),
        room: "#replay".into(),
        seq,
        nick: "n".into(),
        body: body.into(),
        action: false,
        foreign_id: id.map(String::from),
    };
    let live = line("a@localhost", 10_000_000, Some("m1"), "hi");
    store.archive_batch(&[live]).await.unwrap();
    // Replayed at the server's (earlier) time: known, and a write of it
    // anyway adds nothing.
    let replay = line("a@localhost", 9_000_000, Some("m1"), "hi");
    assert_eq!(store.archive_replay(&replay).await.unwrap(), None);
    store.archive_batch(&[replay]).await.unwrap();
    let another = line("a@localhost", 9_000_001, Some("m2"), "hi there");
    // Unknown: the room's newest archive id, to be placed after.
    assert_eq!(
        store.archive_replay(&another).await.unwrap(),
        Some(10_000_000)
    );
    assert_eq!(
        store
            .archive_replay(&line("b@localhost", 9_000_000, Some("m1"), "hi"))
            .await
            .unwrap(),
        Some(0)
    );
    // Without ids: the same nick and text within seconds.
    let plain = line("a@localhost", 20_000_000, None, "plain");
    store.archive_batch(&[plain]).await.unwrap();
    let replay = |seq: i64, body: &'static str| {
        let row = line("a@localhost", seq, None, body);
        async move { store.archive_replay(&row).await.unwrap() }
    };
    assert_eq!(replay(19_000_000, "plain").await, None);
    assert_eq!(replay(19_000_000, "other").await, Some(20_000_000));
    assert_eq!(replay(40_000_000, "plain").await, Some(20_000_000));
    let (rows, _) = store
        .archive_query(
            "irc.gw",
            "a@localhost",
            "#replay",
            &Filter {
                max: 10,
                ..Filter::default()
            },
        )
        .await
        .unwrap();
    let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, [10_000_000, 20_000_000]);
    // Replies and reactions find lines both ways.
    let archive = ("irc.gw", "a@localhost", "#replay");
    let row = store
        .archive_row(archive, 10_000_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.body.as_str(), row.foreign_id.as_deref()),
        ("hi", Some("m1"))
    );
    assert!(store.archive_row(archive, 1).await.unwrap().is_none());
    assert_eq!(
        store.archive_find(archive, "m1").await.unwrap(),
        Some((10_000_000, "n".to_owned()))
    );
    let others = ("irc.gw", "b@localhost", "#replay");
    assert_eq!(store.archive_find(others, "m1").await.unwrap(), None);
}

/// a@localhost registers, secrets kept encrypted; b@localhost does not.
async fn exercise_registrations(store: &Store) {
    let mut reg = Registration::default();
    reg.fields.insert("nick".into(), "alice".into());
    reg.secrets
        .insert("password".into(), Secret::new("hunter2-secret"));
    assert!(store
        .save_registration("irc.gw", "a@localhost", "", &reg)
        .await
        .unwrap());
    assert_eq!(
        store
            .registration("irc.gw", "a@localhost", "")
            .await
            .unwrap()
            .unwrap(),
        reg
    );
    // A second identity (another scope) is not a first registration.
    assert!(!store
        .save_registration("irc.gw", "a@localhost", "other.net", &reg)
        .await
        .unwrap());
    assert!(store
        .raw_rows()
        .await
        .iter()
        .all(|row| !row.contains("hunter2-secret")));
    assert!(store
        .registration("irc.gw", "b@localhost", "")
        .await
        .unwrap()
        .is_none());
}

/// A contact added twice is kept once; a@localhost is the one registered.
async fn exercise_contacts(store: &Store) {
    store
        .add_contact("irc.gw", "a@localhost", "x%h@irc.gw")
        .await
        .unwrap();
    store
        .add_contact("irc.gw", "a@localhost", "x%h@irc.gw")
        .await
        .unwrap();
    assert_eq!(
        store.contacts("irc.gw", "a@localhost").await.unwrap(),
        ["x%h@irc.gw"]
    );
    assert_eq!(
        store.registered_users("irc.gw").await.unwrap(),
        ["a@localhost"]
    );
}

/// Per-user state, scoped to its owner.
async fn exercise_state(store: &Store) {
    store
        .state_put("irc.gw", "a@localhost", "uidnext", "42")
        .await
        .unwrap();
    store
        .state_put("irc.gw", "a@localhost", "uidnext", "43")
        .await
        .unwrap();
    assert_eq!(
        store
            .state_get("irc.gw", "a@localhost", "uidnext")
            .await
            .unwrap()
            .as_deref(),
        Some("43")
    );
    assert_eq!(
        store
            .state_get("irc.gw", "b@localhost", "uidnext")
            .await
            .unwrap(),
        None
    );
}

/// The durable outbox: bounded, retried later, scoped to its owner.
async fn exercise_outbox(store: &Store) {
    let first = store
        .outbox_push("irc.gw", "a@localhost", "one", 2)
        .await
        .unwrap()
        .unwrap();
    let second = store
        .outbox_push("irc.gw", "a@localhost", "two", 2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store
            .outbox_push("irc.gw", "a@localhost", "three", 2)
            .await
            .unwrap(),
        None
    );
    let due = store.outbox_due("irc.gw", "a@localhost", 0).await.unwrap();
    assert_eq!(
        due,
        [
            (first, "one".to_string(), 0),
            (second, "two".to_string(), 0)
        ]
    );
    store
        .outbox_retry("irc.gw", "a@localhost", first, 100)
        .await
        .unwrap();
    let due = store.outbox_due("irc.gw", "a@localhost", 50).await.unwrap();
    assert_eq!(due.len(), 1);
    let due = store
        .outbox_due("irc.gw", "a@localhost", 100)
        .await
        .unwrap();
    assert_eq!(due[0], (first, "one".to_string(), 1));
    store
        .outbox_done("irc.gw", "b@localhost", second)
        .await
        .unwrap();
    assert_eq!(
        store
            .outbox_due("irc.gw", "a@localhost", 100)
            .await
            .unwrap()
            .len(),
        2,
        "another user cannot remove it"
    );
    store
        .outbox_done("irc.gw", "a@localhost", second)
        .await
        .unwrap();
    assert_eq!(
        store
            .outbox_due("irc.gw", "a@localhost", 100)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// One key for every user, taken once: read and gone; other keys stay.
async fn exercise_state_taken(store: &Store) {
    for (user, value) in [("a@localhost", "1"), ("c@localhost", "2")] {
        store
            .state_put("irc.gw", user, "rooms", value)
            .await
            .unwrap();
    }
    store
        .state_put("mail.gw", "a@localhost", "rooms", "3")
        .await
        .unwrap();
    let mut taken = store.state_take_all("irc.gw", "rooms").await.unwrap();
    taken.sort();
    assert_eq!(
        taken,
        [
            ("a@localhost".into(), "1".into()),
            ("c@localhost".into(), "2".into())
        ]
    );
    assert!(store
        .state_take_all("irc.gw", "rooms")
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .state_get("irc.gw", "a@localhost", "uidnext")
            .await
            .unwrap()
            .as_deref(),
        Some("43"),
        "other keys stay"
    );
    assert_eq!(
        store
            .state_take_all("mail.gw", "rooms")
            .await
            .unwrap()
            .len(),
        1
    );
    store
        .state_delete("irc.gw", "a@localhost", "uidnext")
        .await
        .unwrap();
    assert_eq!(
        store
            .state_get("irc.gw", "a@localhost", "uidnext")
            .await
            .unwrap(),
        None
    );
}

/// Unregistering a@localhost removes all the store kept for them.
async fn exercise_removal(store: &Store) {
    assert!(store.remove_user("irc.gw", "a@localhost").await.unwrap());
    let all = Filter {
        max: 100,
        ..Filter::default()
    };
    let (gone, _) = store
        .archive_query("irc.gw", "a@localhost", "#r", &all)
        .await
        .unwrap();
    assert!(gone.is_empty(), "unregistering removes the archive");
    assert!(store
        .outbox_due("irc.gw", "a@localhost", i64::MAX)
        .await
        .unwrap()
        .is_empty());
    assert!(!store.remove_user("irc.gw", "a@localhost").await.unwrap());
    assert!(store
        .contacts("irc.gw", "a@localhost")
        .await
        .unwrap()
        .is_empty());
    assert!(store.registered_users("irc.gw").await.unwrap().is_empty());
}

/// Two users' archives of one room, kept apart; pages, filters, retention.
async fn exercise_archive(store: &Store) {
    let row = |user: &str, seq: i64, nick: &str| Archived {
        bridge: "irc.gw".into(),
        user: user.into(),
        room: "#r".into(),
        seq,
        nick: nick.into(),
        body: format!("line {seq}"),
        action: seq % 2 == 0,
        foreign_id: None,
    };
    let mut rows: Vec<Archived> = (1..=40).map(|i| row("a@localhost", i, "n")).collect();
    rows.push(row("b@localhost", 41, "m"));
    store.archive_batch(&rows).await.unwrap();
    // Written twice (a retried batch): no duplicates.
    store.archive_batch(&rows[..3]).await.unwrap();
    let page = |filter: Filter| async move {
        store
            .archive_query("irc.gw", "a@localhost", "#r", &filter)
            .await
            .unwrap()
    };
    let (first, complete) = page(Filter {
        max: 10,
        ..Filter::default()
    })
    .await;
    assert_eq!(
        first.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (1..=10).collect::<Vec<_>>()
    );
    assert!(!complete);
    assert_eq!(first[1], row("a@localhost", 2, "n"));
    let (last, complete) = page(Filter {
        max: 5,
        last_page: true,
        ..Filter::default()
    })
    .await;
    assert_eq!(
        last.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (36..=40).collect::<Vec<_>>()
    );
    assert!(!complete);
    let (window, complete) = page(Filter {
        start: Some(5),
        end: Some(8),
        after: Some(5),
        max: 10,
        ..Filter::default()
    })
    .await;
    assert_eq!(window.iter().map(|r| r.seq).collect::<Vec<_>>(), [6, 7, 8]);
    assert!(complete);
    let (theirs, _) = store
        .archive_query(
            "irc.gw",
            "b@localhost",
            "#r",
            &Filter {
                max: 10,
                nick: Some("m".into()),
                ..Filter::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(theirs, [row("b@localhost", 41, "m")]);
    // Older than 11 goes, then all but the newest 20 of each archive.
    store.archive_prune(11, 20).await.unwrap();
    let (kept, _) = page(Filter {
        max: 100,
        ..Filter::default()
    })
    .await;
    assert_eq!(
        kept.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (21..=40).collect::<Vec<_>>()
    );
}

/// The first migration that keys archive rows by a number per archive.
const ARCHIVE_ROOMS: i64 = 20261123000004;

/// A database as ferry left it before `ARCHIVE_ROOMS`: migrated that far,
/// with archive rows keyed by bridge, user and room.
async fn write_old_archive(url: &str) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let mut old = sqlx::migrate!();
    old.migrations = old
        .migrations
        .iter()
        .filter(|m| m.version < ARCHIVE_ROOMS)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    old.run(&pool).await.unwrap();
    for (user, room, seq, nick) in [
        ("a@localhost", "#r", 1, "n"),
        ("a@localhost", "#r", 2, "m"),
        ("b@localhost", "#r", 1, "n"),
        ("a@localhost", "#s", 3, "o"),
    ] {
        sqlx::query(&format!(
            "INSERT INTO archive (bridge, user_jid, room, seq, nick, body, action) \
             VALUES ('old.gw', '{user}', '{room}', {seq}, '{nick}', 'old {seq}', 0)"
        ))
        .execute(&pool)
        .await
        .unwrap();
    }
    pool.close().await;
}

/// What `write_old_archive` wrote, each archive apart, after the upgrade
/// (bridge `old.gw`: `exercise_archive` uses `irc.gw` in the same store).
async fn old_archive_kept(store: &Store) {
    let archive = |user: &'static str, room: &'static str| async move {
        let filter = Filter {
            max: 10,
            ..Filter::default()
        };
        let (rows, complete) = store
            .archive_query("old.gw", user, room, &filter)
            .await
            .unwrap();
        assert!(complete);
        rows.into_iter()
            .map(|r| (r.seq, r.nick, r.body))
            .collect::<Vec<_>>()
    };
    let row = |seq: i64, nick: &str| (seq, nick.to_owned(), format!("old {seq}"));
    assert_eq!(
        archive("a@localhost", "#r").await,
        [row(1, "n"), row(2, "m")]
    );
    assert_eq!(archive("b@localhost", "#r").await, [row(1, "n")]);
    assert_eq!(archive("a@localhost", "#s").await, [row(3, "o")]);
    // New rows go on in the upgraded archives.
    let next = Archived {
        bridge: "old.gw".into(),
        user: "b@localhost".into(),
        room: "#r".into(),
        seq: 5,
        nick: "p".into(),
        body: "old 5".into(),
        action: false,
        foreign_id: None,
    };
    store.archive_batch(&[next]).await.unwrap();
    assert_eq!(
        archive("b@localhost", "#r").await,
        [row(1, "n"), row(5, "p")]
    );
}

#[tokio::test]
async fn sqlite_archive_survives_the_archive_rooms_migration() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("old.db").display());
    write_old_archive(&format!("{url}?mode=rwc")).await;
    let store = Store::open(&StoreConfig::for_url(url)).await.unwrap();
    old_archive_kept(&store).await;
}

#[tokio::test]
async fn sqlite_file_created_with_key() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sub.db");
    let config = StoreConfig::for_url(format!("sqlite://{}", db.display()));
    let store = Store::open(&config).await.unwrap();
    assert!(db.exists());
    assert!(dir.path().join("sub.db.key").exists());
    exercise(&store).await;
    // Reopening keeps the key: stored secrets still decrypt.
    let mut reg = Registration::default();
    reg.secrets.insert("password".into(), Secret::new("p"));
    store.save_registration("g", "u@d", "", &reg).await.unwrap();
    drop(store);
    let store = Store::open(&config).await.unwrap();
    assert_eq!(store.registration("g", "u@d", "").await.unwrap(), Some(reg));
}

#[tokio::test]
async fn postgres_needs_a_key() {
    let config = StoreConfig::for_url("postgres://nobody@127.0.0.1:1/none".into());
    assert!(matches!(
        Store::open(&config).await,
        Err(StoreError::Key(_))
    ));
}

#[path = "../../tests/harness/ports.rs"]
pub(super) mod ports;
#[path = "../../tests/harness/postgres.rs"]
#[allow(dead_code)] // stopping and starting again is for the e2e tests
pub(super) mod postgres;
use postgres::Postgres;

#[tokio::test]
async fn postgres_store() {
    let pg = Postgres::start();
    let mut config = StoreConfig::for_url(pg.url());
    config.key = Some(base64::engine::general_purpose::STANDARD.encode([7u8; 32]));
    use base64::Engine;
    write_old_archive(&pg.url()).await;
    let store = Store::open(&config).await.unwrap();
    old_archive_kept(&store).await;
    exercise(&store).await;
}
