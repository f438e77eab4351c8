//! A fake billing system served beside a lab (`gamops lab up --billing splynx|sonar`): it serves
//! customers fitted to the lab's inventory, and says what the inventory's `billing:` section and
//! the environment must hold for gamops to sync from it.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;

use super::{FakeCustomer, SonarFake, SonarFakeConfig, SplynxFake, SplynxFakeConfig};
use crate::billing::sync::Source;
use crate::inventory::canonical::render;
use crate::inventory::layout::FileKind;
use crate::model::{BillingMapping, Fleet};

/// The webhook secrets of the lab's fake billing systems (their senders sign with these).
pub const SPLYNX_WEBHOOK_SECRET: &str = "lab-splynx-webhook-secret";
pub const SONAR_WEBHOOK_TOKEN: &str = "lab-sonar-webhook-token";

/// The `billing:` section that points at the lab's fake billing system on `url`; its secrets
/// are `env:` references to the variables [`Running::env`] lists.
pub fn section_yaml(system: Source, url: &str) -> String {
    match system {
        Source::Splynx => format!(
            "splynx:\n  url: {url}\n  auth:\n    key: env:GAMOPS_SPLYNX_KEY\n    secret: env:GAMOPS_SPLYNX_SECRET\n  webhook_secret: env:GAMOPS_SPLYNX_WEBHOOK_SECRET\n"
        ),
        Source::Sonar => format!(
            "sonar:\n  url: {url}\n  token: env:GAMOPS_SONAR_TOKEN\n  webhook_token: env:GAMOPS_SONAR_WEBHOOK_TOKEN\n"
        ),
    }
}

/// Adds the lab's `billing:` section for `system` on `port` to the gamops.yaml in `dir` (a
/// generated inventory), keeping the rest of the file as it is.
pub fn add_section(dir: &Path, system: Source, port: u16) -> Result<(), String> {
    let path = dir.join("gamops.yaml");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut fleet: Fleet = serde_saphyr::from_str(&text)
        .map_err(|e| format!("the generated {} does not read back: {e}", path.display()))?;
    let url = format!("http://127.0.0.1:{port}");
    let billing: BillingMapping = serde_saphyr::from_str(&section_yaml(system, &url))
        .map_err(|e| format!("the lab's billing section: {e}"))?;
    fleet.billing = Some(Box::new(billing));
    let out = render(FileKind::Fleet, &fleet, Some(&text))
        .map_err(|e| format!("cannot render gamops.yaml: {e}"))?;
    crate::atomic_write::write(&path, out.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// A fake billing system being served: it serves until dropped.
pub struct Running {
    _fake: Box<dyn std::any::Any + Send>,
    pub system: Source,
    pub url: String,
    pub customers: usize,
    /// The environment the `billing:` section's references read.
    pub env: Vec<(&'static str, String)>,
    /// The `billing:` section to add when `section` (the inventory's) does not point here.
    pub missing_section: Option<String>,
}

/// Serves `customers` from a fake of `system` on loopback `port` (0: any free port).
/// `section` is the inventory's `billing:` section, to say when it does not point here.
pub async fn start(
    system: Source,
    customers: Vec<FakeCustomer>,
    section: Option<&BillingMapping>,
    port: u16,
) -> std::io::Result<Running> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let count = customers.len();
    let (fake, url, env): (Box<dyn std::any::Any + Send>, _, _) = match system {
        Source::Splynx => {
            let config = SplynxFakeConfig {
                customers: 0,
                ..SplynxFakeConfig::default()
            };
            let fake = SplynxFake::start_on(config, addr).await?;
            fake.edit(|c| *c = customers);
            let env = vec![
                ("GAMOPS_SPLYNX_KEY", fake.api_key()),
                ("GAMOPS_SPLYNX_SECRET", fake.api_secret()),
                (
                    "GAMOPS_SPLYNX_WEBHOOK_SECRET",
                    SPLYNX_WEBHOOK_SECRET.to_string(),
                ),
            ];
            let url = fake.url();
            (Box::new(fake), url, env)
        }
        Source::Sonar => {
            let config = SonarFakeConfig {
                customers: 0,
                ..SonarFakeConfig::default()
            };
            let token = config.token.clone();
            let fake = SonarFake::start_on(config, addr).await?;
            fake.edit(|c| *c = customers);
            let env = vec![
                ("GAMOPS_SONAR_TOKEN", token),
                (
                    "GAMOPS_SONAR_WEBHOOK_TOKEN",
                    SONAR_WEBHOOK_TOKEN.to_string(),
                ),
            ];
            let url = fake.url();
            (Box::new(fake), url, env)
        }
    };
    let configured = section.and_then(|b| match system {
        Source::Splynx => b.splynx.as_ref().map(|s| s.url.as_str().to_string()),
        Source::Sonar => b.sonar.as_ref().map(|s| s.url.as_str().to_string()),
    });
    let missing_section = (configured.as_deref().map(|u| u.trim_end_matches('/'))
        != Some(url.as_str()))
    .then(|| section_yaml(system, &url));
    Ok(Running {
        _fake: fake,
        system,
        url,
        customers: count,
        env,
        missing_section,
    })
}
