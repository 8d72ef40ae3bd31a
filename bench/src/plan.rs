//! What to run, from the command line:
//!   --smoke                 every workload at tiny sizes (seconds)
//!   --only ferry|biboumi    one gateway
//!   --workload LIST         of fan-out, fan-in, latency, scale (all)
//!   --users 10,100,500      fan-out and fan-in users
//!   --lines N --rate R      fan-out and fan-in lines, lines a second (0 = unpaced)
//!   --messages N            latency round trips (300)
//!   --scale 100,1000,…      scale users (100, 1000, 5000, 10000)
//!   --idle S                scale's idle seconds (60)
//!   --join-rate R           scale's joins (and leaves) a second (200)
//!   --always-on             scale: ferry's users set their room always-on,
//!                           and the gateway's memory is measured again
//!                           once they have left (offline, still joined)

use std::time::Duration;

/// Lines through a room: fan-out and fan-in.
pub struct Flow {
    pub users: usize,
    pub lines: usize,
    pub rate: u32,
}

/// Direct chat round trips.
pub struct Chat {
    pub senders: usize,
    pub messages: usize,
    pub rate: u32,
}

pub struct Scale {
    pub users: usize,
    pub join_rate: u32,
    pub idle: Duration,
    /// ferry's rooms are always-on (SPEC §7): leaving keeps them joined.
    pub always_on: bool,
}

pub enum Pass {
    FanOut(Flow),
    FanIn(Flow),
    /// Fan-in with ferry throttled as biboumi is (burst 10, then 1 line a
    /// second); biboumi's throttle cannot be turned off.
    FanInThrottled(Flow),
    Latency(Chat),
    Scale(Scale),
}

/// ferry's throttle for `FanInThrottled`: biboumi's.
pub const BIBOUMI_THROTTLE: (u32, f64) = (10, 1.0);

impl Pass {
    pub fn workload(&self) -> &'static str {
        match self {
            Pass::FanOut(_) => "fan-out",
            Pass::FanIn(_) => "fan-in (ferry unthrottled)",
            Pass::FanInThrottled(_) => "fan-in (both 10+1/s)",
            Pass::Latency(_) => "latency (round trip)",
            Pass::Scale(_) => "scale",
        }
    }

    pub fn params(&self) -> String {
        match self {
            Pass::FanOut(f) | Pass::FanIn(f) | Pass::FanInThrottled(f) => {
                format!("K={} N={} rate={}", f.users, f.lines, f.rate)
            }
            Pass::Latency(c) => format!("{} users, rate={}", c.senders, c.rate),
            Pass::Scale(s) => format!(
                "U={} idle={}s{}",
                s.users,
                s.idle.as_secs(),
                if s.always_on { " always-on" } else { "" }
            ),
        }
    }

    /// Users on c2s: each needs an account.
    pub fn c2s_users(&self) -> usize {
        match self {
            Pass::FanOut(f) | Pass::FanIn(f) | Pass::FanInThrottled(f) => f.users,
            Pass::Latency(c) => c.senders,
            Pass::Scale(_) => 0,
        }
    }
}

pub struct Plan {
    /// In order; the throttled fan-in last, since it restarts ferry.
    pub passes: Vec<Pass>,
    pub ferry: bool,
    pub biboumi: bool,
    pub smoke: bool,
    /// IRC servers to start: scale passes spread their users over them.
    pub ircds: usize,
}

/// One ngircd takes minutes to see 5000 users quit, and stops answering
/// meanwhile; more users than this get another server.
const USERS_PER_IRCD: usize = 2500;

fn list<T: std::str::FromStr>(value: Option<String>, default: Vec<T>) -> Vec<T> {
    match value {
        Some(list) => list
            .split(',')
            .filter_map(|v| v.trim().parse().ok())
            .collect(),
        None => default,
    }
}

pub fn from_args() -> Plan {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let number =
        |name: &str, default: u64| value(name).and_then(|v| v.parse().ok()).unwrap_or(default);
    let smoke = args.iter().any(|a| a == "--smoke");
    let workloads: Vec<String> = list(
        value("--workload"),
        vec![
            "fan-out".into(),
            "fan-in".into(),
            "latency".into(),
            "scale".into(),
        ],
    );
    let wanted = |w: &str| workloads.iter().any(|x| x == w);
    let (users, shapes, scales, chat) = if smoke {
        (vec![4], vec![(30, 0)], vec![20], (4, 20))
    } else {
        let shapes = match (value("--lines"), value("--rate")) {
            (None, None) => vec![(200, 0), (100, 10)],
            _ => vec![(number("--lines", 100) as usize, number("--rate", 0) as u32)],
        };
        (
            list(value("--users"), vec![10, 100, 500]),
            shapes,
            list(value("--scale"), vec![100, 1000, 5000, 10000]),
            (20, number("--messages", 300) as usize),
        )
    };
    let flows = || {
        users.iter().flat_map(|&users| {
            shapes
                .iter()
                .map(move |&(lines, rate)| Flow { users, lines, rate })
        })
    };
    let mut passes = Vec::new();
    if wanted("fan-out") {
        passes.extend(flows().map(Pass::FanOut));
    }
    if wanted("fan-in") {
        passes.extend(flows().map(Pass::FanIn));
    }
    if wanted("latency") {
        passes.push(Pass::Latency(Chat {
            senders: chat.0,
            messages: chat.1,
            // Each sender one line a second: under both throttles.
            rate: chat.0 as u32,
        }));
    }
    if wanted("scale") {
        let idle = Duration::from_secs(number("--idle", if smoke { 2 } else { 60 }));
        let join_rate = number("--join-rate", 200) as u32;
        let always_on = args.iter().any(|a| a == "--always-on");
        passes.extend(scales.iter().map(|&users| {
            Pass::Scale(Scale {
                users,
                join_rate,
                idle,
                always_on,
            })
        }));
    }
    if wanted("fan-in") {
        passes.extend(flows().map(Pass::FanInThrottled));
    }
    let only = value("--only");
    let most = passes
        .iter()
        .filter_map(|p| match p {
            Pass::Scale(s) => Some(s.users),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    Plan {
        ircds: most.div_ceil(USERS_PER_IRCD).max(1),
        passes,
        ferry: only.as_deref() != Some("biboumi"),
        biboumi: only.as_deref() != Some("ferry"),
        smoke,
    }
}
