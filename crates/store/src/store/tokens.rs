//! API tokens: made here from 32 random bytes, shown once, kept only as their SHA-256, looked
//! up by that hash. A token names its scopes; the HTTP layer decides what each scope allows.

use sha2::{Digest, Sha256};

use super::records::Timestamp;
use super::{Store, StoreError};

/// What a token was created with: its name and scopes.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TokenInfo {
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: Timestamp,
}

/// The prefix of every token, so a leaked one is recognisable in a scan.
const PREFIX: &str = "gamops_";

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Store {
    /// Creates a token named `name` (unique) with `scopes`, and returns it: the only time it
    /// is seen. Creating a name again replaces the old token.
    pub async fn create_token(&self, name: &str, scopes: &[&str]) -> Result<String, StoreError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| StoreError::Random(e.to_string()))?;
        let token = format!("{PREFIX}{}", hex::encode(bytes));
        sqlx::query(
            "INSERT INTO api_tokens (name, hash, scopes, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET hash = excluded.hash, scopes = excluded.scopes, \
                created_at = excluded.created_at",
        )
        .bind(name)
        .bind(hash(&token))
        .bind(scopes.join(" "))
        .bind(Timestamp::now().as_millis())
        .execute(&self.pool)
        .await?;
        Ok(token)
    }

    /// The token's name and scopes, or `None` when no such token exists.
    pub async fn check_token(&self, token: &str) -> Result<Option<TokenInfo>, StoreError> {
        if !token.starts_with(PREFIX) {
            return Ok(None);
        }
        let row: Option<(String, String, i64)> =
            sqlx::query_as("SELECT name, scopes, created_at FROM api_tokens WHERE hash = $1")
                .bind(hash(token))
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(name, scopes, created_at)| TokenInfo {
            name,
            scopes: scopes.split_whitespace().map(str::to_string).collect(),
            created_at: Timestamp::from_millis(created_at),
        }))
    }

    /// Removes a token; whether there was one.
    pub async fn revoke_token(&self, name: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM api_tokens WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Every token's name and scopes (never the token).
    pub async fn tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        let rows: Vec<(String, String, i64)> =
            sqlx::query_as("SELECT name, scopes, created_at FROM api_tokens ORDER BY name")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(name, scopes, created_at)| TokenInfo {
                name,
                scopes: scopes.split_whitespace().map(str::to_string).collect(),
                created_at: Timestamp::from_millis(created_at),
            })
            .collect())
    }
}
