//! `gamops discover`: find GAMs in an address range by their sysObjectID.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use serde::Serialize;

use crate::device::snmp::{self, Security, SnmpTarget};
use crate::secret::Secret;

use super::{CommandError, Format};

/// Probe an IPv4 range over SNMP and list the GAMs found, with model and firmware.
///
/// One GET per address (sysDescr, sysObjectID, sysName and the G.hn globals); a GAM is an agent
/// whose sysObjectID is under 1.3.6.1.4.1.20095.2000.1.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  gamops discover --range 10.20.0.0/24
  gamops discover --range 127.0.0.1/30 --port 16101 --format json")]
pub struct Args {
    /// Addresses to probe, as CIDR (`10.20.0.0/24`) or one address.
    #[arg(long)]
    pub range: String,
    /// SNMP port.
    #[arg(long, default_value_t = 161)]
    pub port: u16,
    /// SNMPv2c community (a reference env:NAME or file:PATH, or the community itself).
    #[arg(long, default_value = "public")]
    pub community: String,
    /// How long to wait for each address.
    #[arg(long, default_value_t = 1000)]
    pub timeout_ms: u64,
    /// How many addresses to probe at once.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Also list addresses that did not answer or are not GAMs.
    #[arg(long)]
    pub all: bool,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// The largest range probed in one run.
const MAX_ADDRESSES: u64 = 65_536;

#[derive(Debug, Serialize)]
struct Found {
    address: String,
    gam: bool,
    model: Option<String>,
    firmware: Option<String>,
    name: Option<String>,
    reason: Option<String>,
}

fn parse_range(range: &str) -> Result<Vec<Ipv4Addr>, CommandError> {
    let bad = || {
        CommandError::user(format!(
            "--range {range:?} is not an IPv4 address or CIDR range"
        ))
        .hint("write 10.20.0.0/24 or 10.20.0.7")
    };
    let (addr, prefix) = match range.split_once('/') {
        Some((a, p)) => (a, p.parse::<u32>().map_err(|_| bad())?),
        None => (range, 32),
    };
    let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
    if prefix > 32 {
        return Err(bad());
    }
    let size = 1u64 << (32 - prefix);
    if size > MAX_ADDRESSES {
        return Err(
            CommandError::user(format!("--range {range} holds {size} addresses"))
                .hint("probe at most a /16 at a time"),
        );
    }
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    let base = u32::from(addr) & mask;
    Ok((0..size)
        .map(|i| Ipv4Addr::from(base.wrapping_add(i as u32)))
        .collect())
}

pub fn run(args: Args) -> Result<u8, CommandError> {
    let addresses = parse_range(&args.range)?;
    let community = match args.community.parse::<crate::model::Credential>() {
        Ok(c) if !c.is_literal() => crate::secret::resolve(&c)
            .map_err(|e| CommandError::user(format!("--community: {e}")))?,
        _ => Secret::new(args.community.clone()),
    };
    let targets: Vec<(String, SnmpTarget)> = addresses
        .iter()
        .map(|ip| {
            let addr = SocketAddr::from((*ip, args.port));
            let mut t = SnmpTarget::new(
                addr,
                Security::V2c {
                    community: community.clone(),
                },
            );
            t.timeout = Duration::from_millis(args.timeout_ms);
            t.retries = 0;
            (addr.to_string(), t)
        })
        .collect();
    let runtime = super::runtime()?;
    let results = runtime.block_on(async {
        let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(args.concurrency.max(1)));
        let mut tasks = tokio::task::JoinSet::new();
        for (i, (name, t)) in targets.into_iter().enumerate() {
            let limit = limit.clone();
            tasks.spawn(async move {
                let _permit = limit.acquire_owned().await;
                (i, name, snmp::probe(&t).await)
            });
        }
        let mut out = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            if let Ok(r) = joined {
                out.push(r);
            }
        }
        out.sort_by_key(|(i, _, _)| *i);
        out
    });
    let found: Vec<Found> = results
        .into_iter()
        .map(|(_, address, r)| match r {
            Ok(sys) => Found {
                address,
                gam: true,
                model: sys.model().map(|m| m.to_string()),
                firmware: sys.firmware().map(str::to_string),
                name: Some(sys.name.clone()),
                reason: None,
            },
            Err(reason) => Found {
                address,
                gam: false,
                model: None,
                firmware: None,
                name: None,
                reason: Some(reason),
            },
        })
        .filter(|f| args.all || f.gam)
        .collect();
    let gams = found.iter().filter(|f| f.gam).count();
    match args.format {
        Format::Json => {
            let json = serde_json::to_string_pretty(&found).map_err(CommandError::internal)?;
            println!("{json}");
        }
        Format::Text => {
            for f in &found {
                // Every value here came from the device: shown escaped, so a sysName holding a
                // newline or a terminal escape cannot forge a result line.
                let p = |s: Option<&str>, or: &'static str| {
                    crate::device::printable(s.unwrap_or(or)).into_owned()
                };
                if f.gam {
                    println!(
                        "{} {} firmware {} name {}",
                        f.address,
                        p(f.model.as_deref(), "unknown-model"),
                        p(f.firmware.as_deref(), "?"),
                        p(f.name.as_deref(), "")
                    );
                } else {
                    println!("{} -- {}", f.address, p(f.reason.as_deref(), ""));
                }
            }
            eprintln!("{gams} GAM(s) found in {} address(es)", addresses.len());
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("127.0.0.1/30").unwrap().len(), 4);
        assert_eq!(
            parse_range("127.0.0.1/30").unwrap()[0],
            Ipv4Addr::new(127, 0, 0, 0)
        );
        assert_eq!(
            parse_range("10.0.0.7").unwrap(),
            vec![Ipv4Addr::new(10, 0, 0, 7)]
        );
        assert!(parse_range("10.0.0.0/8").is_err());
        assert!(parse_range("10.0.0/24").is_err());
        assert!(parse_range("10.0.0.0/33").is_err());
    }
}
