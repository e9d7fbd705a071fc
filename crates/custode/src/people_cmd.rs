//! `custode users`: the local operator invites people and manages their
//! accounts. The invitation link is printed here (the operator hands it to
//! the person, or the server mails it when invited over the API); every
//! change is the store's, audited under `cli:$USER`.

use clap::Subcommand;
use custode_domain::{Role, TenantId};
use custode_server::Custode;
use custode_store::{OpenMode, StoreError};

use crate::Outcome;
use crate::data_cmd::{StoreArgs, operator};
use crate::output::outln;

#[derive(Subcommand)]
pub(crate) enum UsersCommand {
    /// Invite a person by e-mail with a role (and a tenant); prints the
    /// one-time link (valid 7 days) to hand to them.
    Invite {
        /// Their e-mail address: also their user name.
        email: String,
        /// administrator, dpo, support_agent, legal_officer,
        /// reseller_admin or domain_admin.
        #[arg(long)]
        role: String,
        /// The tenant they are bound to (default: the whole tree).
        #[arg(long)]
        tenant: Option<String>,
        /// The server's public base URL, to print the whole link
        /// (default: $CUSTODE_PUBLIC_URL).
        #[arg(long, env = "CUSTODE_PUBLIC_URL")]
        public_url: Option<String>,
    },
    /// A new link for a person who has not accepted yet (the old one stops).
    Reinvite {
        /// The user id (`custode users list`).
        id: String,
        /// The server's public base URL (default: $CUSTODE_PUBLIC_URL).
        #[arg(long, env = "CUSTODE_PUBLIC_URL")]
        public_url: Option<String>,
    },
    /// List the people: role, tenant, state, second factor.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Disable a person: their sessions and the tokens they issued stop.
    Disable {
        /// The user id.
        id: String,
    },
    /// Enable a disabled person again.
    Enable {
        /// The user id.
        id: String,
    },
    /// Change a person's role and/or tenant (their sessions end).
    Role {
        /// The user id.
        id: String,
        /// The new role.
        #[arg(long)]
        role: Option<String>,
        /// The new tenant.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Remove a person's lost second factor; they enrol a new one with
    /// their password (POST /api/v1/totp/enroll) before logging in.
    ResetSecondFactor {
        /// The user id.
        id: String,
    },
}

fn role_of(name: &str) -> Result<Role, StoreError> {
    Role::from_name(name).ok_or_else(|| {
        StoreError::Invalid(format!(
            "unknown role `{name}`: roles are {}",
            Role::ALL
                .iter()
                .map(|r| r.name())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

fn tenant_of(id: Option<&str>) -> Result<Option<TenantId>, StoreError> {
    id.map(|t| TenantId::parse(t).map_err(|e| StoreError::Invalid(format!("--tenant: {e}"))))
        .transpose()
}

fn print_invitation(
    inv: &custode_accounts::Invitation,
    public_url: Option<&str>,
) -> anyhow::Result<()> {
    outln!(
        "Invited {} as {} (user {}), until {}.",
        inv.email,
        inv.role.name(),
        inv.user_id,
        inv.expires_at
    )?;
    match public_url {
        Some(url) => outln!(
            "Give them this link (it works once):\n\n  {}/invitation#{}\n",
            url.trim_end_matches('/'),
            inv.token
        )?,
        None => outln!(
            "Give them this invitation (it works once; with --public-url the whole link is printed):\n\n  {}\n",
            inv.token
        )?,
    }
    if custode_accounts::needs_second_factor(inv.role) {
        outln!(
            "A {} adds an authenticator app while accepting (POST /api/v1/invitations/totp, then /api/v1/invitations/accept with the code).",
            inv.role.name()
        )?;
    }
    Ok(())
}

/// Runs a command; input the store refuses (an address, a role, a tenant,
/// a person in a state that does not allow it) exits with 1, as invalid.
pub(crate) async fn run(args: &StoreArgs, cmd: UsersCommand) -> anyhow::Result<Outcome> {
    let app = args.open(OpenMode::Existing).await?;
    match act(&app, cmd).await {
        Err(e)
            if matches!(
                e.downcast_ref::<StoreError>(),
                Some(
                    StoreError::Invalid(_)
                        | StoreError::Forbidden(_)
                        | StoreError::NotFound { .. }
                        | StoreError::Conflict(_)
                )
            ) =>
        {
            eprintln!("custode: error: {e}");
            Ok(Outcome::Invalid)
        }
        other => other,
    }
}

async fn act(app: &Custode, cmd: UsersCommand) -> anyhow::Result<Outcome> {
    let by = operator();
    match cmd {
        UsersCommand::Invite {
            email,
            role,
            tenant,
            public_url,
        } => {
            let role = role_of(&role)?;
            let tenant = tenant_of(tenant.as_deref())?;
            let inv = app
                .accounts
                .invite_person(&by, &email, role, tenant.as_ref())
                .await?;
            print_invitation(&inv, public_url.as_deref())?;
        }
        UsersCommand::Reinvite { id, public_url } => {
            let inv = app.accounts.reinvite_person(&by, &id).await?;
            print_invitation(&inv, public_url.as_deref())?;
        }
        UsersCommand::List { json } => {
            let people = app.accounts.list_people(&by).await?;
            if json {
                let rows: Vec<serde_json::Value> = people
                    .iter()
                    .map(|p| {
                        serde_json::json!({
                            "id": p.id,
                            "email": p.email,
                            "role": p.role,
                            "scope": p.scope_path,
                            "state": p.state.name(),
                            "second_factor": p.second_factor,
                            "created_at": p.created_at.to_string(),
                            "invitation_expires_at": p.invitation_expires_at.map(|t| t.to_string()),
                        })
                    })
                    .collect();
                outln!("{}", serde_json::to_string_pretty(&rows)?)?;
            } else {
                outln!(
                    "{:<26}  {:<14}  {:<9}  {:<6}  {:<24}  EMAIL",
                    "ID",
                    "ROLE",
                    "STATE",
                    "2FA",
                    "SCOPE"
                )?;
                for p in &people {
                    outln!(
                        "{:<26}  {:<14}  {:<9}  {:<6}  {:<24}  {}",
                        p.id,
                        p.role,
                        p.state.name(),
                        if p.second_factor { "yes" } else { "no" },
                        p.scope_path,
                        p.email
                    )?;
                }
            }
        }
        UsersCommand::Disable { id } => {
            app.accounts.disable_person(&by, &id).await?;
            outln!("Disabled {id}: their sessions and the tokens they issued no longer work.")?;
        }
        UsersCommand::Enable { id } => {
            app.accounts.enable_person(&by, &id).await?;
            outln!("Enabled {id}: they log in again.")?;
        }
        UsersCommand::Role { id, role, tenant } => {
            let role = role.as_deref().map(role_of).transpose()?;
            let tenant = tenant_of(tenant.as_deref())?;
            app.accounts
                .change_person(&by, &id, role, tenant.as_ref())
                .await?;
            outln!("Changed {id}: their sessions ended; they log in again with the new grant.")?;
        }
        UsersCommand::ResetSecondFactor { id } => {
            app.accounts.reset_second_factor(&by, &id).await?;
            outln!(
                "Removed the second factor of {id}: they enrol a new one with their password before logging in."
            )?;
        }
    }
    Ok(Outcome::Ok)
}
