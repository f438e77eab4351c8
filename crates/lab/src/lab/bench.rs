//! `gamops lab bench`: the lab's speed and size, measured in one process.
//!
//! - **memory**: the resident set of the process once every device is up and idle;
//! - **GETBULK**: the latency of GETBULK requests with 50 repetitions against one device (no
//!   injected latency), with the snmp2 client, one request at a time;
//! - **SSH logins**: password logins (russh client) spread over the devices, a few in flight at
//!   once; each opens a session channel and runs `show ghn discover all`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::lab::runtime::{DeviceConfig, Lab, LabError, LabOptions};

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchSpec {
    pub getbulks: usize,
    pub logins: usize,
    pub login_concurrency: usize,
}

/// The figures.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub devices: usize,
    pub startup_ms: u128,
    /// Resident set after the devices idled, in MiB (None where /proc is missing).
    pub idle_rss_mib: Option<f64>,
    pub getbulk_requests: usize,
    pub getbulk_repetitions: u32,
    pub getbulk_varbinds_per_answer: usize,
    pub getbulk_p50_us: u128,
    pub getbulk_p99_us: u128,
    pub getbulk_max_us: u128,
    pub ssh_logins: usize,
    pub ssh_logins_failed: usize,
    pub ssh_total_ms: u128,
}

impl BenchReport {
    /// The report as lines for people.
    pub fn to_text(&self) -> String {
        let rss = self
            .idle_rss_mib
            .map_or_else(|| "unknown".to_string(), |m| format!("{m:.1} MiB"));
        format!(
            "devices:            {} (started in {} ms)\n\
             idle RSS:           {rss}\n\
             GETBULK x{} reps:   p50 {} us, p99 {} us, max {} us over {} requests ({} varbinds per answer)\n\
             SSH logins:         {} in {} ms ({} failed)\n",
            self.devices,
            self.startup_ms,
            self.getbulk_repetitions,
            self.getbulk_p50_us,
            self.getbulk_p99_us,
            self.getbulk_max_us,
            self.getbulk_requests,
            self.getbulk_varbinds_per_answer,
            self.ssh_logins,
            self.ssh_total_ms,
            self.ssh_logins_failed,
        )
    }
}

/// The benchmark failed to run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Lab(#[from] LabError),
    #[error("no devices to measure")]
    NoDevices,
    #[error("SNMP client: {0}")]
    Snmp(String),
}

/// The resident set of this process, in MiB.
pub fn rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

fn percentile(sorted: &[Duration], p: f64) -> u128 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((sorted.len() as f64) * p).ceil() as usize;
    let i = rank.clamp(1, sorted.len()) - 1;
    sorted.get(i).map_or(0, Duration::as_micros)
}

/// Starts `devices`, lets them idle, and measures.
pub async fn run(devices: Vec<DeviceConfig>, spec: BenchSpec) -> Result<BenchReport, BenchError> {
    let count = devices.len();
    let started = Instant::now();
    let lab = Lab::start(
        devices,
        LabOptions {
            ssh_idle_timeout: None,
            ..LabOptions::default()
        },
    )
    .await?;
    let startup_ms = started.elapsed().as_millis();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle_rss_mib = rss_mib();

    let first = lab.devices().first().ok_or(BenchError::NoDevices)?.clone();
    let (latencies, varbinds) = getbulks(first.snmp_addr(), spec.getbulks).await?;
    let mut sorted = latencies;
    sorted.sort_unstable();

    let (ssh_total, failed) = logins(&lab, spec.logins, spec.login_concurrency.max(1)).await;
    lab.shutdown().await;
    Ok(BenchReport {
        devices: count,
        startup_ms,
        idle_rss_mib,
        getbulk_requests: sorted.len(),
        getbulk_repetitions: 50,
        getbulk_varbinds_per_answer: varbinds,
        getbulk_p50_us: percentile(&sorted, 0.50),
        getbulk_p99_us: percentile(&sorted, 0.99),
        getbulk_max_us: sorted.last().map_or(0, Duration::as_micros),
        ssh_logins: spec.logins,
        ssh_logins_failed: failed,
        ssh_total_ms: ssh_total.as_millis(),
    })
}

async fn getbulks(
    addr: std::net::SocketAddr,
    n: usize,
) -> Result<(Vec<Duration>, usize), BenchError> {
    let mut session = snmp2::AsyncSession::new_v2c(addr, b"public", 0)
        .await
        .map_err(|e| BenchError::Snmp(e.to_string()))?;
    // The start of the GAM-GHN-AGENT-MIB tables: a real walk's first request.
    let oid = snmp2::Oid::from(&[1, 3, 6, 1, 4, 1, 20095, 2001, 143, 1][..])
        .map_err(|e| BenchError::Snmp(format!("{e:?}")))?;
    let mut latencies = Vec::with_capacity(n);
    let mut varbinds = 0;
    for i in 0..n + 20 {
        let t = Instant::now();
        let pdu = tokio::time::timeout(Duration::from_secs(2), session.getbulk(&[&oid], 0, 50))
            .await
            .map_err(|_| BenchError::Snmp("GETBULK timed out".into()))?
            .map_err(|e| BenchError::Snmp(e.to_string()))?;
        let elapsed = t.elapsed();
        varbinds = pdu.varbinds.count();
        // The first 20 warm the caches and are not counted.
        if i >= 20 {
            latencies.push(elapsed);
        }
    }
    Ok((latencies, varbinds))
}

struct NoCheck;

impl russh::client::Handler for NoCheck {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        _key: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        Ok(true)
    }
}

/// One password login as `admin` with an empty password that runs one command.
async fn login(addr: std::net::SocketAddr, config: Arc<russh::client::Config>) -> bool {
    let attempt = async {
        let mut session = russh::client::connect(config, addr, NoCheck).await?;
        let auth = session.authenticate_password("admin", "").await?;
        if !auth.success() {
            return Ok::<bool, russh::Error>(false);
        }
        let mut channel = session.channel_open_session().await?;
        channel.exec(true, "show ghn discover all").await?;
        let mut got_output = false;
        while let Some(msg) = channel.wait().await {
            match msg {
                russh::ChannelMsg::Data { .. } => got_output = true,
                russh::ChannelMsg::Close | russh::ChannelMsg::Eof => break,
                _ => {}
            }
        }
        let _ = session
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await;
        Ok(got_output)
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(30), attempt).await,
        Ok(Ok(true))
    )
}

async fn logins(lab: &Lab, n: usize, concurrency: usize) -> (Duration, usize) {
    let addrs: Vec<_> = lab.devices().iter().map(|d| d.ssh_addr()).collect();
    if addrs.is_empty() {
        return (Duration::ZERO, n);
    }
    let config = Arc::new(russh::client::Config::default());
    let semaphore = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let addr = addrs[i % addrs.len()];
        let config = Arc::clone(&config);
        let semaphore = Arc::clone(&semaphore);
        tasks.spawn(async move {
            let _permit = semaphore.acquire_owned().await.ok();
            login(addr, config).await
        });
    }
    let mut failed = 0;
    while let Some(done) = tasks.join_next().await {
        if !matches!(done, Ok(true)) {
            failed += 1;
        }
    }
    (started.elapsed(), failed)
}
