//! Discovery: an [`OAuth2Definition`] from an authorization server's published metadata
//! (RFC 8414 `/.well-known/oauth-authorization-server`, or OpenID Connect discovery's
//! `/.well-known/openid-configuration`).

use serde::Deserialize;
use url::Url;

use super::{ClientAuth, IssuerParam, OAuth2Definition, Pkce, ProviderError, RevocationStyle};
use crate::http::HttpClient;
use crate::ids::ServiceName;
use crate::text::{MAX_LOGGED, bounded};

/// What the SDK reads of an authorization server's metadata (RFC 8414 section 2). Unknown
/// fields are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ServerMetadata {
    /// The issuer identifier; must equal the issuer it was fetched for, exactly.
    pub issuer: String,
    /// The authorization endpoint.
    pub authorization_endpoint: Url,
    /// The token endpoint.
    pub token_endpoint: Url,
    /// The revocation endpoint (RFC 7009), if any.
    #[serde(default)]
    pub revocation_endpoint: Option<Url>,
    /// The PKCE methods supported; absent means not said.
    #[serde(default)]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    /// The client authentication methods of the token endpoint; absent means
    /// `client_secret_basic` (RFC 8414).
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// Whether callbacks carry `iss` (RFC 9207).
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    /// The scopes the server supports, when it says.
    #[serde(default)]
    pub scopes_supported: Option<Vec<String>>,
}

impl ServerMetadata {
    /// Fetches the metadata of `issuer`: first RFC 8414's well-known URL (inserted between the
    /// host and the issuer's path), then, if that is not found, OpenID Connect discovery's.
    /// The document's `issuer` must equal `issuer` exactly (RFC 8414 section 3.3), or the
    /// answer is [`ProviderError::IssuerMismatch`] saying what was expected and what came.
    pub async fn discover(http: &HttpClient, issuer: &str) -> Result<Self, ProviderError> {
        let base = Url::parse(issuer).map_err(|e| ProviderError::InvalidRequest(format!("issuer: {e}")))?;
        if !secure(&base) || base.query().is_some() || base.fragment().is_some() {
            return Err(ProviderError::InvalidRequest(
                "an issuer is an https URL (http only on loopback) without query or fragment".into(),
            ));
        }
        let path = base.path().trim_end_matches('/');
        let mut rfc8414 = base.clone();
        rfc8414.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
        let mut oidc = base.clone();
        oidc.set_path(&format!("{path}/.well-known/openid-configuration"));
        let metadata = match fetch(http, &rfc8414).await {
            Err(ProviderError::Status { status: 404, .. }) => fetch(http, &oidc).await?,
            other => other?,
        };
        if metadata.issuer != issuer {
            return Err(ProviderError::IssuerMismatch {
                expected: issuer.to_owned(),
                got: bounded(&metadata.issuer, MAX_LOGGED),
            });
        }
        for url in [
            Some(&metadata.authorization_endpoint),
            Some(&metadata.token_endpoint),
            metadata.revocation_endpoint.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            if !secure(url) {
                return Err(ProviderError::InvalidResponse(format!(
                    "metadata endpoint on `{}` is not https",
                    bounded(url.host_str().unwrap_or_default(), MAX_LOGGED)
                )));
            }
        }
        tracing::debug!(issuer, "authorization server metadata discovered");
        Ok(metadata)
    }
}

fn secure(url: &Url) -> bool {
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    url.scheme() == "https" || (url.scheme() == "http" && loopback)
}

async fn fetch(http: &HttpClient, url: &Url) -> Result<ServerMetadata, ProviderError> {
    let request = http::Request::get(url.as_str())
        .header(http::header::ACCEPT, "application/json")
        .body(Vec::new())
        .map_err(|e| ProviderError::InvalidRequest(e.to_string()))?;
    let response = http.send_checked(request).await?;
    if !response.status().is_success() {
        return Err(crate::http::status_error(&response, None));
    }
    crate::http::parse_json(response.body())
}

impl OAuth2Definition {
    /// A definition from discovered metadata: its endpoints, revocation (RFC 7009), issuer
    /// (required in callbacks when the server says it sends `iss`), PKCE (S256 sent unless the
    /// server lists methods without it), and client authentication (HTTP Basic unless the
    /// server lists only `client_secret_post`). Scopes, inputs and the rest keep the defaults
    /// of [`OAuth2Definition::new`]: set them with the `with_` methods.
    pub fn from_metadata(service_name: ServiceName, display_name: &str, metadata: &ServerMetadata) -> Self {
        let mut definition = Self::new(
            service_name,
            display_name,
            metadata.authorization_endpoint.clone(),
            metadata.token_endpoint.clone(),
        )
        .with_issuer(
            metadata.issuer.clone(),
            if metadata.authorization_response_iss_parameter_supported {
                IssuerParam::Required
            } else {
                IssuerParam::Optional
            },
        );
        if let Some(revoke) = &metadata.revocation_endpoint {
            definition = definition.with_revocation(revoke.clone(), RevocationStyle::Rfc7009);
        }
        if let Some(methods) = &metadata.code_challenge_methods_supported
            && !methods.iter().any(|m| m == "S256")
        {
            tracing::warn!("the server does not list PKCE S256: PKCE is not sent");
            definition = definition.with_pkce(Pkce::Unsupported);
        }
        if let Some(methods) = &metadata.token_endpoint_auth_methods_supported {
            let has = |m: &str| methods.iter().any(|x| x == m);
            if !has("client_secret_basic") && has("client_secret_post") {
                definition = definition.with_client_auth(ClientAuth::RequestBody);
            }
        }
        definition
    }

    /// [`ServerMetadata::discover`] then [`OAuth2Definition::from_metadata`].
    pub async fn discover(
        http: &HttpClient,
        issuer: &str,
        service_name: ServiceName,
        display_name: &str,
    ) -> Result<Self, ProviderError> {
        Ok(Self::from_metadata(service_name, display_name, &ServerMetadata::discover(http, issuer).await?))
    }
}
