//! `fleetpane-bench`: Fleetpane's benchmark on a scaled local fleet. Run it through `./dev bench`, which starts
//! the fleet (`testenv up` + `testenv scale` in a state dir of its own), builds this binary optimized
//! (`--profile bench-native`) and records the results in `docs/PERFORMANCE.md`.
//!
//! ```text
//! 1. caches    Fleet + Caches::start, counted by the global allocator ──► cold sync, heap per pod, RSS
//! 2. query     listing::list_services (cached) vs the same on an impersonation_only copy of the fleet
//!              (live impersonated LISTs, same filtering code) ──► p50/p95, speed-up
//! 3. requests  Cluster::requests_sent and Access::stats around page views of 1 and 100 identities
//! 4. SSR       GET /services and GET /triage through the axum router with a signed-in session ──► p50/p95
//! ```
//!
//! Usage: `fleetpane-bench --fleet-dir DIR [--scale TEXT] [--command TEXT] [--record FILE]
//! [--wasm-brotli BYTES] [--iterations N] [--naive-iterations N] [--users N] [--query TEXT] [--group G]`

#![allow(clippy::print_stdout, reason = "a command-line benchmark: what it prints is its report")]

use std::{
    alloc::System,
    fmt::Write as _,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use axum::body::Body;
use fleetpane_app::model::{
    doctor::TriageRequest,
    services::{ServiceListPage, ServiceListRequest},
};
use fleetpane_server::{
    AppState, Config,
    access::{Access, DECISION_TTL},
    auth::session::testing,
    config::ClusterMode,
    fleet::{Cluster, Fleet, Impersonation},
    listing::{self, CLUSTER_TIMEOUT},
    router, triage,
    watch::{
        Caches,
        rows::{EndpointSliceRow, PodRow, Row, ServiceRow},
        store::Store,
    },
};
use k8s_openapi::api::{
    core::v1::{Pod, Service},
    discovery::v1::EndpointSlice,
};
use kube::runtime::watcher::Event;
use leptos::config::LeptosOptions;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use tower::ServiceExt as _;

/// Every allocation of this process is counted, so the caches' heap is measured, not estimated.
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

type Result<T, E = Box<dyn std::error::Error + Send + Sync>> = std::result::Result<T, E>;

/// How long the caches may take to sync before the bench gives up.
const SYNC_TIMEOUT: Duration = Duration::from_secs(600);
/// Renders of the triage view timed per identity.
const TRIAGE_ITERATIONS: usize = 30;
/// The naive way is timed, not cut off at the server's per-cluster timeout (it exceeds it at this scale).
const NAIVE_TIMEOUT: Duration = Duration::from_secs(60);
/// How many new identities view the list at once in the "first view" phase.
const FIRST_VIEW_WAVE: usize = 2;
/// Markers around the results in the recorded file.
const START_MARKER: &str = "<!-- bench:results:start -->";
const END_MARKER: &str = "<!-- bench:results:end -->";

/// The command line.
#[derive(Debug, Clone, PartialEq)]
struct Args {
    fleet_dir: PathBuf,
    scale: String,
    command: String,
    record: Option<PathBuf>,
    wasm_brotli: Option<u64>,
    iterations: usize,
    naive_iterations: usize,
    users: usize,
    query: String,
    group: String,
}

impl Args {
    fn parse(args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut a = Args {
            fleet_dir: PathBuf::new(),
            scale: "(not stated)".to_owned(),
            command: "fleetpane-bench".to_owned(),
            record: None,
            wasm_brotli: None,
            iterations: 200,
            naive_iterations: 30,
            users: 100,
            query: "svc-00".to_owned(),
            group: "team-a".to_owned(),
        };
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
            let number = |v: String| v.parse::<usize>().map_err(|e| format!("{flag} {v:?}: {e}"));
            match flag.as_str() {
                "--fleet-dir" => a.fleet_dir = PathBuf::from(value()?),
                "--scale" => a.scale = value()?,
                "--command" => a.command = value()?,
                "--record" => a.record = Some(PathBuf::from(value()?)),
                "--wasm-brotli" => {
                    let v = value()?;
                    a.wasm_brotli = Some(v.parse().map_err(|e| format!("--wasm-brotli {v:?}: {e}"))?);
                }
                "--iterations" => a.iterations = number(value()?)?,
                "--naive-iterations" => a.naive_iterations = number(value()?)?,
                "--users" => a.users = number(value()?)?,
                "--query" => a.query = value()?,
                "--group" => a.group = value()?,
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        if a.fleet_dir.as_os_str().is_empty() {
            return Err("--fleet-dir DIR (the scaled fleet's testenv state dir) is required".to_owned());
        }
        if a.iterations == 0 || a.naive_iterations == 0 || a.users == 0 {
            return Err("--iterations, --naive-iterations and --users must be at least 1".to_owned());
        }
        Ok(a)
    }
}

/// p50 and p95 of some durations (nearest rank), and how many there were.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Percentiles {
    p50: Duration,
    p95: Duration,
    n: usize,
}

impl Percentiles {
    fn of(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        let rank = |p: f64| -> Duration {
            if samples.is_empty() {
                return Duration::ZERO;
            }
            // Nearest rank: the smallest sample with at least p of the samples at or below it.
            let len = samples.len() as f64;
            let index = ((p * len).ceil() as usize).clamp(1, samples.len()) - 1;
            samples[index]
        };
        Self { p50: rank(0.50), p95: rank(0.95), n: samples.len() }
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn kib(bytes: f64) -> String {
    format!("{:.2} KiB", bytes / 1024.0)
}

fn mib(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / (1024.0 * 1024.0))
}

/// One line of the results table.
struct Line {
    what: String,
    result: String,
    target: String,
    /// `None`: no target, or not measured.
    pass: Option<bool>,
}

fn line(what: impl Into<String>, result: impl Into<String>, target: &str, pass: Option<bool>) -> Line {
    Line { what: what.into(), result: result.into(), target: target.to_owned(), pass }
}

/// The results as a Markdown table.
fn table(lines: &[Line]) -> String {
    let mut out = String::from("| Measure | Result | Target | Pass |\n|---|---|---|---|\n");
    for l in lines {
        let pass = match l.pass {
            Some(true) => "pass",
            Some(false) => "**FAIL**",
            None => "",
        };
        let _ = writeln!(out, "| {} | {} | {} | {} |", l.what, l.result, l.target, pass);
    }
    out
}

/// `document` with the text between the markers replaced by `results`. Pure.
fn splice(document: &str, results: &str) -> Result<String, String> {
    let start = document.find(START_MARKER).ok_or_else(|| format!("no {START_MARKER} in the file"))?;
    let end = document.find(END_MARKER).ok_or_else(|| format!("no {END_MARKER} in the file"))?;
    if end < start {
        return Err(format!("{END_MARKER} comes before {START_MARKER}"));
    }
    let head = &document[..start + START_MARKER.len()];
    let tail = &document[end..];
    Ok(format!("{head}\n{}\n{tail}", results.trim_end()))
}

/// The process's resident set size, from /proc.
fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.trim().trim_end_matches("kB").trim();
    kb.parse::<u64>().ok().map(|kb| kb * 1024)
}

/// The 1, 5 and 15 minute load averages, from /proc.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map_or_else(|_| "unknown".to_owned(), |l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}

/// "2 cores, 23.4 GiB" from /proc.
fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let mem_kb = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        let kb = m.lines().find_map(|l| l.strip_prefix("MemTotal:"))?.trim().trim_end_matches("kB").trim();
        kb.parse::<f64>().ok()
    });
    let mem =
        mem_kb.map_or_else(|| "unknown memory".to_owned(), |kb| format!("{:.1} GiB", kb / (1024.0 * 1024.0)));
    format!("{cores} cores, {mem} RAM")
}

