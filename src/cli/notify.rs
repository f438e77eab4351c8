//! `gamops notify test`: try a notification channel.

use crate::notifications::{self, NotifyError};

use super::{CommandError, ErrorKind, InventoryArgs};

/// Notifications: try a channel of gamops.yaml's `notifications:`.
#[derive(Debug, clap::Subcommand)]
pub enum NotifyCommand {
    Test(TestArgs),
}

/// Send one test notification to a channel now and say whether it was delivered.
///
/// The notification goes straight to the channel (not through the outbox, and without
/// retries); only that channel's settings and secrets are needed.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit codes: 0 delivered, 1 not delivered or not configured.

Examples:
  gamops notify test --channel noc-mail
  gamops notify test --channel alertmanager --inventory ./inventory"
)]
pub struct TestArgs {
    /// The channel's name under notifications.channels.
    #[arg(long, value_name = "NAME")]
    pub channel: String,
    #[command(flatten)]
    pub inv: InventoryArgs,
}

pub fn run(cmd: NotifyCommand) -> Result<u8, CommandError> {
    let NotifyCommand::Test(args) = cmd;
    let inv = super::load_valid(&args.inv.inventory, None, "sent")?;
    let fleet = inv.desired.fleet();
    let runtime = super::runtime()?;
    let sent = runtime.block_on(notifications::send_test(
        fleet.notifications.as_ref(),
        &args.channel,
    ));
    match sent {
        Ok(n) => {
            println!("delivered: test notification {} to {}", n.key, args.channel);
            Ok(0)
        }
        Err(e) => Err(e.into()),
    }
}

impl From<NotifyError> for CommandError {
    fn from(e: NotifyError) -> Self {
        let kind = match e {
            NotifyError::NotDelivered { .. } => ErrorKind::User,
            _ => ErrorKind::Config,
        };
        let hint = e.hint();
        let err = CommandError::new(kind, super::error::flatten(&e));
        match hint {
            Some(h) => err.hint(h),
            None => err,
        }
    }
}
