//! Changing a GAM over its SSH CLI. `dialect` renders the `ghn ...` lines; the session (prompts,
//! pager, errors, saving) comes with apply.

pub mod dialect;
