//! Figures of one run, from the clients' clocks and the gateway's /proc.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub fn now_micros() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0)
}

/// A process's CPU time (user + system) and resident memory.
#[derive(Default)]
pub struct ProcessStats {
    cpu: Duration,
    rss_kb: u64,
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

pub struct Figures {
    pub expected: usize,
    pub delivered: usize,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub cpu_us_per_stanza: f64,
    pub rss_kb: u64,
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

impl Figures {
    pub fn new(
        expected: usize,
        mut latencies: Vec<u64>,
        elapsed: Duration,
        before: &ProcessStats,
        after: &ProcessStats,
    ) -> Figures {
        latencies.sort_unstable();
        let delivered = latencies.len();
        let cpu = after.cpu.saturating_sub(before.cpu);
        Figures {
            expected,
            delivered,
            per_second: delivered as f64 / elapsed.as_secs_f64().max(1e-9),
            p50_ms: percentile(&latencies, 0.5),
            p99_ms: percentile(&latencies, 0.99),
            max_ms: latencies
                .last()
                .map(|l| *l as f64 / 1000.0)
                .unwrap_or(f64::NAN),
            cpu_us_per_stanza: cpu.as_micros() as f64 / delivered.max(1) as f64,
            rss_kb: after.rss_kb,
        }
    }

    /// A gateway left out of the run.
    pub fn none(expected: usize) -> Figures {
        Figures::new(
            expected,
            Vec::new(),
            Duration::ZERO,
            &ProcessStats::default(),
            &ProcessStats::default(),
        )
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "expected": self.expected,
            "delivered": self.delivered,
            "messages_per_second": self.per_second,
            "latency_ms": { "p50": self.p50_ms, "p99": self.p99_ms, "max": self.max_ms },
            "cpu_us_per_stanza": self.cpu_us_per_stanza,
            "rss_kb": self.rss_kb,
        })
    }
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 && a.is_finite() && b.is_finite() {
        format!("{:.2}", a / b)
    } else {
        "-".into()
    }
}

/// Prints the table and writes `bench-results.json`.
pub fn report(rows: &[(usize, usize, u32, &Figures, &Figures)]) {
    println!("fan-out: an IRC client sends N lines to K XMPP users in one channel");
    println!(
        "{:>5} {:>5} {:>5} | {:>9} {:>9} | {:>8} {:>8} | {:>7} {:>7} {:>6} | {:>7} {:>7} {:>6} | {:>8} {:>8} {:>6} | {:>7} {:>7}",
        "K", "N", "rate", "ferry", "biboumi", "ferry/s", "bib/s", "f p50", "b p50", "ratio", "f p99", "b p99", "ratio",
        "f µs/st", "b µs/st", "ratio", "f RSS", "b RSS"
    );
    let mut json = Vec::new();
    for (k, n, rate, f, b) in rows {
        println!(
            "{:>5} {:>5} {:>5} | {:>4}/{:<4} {:>4}/{:<4} | {:>8.0} {:>8.0} | {:>7.2} {:>7.2} {:>6} | {:>7.2} {:>7.2} {:>6} | {:>8.1} {:>8.1} {:>6} | {:>6}K {:>6}K",
            k, n, rate, f.delivered, f.expected, b.delivered, b.expected, f.per_second, b.per_second,
            f.p50_ms, b.p50_ms, ratio(f.p50_ms, b.p50_ms), f.p99_ms, b.p99_ms, ratio(f.p99_ms, b.p99_ms),
            f.cpu_us_per_stanza, b.cpu_us_per_stanza, ratio(f.cpu_us_per_stanza, b.cpu_us_per_stanza),
            f.rss_kb, b.rss_kb
        );
        json.push(serde_json::json!({
            "workload": "fan-out", "users": k, "lines": n, "rate": rate,
            "ferry": f.json(), "biboumi": b.json(),
        }));
    }
    let out = serde_json::to_string_pretty(&json).unwrap_or_default();
    match std::fs::write("bench-results.json", out) {
        Ok(()) => println!("figures written to bench-results.json"),
        Err(e) => eprintln!("cannot write bench-results.json: {e}"),
    }
}
