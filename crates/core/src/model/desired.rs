//! The whole desired state: every document of an inventory, each tagged with its source.

use std::collections::BTreeMap;

use super::bandwidth::Plans;
use super::device::Device;
use super::diagnostic::SourceId;
use super::fleet::Fleet;
use super::subscriber::Subscriber;

/// A document and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Doc<T> {
    pub source: SourceId,
    pub value: T,
}

impl<T> std::ops::Deref for Doc<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

/// What git says the fleet should be.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Desired {
    pub fleet: Option<Doc<Fleet>>,
    pub plans: Option<Doc<Plans>>,
    pub devices: Vec<Doc<Device>>,
    pub subscribers: Vec<Doc<Subscriber>>,
}

impl Desired {
    /// The fleet settings, or the defaults when gamops.yaml could not be read.
    pub fn fleet(&self) -> Fleet {
        self.fleet
            .as_ref()
            .map(|d| d.value.clone())
            .unwrap_or_default()
    }

    pub fn plans(&self) -> Option<&Plans> {
        self.plans.as_ref().map(|d| &d.value)
    }

    pub fn device(&self, name: &str) -> Option<&Doc<Device>> {
        self.devices.iter().find(|d| d.name.as_str() == name)
    }

    /// The subscribers of device `name`, in inventory order. For many devices at once,
    /// [`Desired::subscribers_by_device`] reads the subscribers once rather than once a device.
    pub fn subscribers_of(&self, name: &str) -> Vec<&Subscriber> {
        self.subscribers
            .iter()
            .filter(|s| s.device.as_str() == name)
            .map(|s| &s.value)
            .collect()
    }

    /// Every device's subscribers, by device name, each list in inventory order; a device with
    /// none is absent.
    pub fn subscribers_by_device(&self) -> BTreeMap<&str, Vec<&Subscriber>> {
        let mut map: BTreeMap<&str, Vec<&Subscriber>> = BTreeMap::new();
        for s in &self.subscribers {
            map.entry(s.device.as_str()).or_default().push(&s.value);
        }
        map
    }
}
