//! The whole desired state: every document of an inventory, each tagged with its source.

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
}
