//! Sage Intacct — `sageIntacct`, connected with a Web Services user over the XML gateway, the
//! way Railz connects it: the customer authorizes the app's sender id in Intacct, creates a Web
//! Services user, and enters the company id, user id and password (and, optionally, an entity);
//! the app's sender id and sender password come from its configuration (the service's client
//! id and secret). See PROVIDERS.md, "How Railz itself connects two services", after
//! intacct/intacct-sdk-php (`ApiSessionCreate.php`, `LoginAuthentication.php`).
//!
//! - **Connect**: `getAPISession` with the login; success gives a session id, the endpoint to
//!   use and the session's timeout. Refused sender credentials are the app's misconfiguration
//!   (`unauthorizedClientIdKey`); refused login credentials are `unauthorizedCredentials`.
//! - **Refresh**: there is no refresh token: a session that timed out is re-created from the
//!   sealed login, which is what [`Provider::refresh`] does here.
//! - **Requests**: [`Provider::authorize_request`] takes a request whose body is the
//!   `<function>` elements of a `<content>` block, wraps them in the gateway's envelope (control
//!   with the sender credentials, authentication with the session) and sends it to the
//!   session's endpoint.
//! - **Verify**: `readByQuery` of the `COMPANY` object with the session: its `NAME`.

use std::time::Duration;

use async_trait::async_trait;
use quick_xml::escape::escape;
use quick_xml::events::Event as XmlEvent;
use railz_connect_core::TenantId;
use railz_connect_core::provider::{
    AccountInfo, AuthKind, CallContext, Capabilities, ClientRegistration, Credentials, Inputs, OAuthErrorCode,
    Provider, ProviderError, ProviderMetadata, Rotation, SecretCredentials,
};
use railz_connect_core::secret::{AccessToken, ClientSecret, SecretValue};
use railz_connect_core::time::OffsetDateTime;
use rand::Rng as _;
use url::Url;
use zeroize::Zeroizing;

use crate::adapter::Placement;
use crate::catalog::{AuthMode, ServiceDefinition, template};

const COMPANY: &str = "companyId";
const USER: &str = "userId";
const PASSWORD: &str = "password";
const ENTITY: &str = "entityId";
const ENDPOINT: &str = "endpoint";

/// The Sage Intacct adapter.
pub struct SageIntacct {
    metadata: ProviderMetadata,
    gateway: Url,
    sender_id: String,
    sender_password: ClientSecret,
    session_timeout: Duration,
}

impl std::fmt::Debug for SageIntacct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SageIntacct")
            .field("gateway", &self.gateway.as_str())
            .field("sender_id", &self.sender_id)
            .field("sender_password", &self.sender_password)
            .finish_non_exhaustive()
    }
}

/// A parsed XML element: its name, text and children.
#[derive(Debug, Default)]
struct Element {
    name: String,
    text: String,
    children: Vec<Element>,
}

impl Element {
    fn parse(xml: &[u8]) -> Result<Self, ProviderError> {
        let bad = |e: String| ProviderError::InvalidResponse(format!("the gateway's XML: {e}"));
        let mut reader = quick_xml::Reader::from_reader(xml);
        let mut stack = vec![Element::default()];
        let mut buf = Vec::new();
        loop {
            match reader.read_event_into(&mut buf).map_err(|e| bad(e.to_string()))? {
                XmlEvent::Start(start) => stack.push(Element {
                    name: String::from_utf8_lossy(start.local_name().as_ref()).into_owned(),
                    ..Element::default()
                }),
                XmlEvent::Empty(empty) => {
                    let name = String::from_utf8_lossy(empty.local_name().as_ref()).into_owned();
                    if let Some(parent) = stack.last_mut() {
                        parent.children.push(Element { name, ..Element::default() });
                    }
                }
                XmlEvent::Text(text) => {
                    let text = text.decode().map_err(|e| bad(e.to_string()))?;
                    let text = quick_xml::escape::unescape(&text).map_err(|e| bad(e.to_string()))?;
                    if let Some(current) = stack.last_mut() {
                        current.text.push_str(&text);
                    }
                }
                XmlEvent::CData(data) => {
                    if let Some(current) = stack.last_mut() {
                        current.text.push_str(&String::from_utf8_lossy(&data));
                    }
                }
                XmlEvent::End(_) => {
                    let done = stack.pop().ok_or_else(|| bad("unbalanced".into()))?;
                    stack.last_mut().ok_or_else(|| bad("unbalanced".into()))?.children.push(done);
                }
                XmlEvent::Eof => break,
                _ => {}
            }
            buf.clear();
        }
        let mut root = stack.pop().filter(|_| stack.is_empty()).ok_or_else(|| bad("unclosed element".into()))?;
        root.children.pop().ok_or_else(|| bad("empty document".into()))
    }

    fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    fn path(&self, path: &[&str]) -> Option<&Element> {
        path.iter().try_fold(self, |e, name| e.child(name))
    }

    fn text_at(&self, path: &[&str]) -> Option<&str> {
        self.path(path).map(|e| e.text.trim())
    }

    /// The first `errormessage/error` under this element, as "errorno: description
    /// description2".
    fn error(&self) -> Option<String> {
        if self.name == "errormessage" {
            let error = self.child("error")?;
            let text = |n: &str| error.child(n).map(|e| e.text.trim()).unwrap_or_default().to_owned();
            return Some(format!("{}: {} {}", text("errorno"), text("description"), text("description2")));
        }
        self.children.iter().find_map(Element::error)
    }
}

/// How the gateway authenticates one request.
enum Auth<'a> {
    Login { company: &'a str, user: &'a str, password: &'a str, entity: Option<&'a str> },
    Session(&'a str),
}

impl SageIntacct {
    pub(crate) fn new(
        definition: &ServiceDefinition,
        client: &ClientRegistration,
        placement: &Placement,
    ) -> Result<Self, String> {
        let credentials = definition.credentials.as_ref().ok_or("the definition has no [credentials] table")?;
        let gateway = template::expand(&credentials.endpoint, &|_| None)?;
        let sender_password = client.client_secret.clone().ok_or("the sender password (client secret) is required")?;
        let mut metadata =
            ProviderMetadata::new(definition.service.clone(), definition.display_name.clone(), AuthKind::Credentials)
                .with_sandbox(placement.sandbox)
                .with_countries(&definition.countries)
                .with_capabilities(Capabilities::new().with_refresh(Rotation::Never).with_verify(true));
        for input in definition.inputs(AuthMode::Credentials) {
            metadata = metadata.with_input(input.clone());
        }
        Ok(Self {
            metadata,
            gateway: placement.place(gateway),
            sender_id: client.client_id.clone(),
            sender_password,
            session_timeout: Duration::from_secs(credentials.session_timeout_secs.unwrap_or(3600)),
        })
    }

