//! The table (both gateways side by side, with ferry/biboumi ratios) and
//! `bench-results.json`, one entry per row.

use crate::measure::{Figures, ScaleFigures};

pub enum Outcome {
    Flow(Figures),
    Scale(ScaleFigures),
}

impl Outcome {
    fn json(&self) -> serde_json::Value {
        match self {
            Outcome::Flow(f) => f.json(),
            Outcome::Scale(s) => s.json(),
        }
    }

    /// Whether anything at all went through: a smoke run that delivered
    /// nothing is a broken bench, not a slow gateway.
    pub fn delivered_any(&self) -> bool {
        match self {
            Outcome::Flow(f) => f.delivered > 0,
            Outcome::Scale(s) => s.joined > 0,
        }
    }
}

pub struct Row {
    pub workload: &'static str,
    pub params: String,
    pub ferry: Option<Outcome>,
    pub biboumi: Option<Outcome>,
}

/// A figure of one kind of outcome: its name, its value, its decimals, and
/// whether a ratio ferry/biboumi means something for it.
struct Metric<T> {
    name: &'static str,
    value: fn(&T) -> f64,
    decimals: usize,
    ratio: bool,
}

const fn metric<T>(
    name: &'static str,
    value: fn(&T) -> f64,
    decimals: usize,
    ratio: bool,
) -> Metric<T> {
    Metric {
        name,
        value,
        decimals,
        ratio,
    }
}

const FLOW: &[Metric<Figures>] = &[
    metric("expected", |f| f.expected as f64, 0, false),
    metric("delivered", |f| f.delivered as f64, 0, false),
    metric("msg/s", |f| f.per_second, 0, true),
    metric("p50 ms", |f| f.p50_ms, 2, true),
    metric("p99 ms", |f| f.p99_ms, 2, true),
    metric("max ms", |f| f.max_ms, 1, false),
    metric("gw µs/msg", |f| f.cpu_us_per_item, 1, true),
    metric("gw RSS MB", |f| f.rss_kb as f64 / 1024.0, 1, true),
    metric("gw cpu%", |f| f.cpu.gateway, 0, false),
    metric("prosody%", |f| f.cpu.prosody, 0, false),
    metric("ircd%", |f| f.cpu.ircd, 0, false),
];

const SCALE: &[Metric<ScaleFigures>] = &[
    metric("joined", |s| s.joined as f64, 0, false),
    metric("join s", |s| s.join_secs, 1, true),
    metric("KB/user", |s| s.rss_per_user_kb, 1, true),
    metric(
        "offline KB/user",
        |s| s.offline_rss_per_user_kb.unwrap_or(f64::NAN),
        1,
        true,
    ),
    metric("idle RSS MB", |s| s.start_rss_kb as f64 / 1024.0, 1, true),
    metric("gw RSS MB", |s| s.rss_kb as f64 / 1024.0, 1, true),
    metric("idle %/1k", |s| s.idle_per_1000, 3, true),
    metric("join gw%", |s| s.join_cpu.gateway, 0, false),
    metric("prosody%", |s| s.join_cpu.prosody, 0, false),
    metric("ircd%", |s| s.join_cpu.ircd, 0, false),
];

fn number(v: Option<f64>, decimals: usize) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v:.decimals$}"),
        _ => "-".into(),
    }
}

fn ratio(f: Option<f64>, b: Option<f64>) -> String {
    match (f, b) {
        (Some(f), Some(b)) if b > 0.0 && f.is_finite() && b.is_finite() => format!("{:.2}", f / b),
        _ => "-".into(),
    }
}

/// One table: a column group per metric, each with ferry, biboumi and,
/// where it means something, their ratio.
fn table<T>(title: &str, metrics: &[Metric<T>], rows: &[(&Row, Option<&T>, Option<&T>)]) {
    if rows.is_empty() {
        return;
    }
    println!("\n{title}");
    let mut head = [
        format!("{:<26} {:<22}", "", ""),
        format!("{:<26} {:<22}", "workload", "params"),
    ];
    for m in metrics {
        let width = if m.ratio { 26 } else { 19 };
        head[0].push_str(&format!(" | {:^width$}", m.name));
        head[1].push_str(&format!(" | {:>9} {:>9}", "ferry", "biboumi"));
        if m.ratio {
            head[1].push_str(&format!(" {:>6}", "f/b"));
        }
    }
    println!("{}\n{}", head[0], head[1]);
    for (row, f, b) in rows {
        let mut line = format!("{:<26} {:<22}", row.workload, row.params);
        for m in metrics {
            let fv = f.map(m.value);
            let bv = b.map(m.value);
            line.push_str(&format!(
                " | {:>9} {:>9}",
                number(fv, m.decimals),
                number(bv, m.decimals)
            ));
            if m.ratio {
                line.push_str(&format!(" {:>6}", ratio(fv, bv)));
            }
        }
        println!("{line}");
    }
}

/// The rows with outcomes of one kind, as (row, ferry's, biboumi's).
fn of_kind<T>(
    rows: &[Row],
    kind: fn(&Outcome) -> Option<&T>,
) -> Vec<(&Row, Option<&T>, Option<&T>)> {
    rows.iter()
        .filter_map(|r| {
            let f = r.ferry.as_ref().and_then(kind);
            let b = r.biboumi.as_ref().and_then(kind);
            (f.is_some() || b.is_some()).then_some((r, f, b))
        })
        .collect()
}

/// Prints the tables and writes `bench-results.json`.
pub fn report(rows: &[Row]) {
    let flows = of_kind(rows, |o| match o {
        Outcome::Flow(f) => Some(f),
        Outcome::Scale(_) => None,
    });
    let scales = of_kind(rows, |o| match o {
        Outcome::Scale(s) => Some(s),
        Outcome::Flow(_) => None,
    });
    table(
        "message flows (cpu%: share of one core over the pass, for the gateway and the servers around it)",
        FLOW,
        &flows,
    );
    table(
        "scale (idle RSS: the freshly started gateway's, before the users; idle %/1k: the gateway's CPU while idle, % of a core per 1000 users; cpu% while joining)",
        SCALE,
        &scales,
    );
    let json: Vec<_> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "workload": r.workload,
                "params": r.params,
                "ferry": r.ferry.as_ref().map(Outcome::json),
                "biboumi": r.biboumi.as_ref().map(Outcome::json),
            })
        })
        .collect();
    let out = serde_json::to_string_pretty(&json).unwrap_or_default();
    match std::fs::write("bench-results.json", out) {
        Ok(()) => println!("\nfigures written to bench-results.json"),
        Err(e) => eprintln!("cannot write bench-results.json: {e}"),
    }
}
