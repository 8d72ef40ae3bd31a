//! Logging in to an IRC server: writes what the handshake asks for and
//! feeds it what the server answers, within `REGISTER_TIMEOUT`, while the
//! session may still ask the connection to quit or reconnect.

use ferry_bridge::channel;
use futures::StreamExt;
use irc_proto::Command;
use tokio::time::{timeout, Instant};

use super::handshake::{Handshake, Step};
use super::{send, Control, End, Params, Stream, Up, REGISTER_TIMEOUT};

/// Logs in; returns the stream and the `Registered` event.
pub(super) async fn register<K: Clone + Send + Sync>(
    params: &Params,
    mut stream: Stream,
    key: &K,
    events: &channel::Sender<(K, Up)>,
    control: &mut channel::Receiver<Control>,
) -> Result<(Stream, Up), End> {
    let mut handshake = Handshake::new(params);
    send_all(&mut stream, handshake.start()).await?;
    let deadline = Instant::now() + REGISTER_TIMEOUT;
    loop {
        let line = tokio::select! {
            line = timeout(deadline - Instant::now(), stream.next()) => match line {
                Err(_) => return Err(End::Lost("registration timed out".into())),
                Ok(None) => return Err(End::Lost("closed during registration".into())),
                Ok(Some(Err(e))) => return Err(End::Lost(format!("read failed: {e}"))),
                Ok(Some(Ok(line))) => line,
            },
            c = control.recv() => match c {
                Some(Control::Reconnect) => return Err(End::Lost("reconnect requested".into())),
                Some(Control::Quit(reason)) => {
                    let _ = send(&mut stream, Command::QUIT(Some(reason))).await;
                    return Err(End::Quit);
                }
                None => {
                    let _ = send(&mut stream, Command::QUIT(None)).await;
                    return Err(End::Quit);
                }
            },
        };
        let Some((message, tags)) = super::parse(&line) else {
            continue;
        };
        match handshake.feed(&message) {
            Step::Send(commands) => send_all(&mut stream, commands).await?,
            Step::Pass => {
                if events
                    .send((key.clone(), Up::Line(Box::new((message, tags)))))
                    .await
                    .is_err()
                {
                    return Err(End::Quit);
                }
            }
            Step::Done(commands, registered) => {
                send_all(&mut stream, commands).await?;
                return Ok((stream, *registered));
            }
            Step::Fail { quit, end } => {
                if quit {
                    let _ = send(&mut stream, Command::QUIT(None)).await;
                }
                return Err(end);
            }
        }
    }
}

/// Writes `commands` in order; a failed write loses the connection.
async fn send_all(stream: &mut Stream, commands: Vec<Command>) -> Result<(), End> {
    for command in commands {
        send(stream, command).await.map_err(End::Lost)?;
    }
    Ok(())
}
