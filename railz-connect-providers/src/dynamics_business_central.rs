//! Microsoft Dynamics 365 Business Central — `dynamicsBusinessCentral`: what its catalog
//! definition cannot say. A business's data lives in companies inside environments, so the
//! tenants are listed in two steps: `GET {api}/environments/v1.1` (the environments of the
//! user's Entra tenant, [M5]), then `GET {api}/v2.0/{aadTenantId}/{environment}/api/v2.0/companies`
//! for each ([M3][M6]). A tenant id is `{aadTenantId}/{environment}/{companyId}`; the optional
//! `environment` input limits the listing to one environment.
//!
//! [M3]: https://github.com/MicrosoftDocs/dynamics365smb-devitpro-pb
//! [M5]: https://learn.microsoft.com/en-us/dynamics365/business-central/dev-itpro/administration/administration-center-api_environments
//! [M6]: https://learn.microsoft.com/en-us/dynamics365/business-central/dev-itpro/api-reference/v2.0/api/dynamics_company_get

use railz_connect_core::provider::{AccountInfo, CallContext, ProviderError, TokenSet};
use railz_connect_core::{Tenant, TenantId};
use serde_json::Value;
use url::Url;

use crate::adapter::{CatalogQuirks, text_at, text_of};

/// The input that limits tenants to one environment.
const ENVIRONMENT_INPUT: &str = "environment";

fn under(base: &Url, segments: &[&str]) -> Result<Url, ProviderError> {
    let mut url = base.clone();
    url.path_segments_mut()
        .map_err(|()| ProviderError::InvalidRequest("the API URL cannot be a base".into()))?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

fn list(answer: &Value) -> Result<&Vec<Value>, ProviderError> {
    answer
        .get("value")
        .and_then(Value::as_array)
        .ok_or_else(|| ProviderError::InvalidResponse("no `value` list in the answer".into()))
}

/// Every company of every environment (or of the chosen one).
pub(crate) async fn tenants(
    quirks: &CatalogQuirks,
    cx: &CallContext<'_>,
    tokens: &TokenSet,
) -> Result<Vec<Tenant>, ProviderError> {
    let base = quirks.api_base(&tokens.params)?;
    let environments = quirks.get(cx, &under(&base, &["environments", "v1.1"])?, tokens).await?;
    let wanted = tokens.params.get(ENVIRONMENT_INPUT);
    let mut tenants = Vec::new();
    for environment in list(&environments)? {
        let name = text_at(environment, "/name")?;
        if wanted.is_some_and(|w| *w != name) {
            continue;
        }
        let aad = text_at(environment, "/aadTenantId")?;
        let companies =
            quirks.get(cx, &under(&base, &["v2.0", &aad, &name, "api", "v2.0", "companies"])?, tokens).await?;
        for company in list(&companies)? {
            let id = text_at(company, "/id")?;
            let shown = company.get("displayName").and_then(text_of).filter(|s| !s.is_empty());
            let shown = match shown {
                Some(s) => s,
                None => text_at(company, "/name")?,
            };
            let id = TenantId::new(format!("{aad}/{name}/{id}"))
                .map_err(|e| ProviderError::InvalidResponse(e.to_string()))?;
            tenants.push(Tenant::new(id, shown));
        }
    }
    Ok(tenants)
}

/// `GET .../companies({id})`: the company's name.
pub(crate) async fn verify(
    quirks: &CatalogQuirks,
    cx: &CallContext<'_>,
    tokens: &TokenSet,
    tenant: Option<&TenantId>,
) -> Result<AccountInfo, ProviderError> {
    let tenant = tenant.ok_or(ProviderError::Unsupported("verify without a company"))?;
    let mut parts = tenant.as_str().splitn(3, '/');
    let (Some(aad), Some(environment), Some(company)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(ProviderError::InvalidRequest("not a Business Central company id".into()));
    };
    let base = quirks.api_base(&tokens.params)?;
    let url = under(&base, &["v2.0", aad, environment, "api", "v2.0", &format!("companies({company})")])?;
    let answer = quirks.get(cx, &url, tokens).await?;
    let name = answer.get("displayName").and_then(text_of).filter(|s| !s.is_empty());
    let name = match name {
        Some(n) => n,
        None => text_at(&answer, "/name")?,
    };
    Ok(AccountInfo::new(name).with_id(company))
}
