//! A registration's password tried on its network before it is stored
//! (SPEC §2: credentials the foreign side rejects → `not-authorized`):
//! one login, as the session would make it, ended once SASL has answered.

use std::time::Duration;

use ferry_bridge::channel;
use futures::StreamExt;
use irc_proto::Command;

use super::{connect, register, send, Control, End, Params, Up};

/// How long the server has to close the connection after our QUIT.
const QUIT_WAIT: Duration = Duration::from_secs(3);

/// How a login with a password went.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// SASL took the password.
    Accepted,
    /// SASL refused it.
    Refused,
    /// Not told: the server has no SASL (NickServ answers only after
    /// login, in words), or it could not be reached or logged in to.
    Unknown(String),
}

/// Logs in with `params` and QUITs at once.
pub async fn try_password(params: &Params) -> Verdict {
    let (stream, _ident) = match connect(params).await {
        Ok(connected) => connected,
        Err(e) => return Verdict::Unknown(e),
    };
    // The lines a login passes on (server notices) are read and dropped.
    let (events, mut passed) = channel::channel::<((), Up)>(64);
    tokio::spawn(async move { while passed.recv().await.is_some() {} });
    let (_control, mut control_rx) = channel::channel::<Control>(1);
    match register(params, stream, &(), &events, &mut control_rx).await {
        Ok((mut stream, Up::Registered { sasl, .. })) => {
            // Until the server closes: the nick is free again when the
            // registration is answered and the session connects.
            let _ = send(&mut stream, Command::QUIT(None)).await;
            let closed = async { while stream.next().await.is_some() {} };
            let _ = tokio::time::timeout(QUIT_WAIT, closed).await;
            match sasl {
                Some(true) => Verdict::Accepted,
                Some(false) => Verdict::Refused,
                None => Verdict::Unknown("the server offers no SASL".into()),
            }
        }
        Ok(_) => Verdict::Unknown("no welcome".into()),
        Err(End::Lost(reason) | End::Refused(reason, _)) => Verdict::Unknown(reason),
        Err(End::Quit) => Verdict::Unknown("ended".into()),
    }
}