/// The config for the scaled fleet: its clusters as `testenv up` wrote them, with in-memory sessions and a
/// provider that is never contacted (sessions are put straight into the store).
fn bench_config(fleet_dir: &Path) -> Result<Config> {
    let written = std::fs::read_to_string(fleet_dir.join("fleetpane.toml"))
        .map_err(|e| format!("{}/fleetpane.toml: {e} (is the scaled fleet up?)", fleet_dir.display()))?;
    let clusters = written
        .find("[[clusters]]")
        .map(|i| &written[i..])
        .ok_or_else(|| format!("{}/fleetpane.toml has no [[clusters]]", fleet_dir.display()))?;
    let secret = fleet_dir.join("bench-client-secret");
    std::fs::write(&secret, "unused\n")?;
    let text = format!(
        r#"[server]
listen = "127.0.0.1:0"
public_url = "http://127.0.0.1:3000"
[session]
store = "memory"
cookie_secure = false
[[providers]]
name = "local"
display_name = "Local IdP (never contacted by the bench)"
issuer = "http://127.0.0.1:9"
client_id = "fleetpane"
client_secret_file = "{}"

{clusters}"#,
        secret.display()
    );
    Ok(Config::parse(&text, fleet_dir).map_err(|e| format!("bench config: {e}"))?)
}

