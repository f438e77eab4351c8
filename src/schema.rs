//! JSON Schemas of the inventory's file kinds and of gamops' JSON outputs, generated from the
//! Rust types so they cannot drift. Draft-07: what yaml-language-server handles best.

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;

use crate::inventory::layout::FileKind;
use crate::inventory::report::Report;
use crate::model::{Device, Fleet, Plans, Subscriber};

fn render<T: JsonSchema>(title: &str) -> String {
    let generator = SchemaSettings::draft07().into_generator();
    let mut schema = generator.into_root_schema_for::<T>();
    schema.insert("title".to_string(), title.into());
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

/// (file name, contents) of every schema gamops publishes.
pub fn all() -> Vec<(&'static str, String)> {
    FileKind::ALL
        .iter()
        .map(|&k| (k.schema_file(), for_kind(k)))
        .chain([
            (
                "validate-report.schema.json",
                render::<Report>("gamops validate --format json"),
            ),
            (
                "plan.schema.json",
                render::<crate::plan::Plan>("gamops plan --format json, and saved plan files"),
            ),
            (
                "status.schema.json",
                render::<crate::monitor::FleetStatus>("gamops status --format json"),
            ),
            (
                "report-capacity.schema.json",
                render::<crate::monitor::report::CapacityReport>(
                    "gamops report capacity --format json",
                ),
            ),
            (
                "report-firmware.schema.json",
                render::<crate::monitor::report::FirmwareReport>(
                    "gamops report firmware --format json",
                ),
            ),
            (
                "report-plans.schema.json",
                render::<crate::monitor::report::PlansReport>("gamops report plans --format json"),
            ),
            (
                "diff.schema.json",
                render::<crate::review::Review>("gamops diff --format json"),
            ),
        ])
        .collect()
}

/// The schema of one inventory file kind.
pub fn for_kind(kind: FileKind) -> String {
    match kind {
        FileKind::Fleet => render::<Fleet>("gamops.yaml: fleet settings"),
        FileKind::Plans => render::<Plans>("plans.yaml: bandwidth plans"),
        FileKind::Device => render::<Device>("devices/<device>.yaml: one GAM"),
        FileKind::Subscriber => {
            render::<Subscriber>("subscribers/<device>/<id>.yaml: one subscriber")
        }
    }
}
