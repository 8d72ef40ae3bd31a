//! The room list (SPEC §10): disco#items on a network JID lists the
//! network's channels from IRC LIST, paged with RSM, kept ten minutes for
//! all users, at most `list_max`.

mod harness;

use harness::client::{result, TestClient};
use harness::ircd::IrcClient;
use harness::stanzas::{online_on_irc, IRC_NET};
use harness::World;
use tokio_xmpp::parsers::disco::DiscoItemsResult;
use tokio_xmpp::parsers::minidom::Element;

const ITEMS: &str = "http://jabber.org/protocol/disco#items";
const RSM: &str = "http://jabber.org/protocol/rsm";

/// An IRC user in `n` channels `#r000`…, the first with a topic.
async fn maker(w: &World, n: usize) -> IrcClient {
    let mut maker = IrcClient::connect(w.irc_port(), "maker").await;
    let names: Vec<String> = (0..n).map(|i| format!("#r{i:03}")).collect();
    for chunk in names.chunks(40) {
        maker.send(&format!("JOIN {}", chunk.join(","))).await;
    }
    maker.send("TOPIC #r000 :the first room").await;
    let last = names.last().unwrap().clone();
    maker
        .expect("the last join", |l| {
            l.contains(" 366 ") && l.contains(&last)
        })
        .await;
    maker
}

/// One page: the items' JIDs and names, and the RSM count and last.
async fn page(
    c: &mut TestClient,
    set: Vec<Element>,
) -> (Vec<(String, String)>, Option<usize>, Option<String>) {
    let set = Element::builder("set", RSM).append_all(set).build();
    let query = Element::builder("query", ITEMS).append(set).build();
    let answer = result(c.iq(IRC_NET, false, query).await).expect("a list");
    let items = DiscoItemsResult::try_from(answer).unwrap();
    let rows = items
        .items
        .iter()
        .map(|i| (i.jid.to_string(), i.name.clone().unwrap_or_default()))
        .collect();
    let rsm = items.rsm.expect("an RSM answer");
    (rows, rsm.count, rsm.last)
}

fn max(n: usize) -> Element {
    Element::builder("max", RSM).append(n.to_string()).build()
}

fn after(key: &str) -> Element {
    Element::builder("after", RSM).append(key).build()
}

#[tokio::test]
async fn a_networks_channels_page_by_page_and_from_the_cache() {
    let w = World::start_irc().await;
    let mut maker = maker(&w, 270).await;
    let mut alice = online_on_irc(&w, "alice", "alice").await.0;

    // ngircd has a channel of its own (&SERVER) besides the 270.
    let (first, count, last) = page(&mut alice, vec![max(100)]).await;
    let count = count.unwrap();
    assert!((270..=272).contains(&count), "{count}");
    assert_eq!(first.len(), 100);
    let topic = first.iter().find(|(jid, _)| jid.starts_with("#r000%"));
    let (_, name) = topic.expect("#r000 listed");
    assert_eq!(name, "#r000 (1) the first room");
    let (second, _, last) = page(&mut alice, vec![max(100), after(&last.unwrap())]).await;
    let (third, _, _) = page(&mut alice, vec![max(100), after(&last.unwrap())]).await;
    assert_eq!((second.len(), third.len()), (100, count - 200));
    let mut all: Vec<String> = [first, second, third]
        .concat()
        .into_iter()
        .map(|(jid, _)| jid)
        .filter(|jid| jid.starts_with("#r"))
        .collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 270, "every channel once");

    // A channel made now is not in the list another user gets within ten
    // minutes: no second LIST was sent.
    maker.send("JOIN #zzz-new").await;
    maker.expect("the new join", |l| l.contains(" 366 ")).await;
    let mut bob = online_on_irc(&w, "bob", "bob").await.0;
    let (rows, again, _) = page(&mut bob, vec![max(300)]).await;
    assert_eq!(again, Some(count));
    assert!(!rows.iter().any(|(jid, _)| jid.contains("zzz")));
}

#[tokio::test]
async fn the_list_stops_at_list_max() {
    let w =
        World::start_irc_with(|c, _| c.replace("[bridge.irc]\n", "[bridge.irc]\nlist_max = 5\n"))
            .await;
    let _maker = maker(&w, 12).await;
    let mut alice = online_on_irc(&w, "alice", "alice").await.0;
    let (rows, count, _) = page(&mut alice, vec![max(50)]).await;
    assert_eq!((rows.len(), count), (5, Some(5)));
}