/// Every object of kind `K` in the cluster, listed as Fleetpane, page by page.
async fn list_all<K>(client: &kube::Client) -> Result<Vec<K>>
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let api = kube::Api::<K>::all(client.clone());
    let mut out = Vec::new();
    let mut params = kube::api::ListParams::default().limit(500);
    loop {
        let page = api.list(&params).await?;
        out.extend(page.items);
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(out),
        }
    }
}

/// Bytes allocated and not freed since `region` began (reallocations are in both counters already).
fn net_heap(region: &Region<'_, System>) -> f64 {
    let change = region.change();
    change.bytes_allocated as f64 - change.bytes_deallocated as f64
}

/// Heap per row of a cache's store filled with `objects` the way a watch fills it (a list: `Init`,
/// `InitApply` each, `InitDone`). The objects are cloned into the events, so only the store's heap remains.
fn store_heap<R: Row>(objects: &[R::Object]) -> f64 {
    let region = Region::new(GLOBAL);
    let mut store = Store::<R>::default();
    store.apply(&Event::Init);
    for object in objects {
        store.apply(&Event::InitApply(object.clone()));
    }
    store.apply(&Event::InitDone);
    let heap = net_heap(&region);
    drop(store);
    heap / objects.len().max(1) as f64
}

fn requests_sent(fleet: &Fleet) -> u64 {
    fleet.clusters().iter().map(Cluster::requests_sent).sum()
}

/// Apiserver requests sent, and how many of them were access reviews.
#[derive(Debug, Clone, Copy)]
struct Sent {
    all: u64,
    reviews: u64,
}

impl Sent {
    fn now(fleet: &Fleet, access: &Access) -> Self {
        Self { all: requests_sent(fleet), reviews: access.stats().2 }
    }

    fn since(self, before: Sent) -> Self {
        Self {
            all: self.all.saturating_sub(before.all),
            reviews: self.reviews.saturating_sub(before.reviews),
        }
    }

    /// "12.00 (12.00 reviews, 0.00 other)" per view.
    fn per_view(self, views: usize) -> String {
        let v = views.max(1) as f64;
        let other = self.all.saturating_sub(self.reviews);
        format!(
            "{:.2} ({:.2} access reviews, {:.2} other)",
            self.all as f64 / v,
            self.reviews as f64 / v,
            other as f64 / v
        )
    }

    fn others(self) -> u64 {
        self.all.saturating_sub(self.reviews)
    }
}

/// Everything a page view reads through.
struct Reads<'a> {
    fleet: &'a Fleet,
    caches: &'a Caches,
    access: &'a Access,
}

impl Reads<'_> {
    async fn view(
        &self,
        who: &Impersonation,
        request: &ServiceListRequest,
        timeout: Duration,
    ) -> Result<ServiceListPage> {
        let page = listing::list_services(self.fleet, self.caches, self.access, who, request, timeout)
            .await
            .map_err(|e| format!("list_services: {e}"))?;
        if !page.unavailable.is_empty() {
            return Err(format!("clusters unavailable during the bench: {:?}", page.unavailable).into());
        }
        Ok(page)
    }

    /// One view by each of `users`, all at once; how many failed (each failure is logged).
    async fn round(&self, users: &[Impersonation], request: &ServiceListRequest) -> usize {
        let views =
            futures::future::join_all(users.iter().map(|u| self.view(u, request, Duration::from_secs(120))));
        let mut failed = 0;
        for page in views.await {
            if let Err(error) = page {
                tracing::error!(%error, "page view failed");
                failed += 1;
            }
        }
        failed
    }

    /// One warm-up view, then `n` timed ones, one after another.
    async fn time(
        &self,
        who: &Impersonation,
        request: &ServiceListRequest,
        n: usize,
        timeout: Duration,
    ) -> Result<(Percentiles, ServiceListPage)> {
        let page = self.view(who, request, timeout).await?;
        let mut samples = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            self.view(who, request, timeout).await?;
            samples.push(t.elapsed());
        }
        Ok((Percentiles::of(samples), page))
    }
}

