//! `gamops token create|list|revoke`: API tokens for the controller's HTTP API.

use crate::controller::http::{OPERATE, READ};
use crate::store::Store;

use super::state::StoreArgs;
use super::{CommandError, Format};

/// Manage the controller's API tokens (kept hashed in the store).
#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    Create(CreateArgs),
    List(ListArgs),
    Revoke(RevokeArgs),
}

/// Make a token and print it: it is shown only this once.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  gamops token create --name dashboard --scope read
  gamops token create --name ops --scope operate    # operate also reads")]
pub struct CreateArgs {
    /// A name for it (creating a name again replaces its token).
    #[arg(long)]
    pub name: String,
    /// What it may do: read, or operate (reconcile, pause, resume; implies read).
    #[arg(long, value_parser = [READ, OPERATE], default_value = READ)]
    pub scope: String,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// List the tokens' names and scopes.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// Remove a token.
#[derive(Debug, clap::Args)]
pub struct RevokeArgs {
    /// The token's name.
    pub name: String,
    #[command(flatten)]
    pub store: StoreArgs,
}

pub fn run(cmd: TokenCommand) -> Result<u8, CommandError> {
    let runtime = super::runtime()?;
    match cmd {
        TokenCommand::Create(args) => runtime.block_on(async {
            let store = Store::open(&args.store.location()).await?;
            let token = store.create_token(&args.name, &[args.scope.as_str()]).await;
            store.close().await;
            println!("{}", token?);
            eprintln!(
                "token {} ({}): shown only now; send it as `Authorization: Bearer TOKEN`",
                args.name, args.scope
            );
            Ok(0)
        }),
        TokenCommand::List(args) => runtime.block_on(async {
            let store = Store::open(&args.store.location()).await?;
            let tokens = store.tokens().await;
            store.close().await;
            let tokens = tokens?;
            match args.format {
                Format::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&tokens).map_err(CommandError::internal)?
                ),
                Format::Text if tokens.is_empty() => println!("no tokens"),
                Format::Text => {
                    for t in &tokens {
                        println!("{}\t{}\t{}", t.name, t.scopes.join(" "), t.created_at);
                    }
                }
            }
            Ok(0)
        }),
        TokenCommand::Revoke(args) => runtime.block_on(async {
            let store = Store::open(&args.store.location()).await?;
            let removed = store.revoke_token(&args.name).await;
            store.close().await;
            if removed? {
                println!("revoked {}", args.name);
                Ok(0)
            } else {
                Err(
                    CommandError::user(format!("there is no token named {}", args.name))
                        .hint("`gamops token list` shows the names"),
                )
            }
        }),
    }
}
