//! The provider catalog as a table: every service, whether this app has it enabled (and why
//! not), what it can do, and what a business enters.
//!
//! ```text
//! cargo run --example providers
//! ```
//!
//! A service is enabled by its variables (`RAILZ_<SERVICE>_CLIENT_ID` and `_CLIENT_SECRET`;
//! see `railz_connect::providers::ProvidersConfig::from_env`). `RAILZ_CATALOG_DIR` names a
//! directory of the app's own definition files, added to (or replacing) the built-in ones.

use railz_connect::provider::{AuthKind, ClientRegistration, ProviderExt, Rotation};
use railz_connect::providers::{
    AuthMode, Catalog, ProvidersConfig, ServiceConfig, ServiceDefinition, Support, env_prefix, provider_for,
};
use railz_connect::secret::ClientSecret;

type AnyError = Box<dyn std::error::Error + Send + Sync>;

/// What the adapter can do, in a few words.
fn capabilities(definition: &ServiceDefinition, mode: AuthMode) -> String {
    // Capabilities do not depend on the client registration: any will do to read them.
    let placeholder = ServiceConfig::new(ClientRegistration::new("placeholder", ClientSecret::new("placeholder")))
        .with_auth_mode(mode);
    let Ok(provider) = provider_for(definition, &placeholder) else { return "-".into() };
    let caps = provider.capabilities();
    let mut out = vec![match provider.metadata().auth_kind {
        AuthKind::Redirect => "redirect",
        _ => "credentials",
    }];
    if caps.pkce {
        out.push("pkce");
    }
    if caps.refresh {
        out.push(match caps.rotation {
            Rotation::Always => "refresh(rotating)",
            Rotation::Never => "refresh(fixed)",
            _ => "refresh",
        });
    }
    if caps.tenant_selection {
        out.push("tenants");
    }
    if caps.revocation {
        out.push("revoke");
    }
    if caps.verify {
        out.push("verify");
    }
    out.join(" ")
}

fn main() -> Result<(), AnyError> {
    let mut catalog = Catalog::builtin()?;
    if let Some(dir) = std::env::var_os("RAILZ_CATALOG_DIR") {
        catalog.load_dir(dir)?;
    }
    let config = ProvidersConfig::from_env_with(&catalog)?;
    let mut rows = vec![[
        "service".to_owned(),
        "display name".to_owned(),
        "enabled".to_owned(),
        "mode".to_owned(),
        "capabilities".to_owned(),
        "inputs".to_owned(),
    ]];
    for definition in catalog.iter() {
        let name = definition.service_name();
        let enabled = match (definition.support(), config.get(name)) {
            (Support::Unsupported { reason }, _) => format!("no: unsupported ({reason})"),
            (_, Some(_)) => "yes".to_owned(),
            (_, None) => format!("no: set {}_CLIENT_ID", env_prefix(name.as_str())),
        };
        let modes = definition.auth_modes();
        if modes.is_empty() {
            rows.push([
                name.to_string(),
                definition.display_name().into(),
                enabled.clone(),
                "-".into(),
                "-".into(),
                "-".into(),
            ]);
        }
        for (i, mode) in modes.iter().enumerate() {
            let inputs = definition.inputs(*mode).iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(", ");
            let (service, display, shown) = if i == 0 {
                (name.to_string(), definition.display_name().to_owned(), enabled.clone())
            } else {
                (String::new(), String::new(), String::new())
            };
            rows.push([
                service,
                display,
                shown,
                mode.to_string(),
                capabilities(definition, *mode),
                if inputs.is_empty() { "-".into() } else { inputs },
            ]);
        }
    }
    let widths: Vec<usize> = (0..6).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    for row in &rows {
        let line: Vec<String> = row.iter().zip(&widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        println!("{}", line.join("  ").trim_end());
    }
    Ok(())
}