fn identity(i: usize, group: &str) -> Impersonation {
    Impersonation::new(format!("bench-user-{i:03}@example.com"), [group])
}

/// `n` timed renders of `GET path` through the router with the session `cookie`, after one warm-up render that
/// must answer 200 with `must_contain` in the HTML. The p50/p95, and the size of the HTML.
async fn time_ssr(
    app: &axum::Router,
    cookie: &str,
    path: &str,
    n: usize,
    must_contain: &str,
) -> Result<(Percentiles, usize)> {
    let mut samples = Vec::with_capacity(n);
    let mut bytes = 0;
    for i in 0..=n {
        let request = http::Request::get(path).header(http::header::COOKIE, cookie).body(Body::empty())?;
        let t = Instant::now();
        let response = app.clone().oneshot(request).await?;
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 64 << 20).await?;
        let elapsed = t.elapsed();
        if i == 0 {
            if status != http::StatusCode::OK || !String::from_utf8_lossy(&body).contains(must_contain) {
                return Err(format!(
                    "GET {path} answered {status} without {must_contain:?} ({} bytes)",
                    body.len()
                )
                .into());
            }
            bytes = body.len();
        } else {
            samples.push(elapsed);
        }
    }
    Ok((Percentiles::of(samples), bytes))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("fleetpane-bench: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    match run(&args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fleetpane-bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> Result<()> {
    let fleet_dir = std::path::absolute(&args.fleet_dir)?;
    let config = bench_config(&fleet_dir)?;
    let mut lines = Vec::new();
    let load_at_start = load_average();
    println!("fleetpane-bench on {}, load average {load_at_start} ({})", machine(), args.scale);

    // 1. Cold sync and heap of the shared caches alone: nothing else runs in this process meanwhile.
    {
        let fleet = Fleet::from_config(&config.clusters)?;
        let region = Region::new(GLOBAL);
        let t0 = Instant::now();
        let caches = Caches::start(&fleet);
        if !caches.wait_until_live(SYNC_TIMEOUT).await {
            return Err("the caches did not sync".into());
        }
        let cold_sync = t0.elapsed();
        // Let the watch streams settle (their initial-list buffers are freed as events are applied).
        tokio::time::sleep(Duration::from_secs(2)).await;
        let heap = net_heap(&region);
        let rss = rss_bytes().unwrap_or(0) as f64;
        let mut pods = 0;
        let mut rows = 0;
        for (name, c) in caches.clusters() {
            let sizes = c.sizes();
            let text: Vec<String> = sizes.iter().map(|(kind, n)| format!("{kind} {n}")).collect();
            println!("  {name}: {}", text.join(", "));
            pods += c.pods.read().len();
            rows += sizes.iter().map(|(_, n)| n).sum::<usize>();
        }
        let per_pod = heap / pods.max(1) as f64;
        println!("cold sync of every cache: {} ({pods} pods, {rows} rows)", ms(cold_sync));
        println!(
            "heap held by the caches: {} = {} per cached pod, {} per row",
            mib(heap),
            kib(per_pod),
            kib(heap / rows.max(1) as f64)
        );
        println!("RSS after sync: {}", mib(rss));
        lines.push(line("Cold sync, every shared cache of every cluster", ms(cold_sync), "", None));
        lines.push(line(
            "Heap of the caches per cached pod (all kinds' heap ÷ pods)",
            format!("{} ({} in all, {pods} pods, {rows} rows)", kib(per_pod), mib(heap)),
            "≤ 1.5 KiB",
            Some(per_pod <= 1536.0),
        ));
        lines.push(line("RSS after the cold sync (caches only)", mib(rss), "", None));
    }

    // 1b. Heap per row of one cluster's Pod, Service and EndpointSlice stores, built from listed objects.
    {
        let fleet = Fleet::from_config(&config.clusters)?;
        let cluster = fleet.clusters().first().ok_or("no cluster in the config")?;
        let client = cluster.client().clone();
        let pods = list_all::<Pod>(&client).await?;
        let services = list_all::<Service>(&client).await?;
        let slices = list_all::<EndpointSlice>(&client).await?;
        let typed_pod = {
            let region = Region::new(GLOBAL);
            let copy = pods.clone();
            let heap = net_heap(&region);
            drop(copy);
            heap / pods.len().max(1) as f64
        };
        let pod_row = store_heap::<PodRow>(&pods);
        let service_row = store_heap::<ServiceRow>(&services);
        let slice_row = store_heap::<EndpointSliceRow>(&slices);
        println!(
            "heap per row in a store ({}): Pod {} ({} pods; a typed Pod: {}), Service {}, EndpointSlice {}",
            cluster.name(),
            kib(pod_row),
            pods.len(),
            kib(typed_pod),
            kib(service_row),
            kib(slice_row)
        );
        lines.push(line(
            format!(
                "Heap per cached pod in the Pod store alone (trimmed row + key + map entry; {} pods of {})",
                pods.len(),
                cluster.name()
            ),
            format!("{} (a typed k8s-openapi Pod: {})", kib(pod_row), kib(typed_pod)),
            "≤ 1.5 KiB",
            Some(pod_row <= 1536.0),
        ));
        lines.push(line(
            "Heap per cached Service / EndpointSlice (same way)",
            format!("{} / {}", kib(service_row), kib(slice_row)),
            "",
            None,
        ));
    }

    // 2. The full state, as the server builds it.
    let options = LeptosOptions::builder().output_name("fleetpane").site_root("target/site").build();
    let mut naive_clusters = config.clusters.clone();
    let state = AppState::new(config, options).await?;
    if !state.caches.wait_until_live(SYNC_TIMEOUT).await {
        return Err("the server state's caches did not sync".into());
    }
    for c in &mut naive_clusters {
        c.mode = ClusterMode::ImpersonationOnly;
    }
    let naive_fleet = Fleet::from_config(&naive_clusters)?;
    let naive_caches = Caches::start(&naive_fleet);
    let naive_access = Access::start(&naive_fleet, DECISION_TTL);
    let cached = Reads { fleet: &state.fleet, caches: &state.caches, access: &state.access };
    let naive = Reads { fleet: &naive_fleet, caches: &naive_caches, access: &naive_access };

    let request = ServiceListRequest { q: args.query.clone(), ..ServiceListRequest::default() };
    let who = identity(0, &args.group);
    let (fast, page) = cached.time(&who, &request, args.iterations, CLUSTER_TIMEOUT).await?;
    let (slow, naive_page) = naive.time(&who, &request, args.naive_iterations, NAIVE_TIMEOUT).await?;
    if (page.total, page.fleet_total) != (naive_page.total, naive_page.fleet_total) {
        return Err(format!(
            "the cached and the naive query disagree: {}/{} vs {}/{} rows",
            page.total, page.fleet_total, naive_page.total, naive_page.fleet_total
        )
        .into());
    }
    let speedup = slow.p50.as_secs_f64() / fast.p50.as_secs_f64().max(1e-9);
    println!(
        "query {:?} as group {} ({} of the {} Services it may see match): cached p50 {} p95 {} (n={}); naive p50 {} p95 {} (n={}); {speedup:.1}x",
        args.query,
        args.group,
        page.total,
        page.fleet_total,
        ms(fast.p50),
        ms(fast.p95),
        fast.n,
        ms(slow.p50),
        ms(slow.p95),
        slow.n
    );
    let label = format!(
        "Filtered fleet-wide Service query `{}` as group `{}` ({} of {} visible Services match)",
        args.query, args.group, page.total, page.fleet_total
    );
    lines.push(line(
        format!("{label}: shared caches, p50 / p95"),
        format!("{} / {}", ms(fast.p50), ms(fast.p95)),
        "",
        None,
    ));
    lines.push(line(
        format!("{label}: naive (impersonated LISTs per cluster and namespace), p50 / p95"),
        format!("{} / {}", ms(slow.p50), ms(slow.p95)),
        "",
        None,
    ));
    lines.push(line(
        "Speed-up of the shared caches (p50 ÷ p50)",
        format!("{speedup:.1}×"),
        "≥ 20×",
        Some(speedup >= 20.0),
    ));

    // The same for an identity that may list everything (group sre, ClusterRole view cluster-wide): the naive
    // way then LISTs every Service and EndpointSlice of every cluster.
    let broad = Impersonation::new("bench-sre@example.com", ["sre"]);
    let (broad_fast, broad_page) = cached.time(&broad, &request, args.iterations, CLUSTER_TIMEOUT).await?;
    let (broad_slow, broad_naive) =
        naive.time(&broad, &request, args.naive_iterations.div_ceil(3), NAIVE_TIMEOUT).await?;
    if (broad_page.total, broad_page.fleet_total) != (broad_naive.total, broad_naive.fleet_total) {
        return Err("the cached and the naive query disagree for group sre".into());
    }
    let broad_speedup = broad_slow.p50.as_secs_f64() / broad_fast.p50.as_secs_f64().max(1e-9);
    println!(
        "same query as group sre ({} of {} Services match): cached p50 {} p95 {}; naive p50 {} p95 {} (n={}); {broad_speedup:.1}x",
        broad_page.total,
        broad_page.fleet_total,
        ms(broad_fast.p50),
        ms(broad_fast.p95),
        ms(broad_slow.p50),
        ms(broad_slow.p95),
        broad_slow.n
    );
    lines.push(line(
        format!(
            "Same query as group `sre` (views everything: {} of {} Services match): shared caches vs naive cluster-wide LISTs, p50 / p95",
            broad_page.total, broad_page.fleet_total
        ),
        format!("{} / {} vs {} / {} ({broad_speedup:.0}×)", ms(broad_fast.p50), ms(broad_fast.p95), ms(broad_slow.p50), ms(broad_slow.p95)),
        "",
        None,
    ));

    // 3. Apiserver requests per page view.
    let solo = Impersonation::new("bench-solo@example.com", [args.group.as_str()]);
    let before = Sent::now(&state.fleet, &state.access);
    let solo_first_view = Instant::now();
    cached.view(&solo, &request, CLUSTER_TIMEOUT).await?;
    let first_one = Sent::now(&state.fleet, &state.access).since(before);
    let steady_views = 50;
    let before = Sent::now(&state.fleet, &state.access);
    let t = Instant::now();
    for _ in 0..steady_views {
        cached.view(&solo, &request, CLUSTER_TIMEOUT).await?;
    }
    let steady_one_time = t.elapsed();
    let steady_one = Sent::now(&state.fleet, &state.access).since(before);

    let users: Vec<Impersonation> = (1..=args.users).map(|i| identity(i, &args.group)).collect();
    // First views in waves of FIRST_VIEW_WAVE identities: each new identity asks its access reviews now, one
    // per (cluster, kind, namespace), all at once; more new identities at once than that made reviews fail with
    // connect errors on this machine (see docs/PERFORMANCE.md).
    let before = Sent::now(&state.fleet, &state.access);
    let t = Instant::now();
    let mut first_failed = 0;
    for wave in users.chunks(FIRST_VIEW_WAVE) {
        first_failed += cached.round(wave, &request).await;
    }
    let first_many_time = t.elapsed();
    let first_many = Sent::now(&state.fleet, &state.access).since(before);
    // Then every identity views again, all at once, round after round. Identities whose decisions passed the
    // TTL meanwhile ask again: that is counted, it is what steady state costs.
    let rounds = 5;
    let before = Sent::now(&state.fleet, &state.access);
    let t = Instant::now();
    let mut steady_failed = 0;
    for _ in 0..rounds {
        steady_failed += cached.round(&users, &request).await;
    }
    let steady_many_time = t.elapsed();
    let steady_many = Sent::now(&state.fleet, &state.access).since(before);
    // The single user again, once its decisions are past the TTL.
    tokio::time::sleep(
        (solo_first_view + DECISION_TTL + Duration::from_secs(1)).saturating_duration_since(Instant::now()),
    )
    .await;
    let before = Sent::now(&state.fleet, &state.access);
    cached.view(&solo, &request, CLUSTER_TIMEOUT).await?;
    let expired_one = Sent::now(&state.fleet, &state.access).since(before);
    let many_views = rounds * users.len();
    println!(
        "requests per page view, 1 user: first {}, steady {} over {steady_views} views in {}, once past the TTL {}",
        first_one.per_view(1),
        steady_one.per_view(steady_views),
        ms(steady_one_time),
        expired_one.per_view(1)
    );
    println!(
        "requests per page view, {} users: first {} ({FIRST_VIEW_WAVE} at a time, in {}, {first_failed} failed), then all at once {} over {many_views} views in {} ({steady_failed} failed)",
        users.len(),
        first_many.per_view(users.len()),
        ms(first_many_time),
        steady_many.per_view(many_views),
        ms(steady_many_time)
    );
    let rate = |sent: Sent, time: Duration| sent.all as f64 / time.as_secs_f64().max(1e-9);
    let views_per_s = |views: usize, time: Duration| views as f64 / time.as_secs_f64().max(1e-9);
    lines.push(line("Apiserver requests per page view, 1 user, first view", first_one.per_view(1), "", None));
    lines.push(line(
        format!("Apiserver requests per page view, 1 user, steady state ({steady_views} views in a row)"),
        steady_one.per_view(steady_views),
        "0 LISTs",
        Some(steady_one.others() == 0),
    ));
    lines.push(line(
        format!(
            "Apiserver requests per page view, 1 user, next view once its decisions are {} s old",
            DECISION_TTL.as_secs()
        ),
        expired_one.per_view(1),
        "0 LISTs",
        Some(expired_one.others() == 0),
    ));
    lines.push(line(
        format!("Apiserver requests per page view, {} users, first view each ({FIRST_VIEW_WAVE} new identities at a time)", users.len()),
        format!("{} (all first views took {}; {first_failed} failed)", first_many.per_view(users.len()), ms(first_many_time)),
        "",
        None,
    ));
    lines.push(line(
        format!("Apiserver requests per page view, {} users at once, steady state ({rounds} rounds, decisions past the TTL renewed on the way)", users.len()),
        format!("{} over {many_views} views; {steady_failed} failed", steady_many.per_view(many_views)),
        "0 LISTs",
        Some(steady_many.others() == 0 && steady_failed == 0),
    ));
    lines.push(line(
        format!("Apiserver request rate at steady state, 1 vs {} users", users.len()),
        format!(
            "{:.1}/s vs {:.1}/s (page views served at {:.0}/s vs {:.0}/s)",
            rate(steady_one, steady_one_time),
            rate(steady_many, steady_many_time),
            views_per_s(steady_views, steady_one_time),
            views_per_s(many_views, steady_many_time)
        ),
        "independent of users",
        Some(steady_one.all == 0 && steady_many.all == 0),
    ));

    // 4. The list page's first page, rendered server-side through the router with a signed-in session.
    let (cookie, _csrf) =
        testing::sign_in(&state, testing::identity("bench-ssr@example.com", &[args.group.as_str()])).await;
    let app = router(state.clone());
    let path = format!("/services?q={}", args.query);
    let first_row = page.rows.first().map(|r| r.name.clone()).unwrap_or_default();
    let (ssr, bytes) = time_ssr(&app, &cookie, &path, args.iterations, &first_row).await?;
    println!("SSR GET {path}: p50 {} p95 {} (n={}, {bytes} bytes of HTML)", ms(ssr.p50), ms(ssr.p95), ssr.n);
    lines.push(line(
        format!("List page SSR, `GET {path}` through the router, signed in ({bytes} bytes), p50 / p95"),
        format!("{} / {}", ms(ssr.p50), ms(ssr.p95)),
        "< 50 ms",
        Some(ssr.p95 < Duration::from_millis(50)),
    ));

    // 5. The triage view (every Service the person may see, diagnosed and ranked), rendered the same way, for
    // the RBAC-limited identity and for one that sees the whole fleet.
    let (sre_cookie, _csrf) =
        testing::sign_in(&state, testing::identity("bench-sre-ssr@example.com", &["sre"])).await;
    let direct = triage::triage(
        &state.fleet,
        &state.caches,
        &state.access,
        Some(&state.metrics),
        &broad,
        &TriageRequest::default(),
        triage::CLUSTER_TIMEOUT,
    )
    .await;
    println!(
        "triage as group sre: {} Services checked, {} with findings, {} ms (triage::triage, unavailable {:?})",
        direct.checked, direct.total, direct.elapsed_ms, direct.unavailable
    );
    for (who, cookie) in [(args.group.as_str(), &cookie), ("sre", &sre_cookie)] {
        let (ssr, bytes) = time_ssr(&app, cookie, "/triage", TRIAGE_ITERATIONS, "").await?;
        println!(
            "SSR GET /triage as group {who}: p50 {} p95 {} (n={}, {bytes} bytes)",
            ms(ssr.p50),
            ms(ssr.p95),
            ssr.n
        );
        let scope = if who == "sre" {
            format!(
                "the whole fleet: {} Services checked, {} with findings, first page of {}",
                direct.checked,
                direct.total,
                direct.rows.len()
            )
        } else {
            "the namespaces it may read".to_owned()
        };
        lines.push(line(
            format!("Triage view SSR, `GET /triage` as group `{who}` ({scope}; {bytes} bytes), p50 / p95"),
            format!("{} / {}", ms(ssr.p50), ms(ssr.p95)),
            "< 200 ms",
            Some(ssr.p95 < Duration::from_millis(200)),
        ));
    }

    // 6. WASM size, measured by ./dev bench --wasm.
    match args.wasm_brotli {
        Some(bytes) => {
            println!("hydrated WASM, release, brotli: {bytes} bytes");
            lines.push(line(
                "Hydrated WASM (release build, wasm-opt, brotli -q 11)",
                format!("{:.1} KB ({bytes} bytes)", bytes as f64 / 1000.0),
                "< 350 KB",
                Some(bytes < 350_000),
            ));
        }
        None => {
            println!("hydrated WASM size: not measured (run ./dev bench --wasm)");
            lines.push(line(
                "Hydrated WASM (release, brotli)",
                "not measured in this run (`./dev bench --wasm`)",
                "< 350 KB",
                None,
            ));
        }
    }

    let rss = rss_bytes().unwrap_or(0) as f64;
    lines.push(line(
        "RSS at the end (server state + naive copy + 100 identities' decisions)",
        mib(rss),
        "",
        None,
    ));
    let report = format!(
        "Run of {} UTC on {}; load average (1, 5, 15 min) {load_at_start} at the start, {} at the end (other \
         work shares these 2 cores: timings vary with it).\n\nScale: {}.\n\nCommand: `{}`\n\n{}",
        jiff::Timestamp::now().strftime("%Y-%m-%d %H:%M"),
        machine(),
        load_average(),
        args.scale,
        args.command,
        table(&lines)
    );
    println!("\n{report}");
    if let Some(path) = &args.record {
        let document = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        std::fs::write(path, splice(&document, &report)?).map_err(|e| format!("{}: {e}", path.display()))?;
        println!("recorded in {}", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        let p = Percentiles::of(samples);
        assert_eq!((p.p50, p.p95, p.n), (Duration::from_millis(50), Duration::from_millis(95), 100));
        let one = Percentiles::of(vec![Duration::from_millis(7)]);
        assert_eq!((one.p50, one.p95), (Duration::from_millis(7), Duration::from_millis(7)));
        assert_eq!(Percentiles::of(Vec::new()).p95, Duration::ZERO);
    }

    #[test]
    fn splice_replaces_only_the_results() {
        let doc = format!("# Perf\nintro\n{START_MARKER}\nold\nresults\n{END_MARKER}\nmethod\n");
        let out = splice(&doc, "new table\n").unwrap();
        assert_eq!(out, format!("# Perf\nintro\n{START_MARKER}\nnew table\n{END_MARKER}\nmethod\n"));
        assert_eq!(splice(&out, "new table").unwrap(), out, "splicing again changes nothing");
        assert!(splice("no markers", "x").is_err());
        assert!(splice(&format!("{END_MARKER}{START_MARKER}"), "x").is_err());
    }

    #[test]
    fn args_need_a_fleet_dir_and_known_flags() {
        let a =
            Args::parse(strings(&["--fleet-dir", "/x", "--users", "7", "--wasm-brotli", "1234"])).unwrap();
        assert_eq!((a.fleet_dir, a.users, a.wasm_brotli), (PathBuf::from("/x"), 7, Some(1234)));
        assert!(Args::parse(strings(&["--users", "7"])).unwrap_err().contains("--fleet-dir"));
        assert!(Args::parse(strings(&["--fleet-dir", "/x", "--bogus"])).unwrap_err().contains("--bogus"));
        assert!(Args::parse(strings(&["--fleet-dir", "/x", "--users", "many"])).is_err());
        assert!(Args::parse(strings(&["--fleet-dir", "/x", "--users", "0"])).is_err());
        assert!(Args::parse(strings(&["--fleet-dir"])).unwrap_err().contains("needs a value"));
    }

    #[test]
    fn table_marks_failures() {
        let t = table(&[
            line("a", "1", "≤ 2", Some(true)),
            line("b", "3", "≤ 2", Some(false)),
            line("c", "x", "", None),
        ]);
        assert!(t.contains("| a | 1 | ≤ 2 | pass |"), "{t}");
        assert!(t.contains("| b | 3 | ≤ 2 | **FAIL** |"), "{t}");
        assert!(t.contains("| c | x |  |  |"), "{t}");
    }
}