    /// One gateway request: the envelope around `content`.
    fn envelope(&self, auth: &Auth<'_>, content: &str) -> Zeroizing<String> {
        let control_id: String =
            rand::thread_rng().sample_iter(&rand::distributions::Alphanumeric).take(16).map(char::from).collect();
        let authentication = match auth {
            Auth::Login { company, user, password, entity } => {
                let entity = entity.map(|e| format!("<locationid>{}</locationid>", escape(e))).unwrap_or_default();
                format!(
                    "<login><userid>{}</userid><companyid>{}</companyid><password>{}</password>{entity}</login>",
                    escape(*user),
                    escape(*company),
                    escape(*password)
                )
            }
            Auth::Session(session) => format!("<sessionid>{}</sessionid>", escape(*session)),
        };
        Zeroizing::new(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<request><control><senderid>{}</senderid><password>{}</password>\
             <controlid>{control_id}</controlid><uniqueid>false</uniqueid><dtdversion>3.0</dtdversion>\
             <includewhitespace>false</includewhitespace></control><operation><authentication>{authentication}\
             </authentication><content>{content}</content></operation></request>",
            escape(self.sender_id.as_str()),
            escape(self.sender_password.secret()),
        ))
    }

    /// Sends a request and checks the control, authentication and result statuses.
    async fn send(&self, cx: &CallContext<'_>, url: &Url, body: &str) -> Result<Element, ProviderError> {
        let request = http::Request::post(url.as_str())
            .header(http::header::CONTENT_TYPE, "application/xml")
            .body(body.as_bytes().to_vec())
            .map_err(|e| ProviderError::InvalidRequest(e.to_string()))?;
        let response = cx.http.send_checked(request).await?;
        if !response.status().is_success() {
            return Err(railz_connect_core::http::status_error(&response, None));
        }
        let root = Element::parse(response.body())?;
        let failed = |path: &[&str]| root.text_at(path).is_some_and(|s| s.trim() != "success");
        let described = || root.error().unwrap_or_else(|| "no description".into());
        if failed(&["control", "status"]) {
            return Err(ProviderError::oauth(
                OAuthErrorCode::InvalidClient,
                Some(&format!("the gateway refused the app's sender credentials ({})", described())),
            ));
        }
        let authentication = failed(&["operation", "authentication", "status"]);
        if authentication || failed(&["operation", "result", "status"]) {
            let text = described();
            // A user without the permission (a restricted role) is refused by name.
            if text.to_ascii_lowercase().contains("permission") {
                return Err(ProviderError::InsufficientRole(text));
            }
            return Err(if authentication {
                ProviderError::CredentialsRefused(text)
            } else {
                ProviderError::InvalidResponse(text)
            });
        }
        Ok(root)
    }

    /// `getAPISession`, logged in or with a session; answers the new credentials' session part.
    async fn session(
        &self,
        cx: &CallContext<'_>,
        auth: &Auth<'_>,
        url: &Url,
    ) -> Result<(String, Url, Option<OffsetDateTime>, Element), ProviderError> {
        let body = self.envelope(auth, "<function controlid=\"session\"><getAPISession/></function>");
        let root = self.send(cx, url, &body).await?;
        let api = ["operation", "result", "data", "api"];
        let session = root
            .text_at(&[&api[..], &["sessionid"]].concat())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ProviderError::InvalidResponse("no session id".into()))?
            .to_owned();
        let endpoint = root.text_at(&[&api[..], &["endpoint"]].concat()).unwrap_or_default();
        let endpoint = if endpoint.is_empty() {
            url.clone()
        } else {
            let endpoint = Url::parse(endpoint).map_err(|e| ProviderError::InvalidResponse(e.to_string()))?;
            // The session's endpoint must be on the gateway's own host.
            if endpoint.host_str() != self.gateway.host_str() || endpoint.scheme() != self.gateway.scheme() {
                return Err(ProviderError::EndpointNotAllowed(endpoint.host_str().unwrap_or_default().to_owned()));
            }
            endpoint
        };
        let timeout = root.text_at(&["operation", "authentication", "sessiontimeout"]).and_then(|t| {
            OffsetDateTime::parse(t.trim(), &time::format_description::well_known::Iso8601::DEFAULT).ok()
        });
        Ok((session, endpoint, timeout, root))
    }

    fn login_of<'a>(secret: &'a SecretCredentials) -> Result<Auth<'a>, ProviderError> {
        let param = |n: &str| {
            secret
                .params
                .get(n)
                .map(String::as_str)
                .ok_or_else(|| ProviderError::InvalidInput { name: n.into(), reason: "is missing".into() })
        };
        Ok(Auth::Login {
            company: param(COMPANY)?,
            user: param(USER)?,
            password: secret
                .field(PASSWORD)
                .map(SecretValue::secret)
                .ok_or_else(|| ProviderError::InvalidInput { name: PASSWORD.into(), reason: "is missing".into() })?,
            entity: secret.params.get(ENTITY).map(String::as_str),
        })
    }

    fn with_session(
        &self,
        mut secret: SecretCredentials,
        now: OffsetDateTime,
        (session, endpoint, timeout, _): (String, Url, Option<OffsetDateTime>, Element),
    ) -> SecretCredentials {
        let default = now + self.session_timeout;
        let expires = timeout.filter(|t| *t > now && *t <= default).unwrap_or(default);
        secret.obtained_at = now;
        secret.params.insert(ENDPOINT.into(), endpoint.to_string());
        secret.with_session(AccessToken::new(session), Some(expires))
    }
}

