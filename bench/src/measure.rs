//! Figures of one pass, from the clients' clocks and the processes' /proc.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub fn now_micros() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0)
}

/// The microsecond timestamp a bench line carries as its third word
/// (`line <seq> <micros>`), turned into the latency up to now.
pub fn latency_of(text: &str) -> Option<u64> {
    let sent: u128 = text.split(' ').nth(2)?.parse().ok()?;
    Some(now_micros().saturating_sub(sent) as u64)
}

/// The text of a bench line: its sequence number and the time it left.
pub fn stamped_line(seq: usize) -> String {
    format!("line {seq} {}", now_micros())
}

/// A process's CPU time (user + system) and resident memory.
#[derive(Default, Clone, Copy)]
pub struct ProcessStats {
    cpu: Duration,
    pub rss_kb: u64,
}

impl ProcessStats {
    pub fn read(pid: u32) -> ProcessStats {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Fields after the parenthesised name: utime is the 14th, stime
        // the 15th field of the whole line.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = [11, 12]
            .iter()
            .filter_map(|i| fields.get(*i).and_then(|f| f.parse::<u64>().ok()))
            .sum();
        // USER_HZ is 100 on Linux.
        let cpu = Duration::from_millis(ticks * 10);
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let rss_kb = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        ProcessStats { cpu, rss_kb }
    }
}

/// The processes whose cost a pass measures: the gateway under test, and
/// the servers around it, which may be the real bottleneck.
pub struct Pids {
    pub gateway: u32,
    pub prosody: u32,
    /// Every IRC server; their figures are summed.
    pub ircds: Vec<u32>,
}

/// All three processes at one instant.
#[derive(Clone, Copy)]
pub struct Sample {
    at: Instant,
    pub gateway: ProcessStats,
    prosody: ProcessStats,
    ircd: ProcessStats,
}

impl Sample {
    pub fn take(pids: &Pids) -> Sample {
        Sample {
            at: Instant::now(),
            gateway: ProcessStats::read(pids.gateway),
            prosody: ProcessStats::read(pids.prosody),
            ircd: pids.ircds.iter().map(|&pid| ProcessStats::read(pid)).fold(
                ProcessStats::default(),
                |sum, one| ProcessStats {
                    cpu: sum.cpu + one.cpu,
                    rss_kb: sum.rss_kb + one.rss_kb,
                },
            ),
        }
    }
}

/// CPU use between two samples, in % of one core.
#[derive(Default, Clone, Copy)]
pub struct CpuShares {
    pub gateway: f64,
    pub prosody: f64,
    pub ircd: f64,
}

impl CpuShares {
    pub fn between(before: &Sample, after: &Sample) -> CpuShares {
        let wall = after.at.duration_since(before.at).as_secs_f64().max(1e-9);
        let share = |a: &ProcessStats, b: &ProcessStats| {
            b.cpu.saturating_sub(a.cpu).as_secs_f64() / wall * 100.0
        };
        CpuShares {
            gateway: share(&before.gateway, &after.gateway),
            prosody: share(&before.prosody, &after.prosody),
            ircd: share(&before.ircd, &after.ircd),
        }
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "gateway": self.gateway, "prosody": self.prosody, "ircd": self.ircd,
        })
    }
}

/// A message flow: what arrived, how fast, how late, at what cost.
pub struct Figures {
    pub expected: usize,
    pub delivered: usize,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub cpu_us_per_item: f64,
    pub rss_kb: u64,
    pub cpu: CpuShares,
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

impl Figures {
    /// `latencies` in µs, one per delivered item.
    pub fn new(expected: usize, mut latencies: Vec<u64>, before: &Sample, after: &Sample) -> Self {
        latencies.sort_unstable();
        let delivered = latencies.len();
        let wall = after.at.duration_since(before.at);
        let cpu = after.gateway.cpu.saturating_sub(before.gateway.cpu);
        Figures {
            expected,
            delivered,
            per_second: delivered as f64 / wall.as_secs_f64().max(1e-9),
            p50_ms: percentile(&latencies, 0.5),
            p99_ms: percentile(&latencies, 0.99),
            max_ms: latencies
                .last()
                .map(|l| *l as f64 / 1000.0)
                .unwrap_or(f64::NAN),
            cpu_us_per_item: cpu.as_micros() as f64 / delivered.max(1) as f64,
            rss_kb: after.gateway.rss_kb,
            cpu: CpuShares::between(before, after),
        }
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "expected": self.expected,
            "delivered": self.delivered,
            "messages_per_second": self.per_second,
            "latency_ms": { "p50": self.p50_ms, "p99": self.p99_ms, "max": self.max_ms },
            "cpu_us_per_item": self.cpu_us_per_item,
            "rss_kb": self.rss_kb,
            "cpu_percent": self.cpu.json(),
        })
    }
}

/// Many users, each with an IRC connection, joining and then idle.
pub struct ScaleFigures {
    pub users: usize,
    pub joined: usize,
    pub join_secs: f64,
    /// Before the users came: a freshly started gateway, idle.
    pub start_rss_kb: u64,
    pub rss_kb: u64,
    pub rss_per_user_kb: f64,
    /// Always-on: once the users left, their rooms still joined.
    pub offline_rss_per_user_kb: Option<f64>,
    /// The gateway's CPU while idle, in % of one core per 1000 users.
    pub idle_per_1000: f64,
    /// While the users joined.
    pub join_cpu: CpuShares,
    pub idle_cpu: CpuShares,
}

impl ScaleFigures {
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "users": self.users,
            "joined": self.joined,
            "join_seconds": self.join_secs,
            "start_rss_kb": self.start_rss_kb,
            "rss_kb": self.rss_kb,
            "rss_per_user_kb": self.rss_per_user_kb,
            "offline_rss_per_user_kb": self.offline_rss_per_user_kb,
            "idle_cpu_percent_per_1000_users": self.idle_per_1000,
            "join_cpu_percent": self.join_cpu.json(),
            "idle_cpu_percent": self.idle_cpu.json(),
        })
    }
}
