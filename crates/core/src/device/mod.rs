//! The GAM as data: the live-state types (configuration in `live`, health in `status`) and the
//! CLI dialect (`dialect`: the text of every `ghn ...` line gamops sends), which planning needs
//! without any driver. The drivers that read and change a device are in the `gamops-device` crate.
//!
//! Invariant: nothing here does I/O.

pub mod dialect;
pub mod live;
pub mod status;

pub use live::{LiveDevice, Observation};
pub use status::{DeviceStatus, StatusObservation};

/// A string read from a device (or written by anyone but gamops) as it is shown to people:
/// control characters are escaped (`\n`, `\u{1b}`), so a newline cannot forge another line of
/// output and a terminal escape cannot rewrite the screen. Other text is unchanged.
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(
        s.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn printable_escapes_control_characters_only() {
        assert_eq!(super::printable("Unit 4B é"), "Unit 4B é");
        assert_eq!(
            super::printable("gam\n10.0.0.9 GAM-12-C\u{1b}[2K"),
            "gam\\n10.0.0.9 GAM-12-C\\u{1b}[2K"
        );
    }
}