fn secret_of(credentials: &Credentials) -> Result<&SecretCredentials, ProviderError> {
    credentials.secret().ok_or(ProviderError::Unsupported("Sage Intacct with OAuth2 tokens"))
}

#[async_trait]
impl Provider for SageIntacct {
    fn metadata(&self) -> &ProviderMetadata {
        &self.metadata
    }

    async fn connect(&self, cx: &CallContext<'_>, inputs: &Inputs) -> Result<Credentials, ProviderError> {
        let required = |n: &str| {
            inputs.get(n).ok_or_else(|| ProviderError::InvalidInput { name: n.into(), reason: "is required".into() })
        };
        let mut secret = SecretCredentials::new(cx.now)
            .with_param(COMPANY, required(COMPANY)?)
            .with_param(USER, required(USER)?)
            .with_field(PASSWORD, SecretValue::new(required(PASSWORD)?));
        if let Some(entity) = inputs.get(ENTITY) {
            secret = secret.with_param(ENTITY, entity);
        }
        let opened = self.session(cx, &Self::login_of(&secret)?, &self.gateway).await?;
        tracing::info!(company = %required(COMPANY)?, "Sage Intacct session opened");
        Ok(Credentials::Secret(self.with_session(secret, cx.now, opened)))
    }

    async fn refresh(&self, cx: &CallContext<'_>, credentials: &Credentials) -> Result<Credentials, ProviderError> {
        let secret = secret_of(credentials)?;
        let opened = self.session(cx, &Self::login_of(secret)?, &self.gateway).await?;
        Ok(Credentials::Secret(self.with_session(secret.clone(), cx.now, opened)))
    }

    async fn verify(
        &self,
        cx: &CallContext<'_>,
        credentials: &Credentials,
        _tenant: Option<&TenantId>,
    ) -> Result<AccountInfo, ProviderError> {
        let secret = secret_of(credentials)?;
        let session = secret.session.as_ref().ok_or(ProviderError::Unsupported("verify without a session"))?;
        let endpoint = match secret.params.get(ENDPOINT) {
            Some(e) => Url::parse(e).map_err(|e| ProviderError::InvalidRequest(e.to_string()))?,
            None => self.gateway.clone(),
        };
        let query = "<function controlid=\"verify\"><readByQuery><object>COMPANY</object>\
                     <fields>RECORDNO,COMPANYID,NAME</fields><query></query><pagesize>1</pagesize></readByQuery></function>";
        let body = self.envelope(&Auth::Session(session.secret()), query);
        let root = self.send(cx, &endpoint, &body).await?;
        let company = ["operation", "result", "data", "company"];
        let name = root
            .text_at(&[&company[..], &["NAME"]].concat())
            .filter(|n| !n.is_empty())
            .ok_or_else(|| ProviderError::InvalidResponse("no company name".into()))?;
        let mut info = AccountInfo::new(name);
        if let Some(id) = root.text_at(&[&company[..], &["COMPANYID"]].concat()).filter(|i| !i.is_empty()) {
            info = info.with_id(id);
        }
        Ok(info)
    }

    fn authorize_request(
        &self,
        _cx: &CallContext<'_>,
        credentials: &Credentials,
        request: &mut http::Request<Vec<u8>>,
    ) -> Result<(), ProviderError> {
        let secret = secret_of(credentials)?;
        let session = secret.session.as_ref().ok_or(ProviderError::Unsupported("a request without a session"))?;
        let content = std::str::from_utf8(request.body())
            .map_err(|_| ProviderError::InvalidRequest("the content is not UTF-8".into()))?;
        let body = self.envelope(&Auth::Session(session.secret()), content);
        let endpoint = secret.params.get(ENDPOINT).map_or_else(|| self.gateway.to_string(), Clone::clone);
        *request.body_mut() = body.as_bytes().to_vec();
        *request.uri_mut() = endpoint.parse().map_err(|_| ProviderError::InvalidRequest("endpoint".into()))?;
        *request.method_mut() = http::Method::POST;
        request.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/xml"));
        Ok(())
    }
}
