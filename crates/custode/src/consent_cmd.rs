//! `custode consent`: check a consent receipt offline, and print the key
//! receipts are signed with.

use anyhow::Context;
use clap::Subcommand;
use custode_crypto::VerifyingKey;
use custode_store::OpenMode;

use crate::Outcome;
use crate::data_cmd::StoreArgs;
use crate::output::outln;

#[derive(Subcommand)]
pub(crate) enum ConsentCommand {
    /// Verify a signed receipt (the JSON document the API returns, or its
    /// compact JWS). Exit 0 valid, 1 altered or signed by another key.
    Verify {
        /// The receipt file; `-` reads standard input.
        receipt: std::path::PathBuf,
        /// The instance's public key in hexadecimal (from
        /// `/api/v1/consent/public-key`); without it, the key of the store
        /// in `--data` is used.
        #[arg(long)]
        public_key: Option<String>,
    },
    /// Print the public key that signs receipts, in hexadecimal.
    PublicKey,
}

fn parse_key(hex_key: &str) -> anyhow::Result<VerifyingKey> {
    let bytes: [u8; 32] = hex::decode(hex_key.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .context("the public key must be 64 hexadecimal digits (32 bytes)")?;
    VerifyingKey::from_bytes(&bytes).context("not a valid Ed25519 public key")
}

pub(crate) async fn run(args: &StoreArgs, cmd: ConsentCommand) -> anyhow::Result<Outcome> {
    match cmd {
        ConsentCommand::Verify {
            receipt,
            public_key,
        } => {
            let text = if receipt.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin()).context("cannot read standard input")?
            } else {
                std::fs::read_to_string(&receipt)
                    .with_context(|| format!("cannot read {}", receipt.display()))?
            };
            let key = match public_key {
                Some(k) => parse_key(&k)?,
                None => {
                    let app = args.open(OpenMode::Existing).await?;
                    let key = app.store.verifying_key();
                    app.close().await;
                    key
                }
            };
            match custode_consent::receipt::verify(&text, &key) {
                Ok(content) => {
                    let id = content
                        .get("consentReceiptID")
                        .or_else(|| content.get("record_id"))
                        .and_then(|v| v.as_str())
                        .unwrap_or("?");
                    outln!(
                        "receipt {id} is valid: signed by key {}",
                        custode_consent::receipt::key_id(&key)
                    )?;
                    Ok(Outcome::Ok)
                }
                Err(e) => {
                    outln!("receipt INVALID: {e}")?;
                    Ok(Outcome::Invalid)
                }
            }
        }
        ConsentCommand::PublicKey => {
            let app = args.open(OpenMode::Existing).await?;
            outln!("{}", hex::encode(app.store.verifying_key().as_bytes()))?;
            app.close().await;
            Ok(Outcome::Ok)
        }
    }
}
