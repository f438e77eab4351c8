//! Errors as the one line a person reads.

/// An error and its causes as one line: each cause that does not already show in the message
/// is added after a colon.
pub fn flatten(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !message.contains(&text) {
            message = format!("{message}: {text}");
        }
        source = s.source();
    }
    message
}
