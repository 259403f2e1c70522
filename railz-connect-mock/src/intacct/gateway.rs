//! The gateway's single endpoint: record, fault, then read the XML request
//! and write the XML answer (formats and sources in the module docs).

use std::fmt::Write as _;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Method, StatusCode};

use super::xml::{Element, esc, parse};
use super::{GATEWAY_PATH, GatewayState, Session, Shared, UserRole, lock};
use crate::{RecordedRequest, serve};

const BODY_LIMIT: usize = 1 << 20;

pub(super) async fn handle(State(shared): State<Shared>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    if parts.uri.path() != GATEWAY_PATH {
        return plain(StatusCode::NOT_FOUND, "Not Found");
    }
    let body = match to_bytes(body, BODY_LIMIT).await {
        Ok(bytes) => bytes.to_vec(),
        Err(_) => return plain(StatusCode::BAD_REQUEST, "Bad Request"),
    };
    // The body is read as XML whatever its content type: no form.
    let recorded = RecordedRequest { form: Vec::new(), ..serve::record(&parts, body) };
    tracing::debug!(method = %recorded.method, "intacct gateway request");
    let fault = lock(&shared).script.arrive(&recorded);
    if let Some(resp) = serve::plain_fault(fault).await {
        return resp;
    }
    if parts.method != Method::POST {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
    }
    let answer = answer(&mut lock(&shared), &recorded.body);
    let mut resp = Response::new(Body::from(answer));
    // As the SDK's own fixtures write it (SessionProviderTest).
    resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/xml; encoding=\"UTF-8\""));
    resp
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut resp = Response::new(Body::from(text));
    *resp.status_mut() = status;
    resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    resp
}

/// One `<error>` of an `<errormessage>`.
struct GwError {
    errorno: &'static str,
    description: String,
    description2: String,
    correction: String,
}

impl GwError {
    fn new(errorno: &'static str, description2: impl Into<String>) -> GwError {
        GwError { errorno, description: String::new(), description2: description2.into(), correction: String::new() }
    }

    fn schema(detail: &str) -> GwError {
        GwError::new("XL03000003", format!("XML Parse schema error: {detail}"))
    }

    fn xml(&self) -> String {
        format!(
            "<errormessage><error><errorno>{}</errorno><description>{}</description><description2>{}</description2><correction>{}</correction></error></errormessage>",
            esc(self.errorno),
            esc(&self.description),
            esc(&self.description2),
            esc(&self.correction)
        )
    }
}

/// The `<control>` echo of the request's control block.
#[derive(Default)]
struct ControlEcho {
    senderid: String,
    controlid: String,
    uniqueid: String,
    dtdversion: String,
}

impl ControlEcho {
    fn xml(&self, status: &str) -> String {
        format!(
            "<control><status>{status}</status><senderid>{}</senderid><controlid>{}</controlid><uniqueid>{}</uniqueid><dtdversion>{}</dtdversion></control>",
            esc(&self.senderid),
            esc(&self.controlid),
            esc(&self.uniqueid),
            esc(&self.dtdversion)
        )
    }
}

fn document(inner: &str) -> String {
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<response>{inner}</response>")
}

fn control_failure(echo: &ControlEcho, error: &GwError) -> String {
    document(&format!("{}{}", echo.xml("failure"), error.xml()))
}

/// `YYYY-MM-DDTHH:MM:SS+00:00` for Unix seconds.
fn iso8601(unix: i64) -> String {
    format!("{}+00:00", serve::civil_datetime(unix))
}

fn new_session_id() -> String {
    // Intacct session ids end in "..", as in the SDK's fixtures.
    format!("{}..", URL_SAFE_NO_PAD.encode(rand::random::<[u8; 24]>()))
}

/// Who the operation runs as.
struct Auth {
    company_id: String,
    user_id: String,
    location_id: String,
    role: UserRole,
    /// The session used to authenticate, if any.
    session_id: Option<String>,
    /// `sessiontimeout` to announce.
    expires_at: i64,
}

fn answer(state: &mut GatewayState, body: &[u8]) -> String {
    let mut echo = ControlEcho::default();
    let text = match std::str::from_utf8(body) {
        Ok(text) => text,
        Err(_) => return control_failure(&echo, &GwError::schema("the request is not UTF-8")),
    };
    let root = match parse(text) {
        Ok(root) => root,
        Err(detail) => return control_failure(&echo, &GwError::schema(&detail)),
    };
    if root.name != "request" {
        return control_failure(&echo, &GwError::schema("the root element must be <request>"));
    }
    let Some(control) = root.child("control") else {
        return control_failure(&echo, &GwError::schema("<control> is missing"));
    };
    echo = ControlEcho {
        senderid: control.child_text("senderid").unwrap_or_default().to_owned(),
        controlid: control.child_text("controlid").unwrap_or_default().to_owned(),
        uniqueid: control.child_text("uniqueid").unwrap_or_default().to_owned(),
        dtdversion: control.child_text("dtdversion").unwrap_or_default().to_owned(),
    };
    if echo.dtdversion != "3.0" {
        return control_failure(&echo, &GwError::schema("dtdversion must be 3.0"));
    }
    let password = control.child_text("password").unwrap_or_default();
    if echo.senderid != state.sender_id || password != state.sender_password {
        // SDK ResponseExceptionTest: "test is not a valid transport policy."
        // (a third-party page shows "Incorrect Intacct XML Partner ID or
        // password." for a wrong password; both are this control-level
        // XL03000006).
        let error = GwError::new("XL03000006", format!("{} is not a valid transport policy.", echo.senderid));
        return control_failure(&echo, &error);
    }
    let Some(operation) = root.child("operation") else {
        return control_failure(&echo, &GwError::schema("<operation> is missing"));
    };
    let Some(authentication) = operation.child("authentication") else {
        return control_failure(&echo, &GwError::schema("<operation> needs <authentication>"));
    };
    let Some(content) = operation.child("content") else {
        return control_failure(&echo, &GwError::schema("<operation> needs <content>"));
    };
    let auth = match authenticate(state, authentication) {
        Ok(auth) => auth,
        Err(Failure::Schema(detail)) => return control_failure(&echo, &GwError::schema(&detail)),
        Err(Failure::Auth { userid, companyid, error }) => {
            let auth_block = format!(
                "<authentication><status>failure</status><userid>{}</userid><companyid>{}</companyid></authentication>",
                esc(&userid),
                esc(&companyid)
            );
            return document(&format!("{}<operation>{auth_block}{}</operation>", echo.xml("success"), error.xml()));
        }
    };
    let mut results = String::new();
    let mut expires_at = auth.expires_at;
    for function in content.children.iter().filter(|f| f.name == "function") {
        let (xml, session_expiry) = run_function(state, &auth, function);
        results.push_str(&xml);
        if let Some(at) = session_expiry {
            expires_at = at;
        }
    }
    let auth_block = format!(
        "<authentication><status>success</status><userid>{}</userid><companyid>{}</companyid><locationid>{}</locationid><sessiontimestamp>{}</sessiontimestamp><sessiontimeout>{}</sessiontimeout></authentication>",
        esc(&auth.user_id),
        esc(&auth.company_id),
        esc(&auth.location_id),
        iso8601(state.now),
        iso8601(expires_at)
    );
    document(&format!("{}<operation>{auth_block}{results}</operation>", echo.xml("success")))
}

enum Failure {
    Schema(String),
    Auth { userid: String, companyid: String, error: Box<GwError> },
}

fn sender_not_authorized(sender_id: &str, company_id: &str) -> GwError {
    // developer.intacct.com FAQ, "invalid Web Services authorization".
    GwError {
        errorno: "XL03000006",
        description: "Invalid Web Services Authorization".to_owned(),
        description2: format!(
            "The sender ID '{sender_id}' is not authorized to make Web Services requests to company ID '{company_id}'."
        ),
        correction: "Contact the company administrator to grant Web Services authorization to this sender ID."
            .to_owned(),
    }
}

fn authenticate(state: &mut GatewayState, authentication: &Element) -> Result<Auth, Failure> {
    let expires_new = state.now.saturating_add(i64::try_from(state.session_timeout.as_secs()).unwrap_or(i64::MAX));
    if let Some(login) = authentication.child("login") {
        let userid = login.child_text("userid").unwrap_or_default().to_owned();
        let companyid = login.child_text("companyid").unwrap_or_default().to_owned();
        let password = login.child_text("password").unwrap_or_default();
        let Some(record) = state
            .users
            .iter()
            .find(|r| r.user.company_id == companyid && r.user.user_id == userid && r.user.password == password)
        else {
            let error = Box::new(GwError::new("XL03000006", "Sign-in information is incorrect"));
            return Err(Failure::Auth { userid, companyid, error });
        };
        let role = record.role;
        if state.unauthorized_companies.contains(&companyid) {
            let error = Box::new(sender_not_authorized(&state.sender_id, &companyid));
            return Err(Failure::Auth { userid, companyid, error });
        }
        return Ok(Auth {
            location_id: login.child_text("locationid").unwrap_or_default().to_owned(),
            company_id: companyid,
            user_id: userid,
            role,
            session_id: None,
            expires_at: expires_new,
        });
    }
    let Some(session_id) = authentication.child_text("sessionid") else {
        return Err(Failure::Schema("<authentication> needs <login> or <sessionid>".to_owned()));
    };
    let now = state.now;
    // Expired sessions are forgotten: from then on they are unknown ones.
    state.sessions.retain(|_, s| s.expires_at > now);
    let invalid = || Failure::Auth {
        userid: String::new(),
        companyid: String::new(),
        error: Box::new(GwError::new("XL03000006", "Invalid session")),
    };
    let session = state.sessions.get(session_id).ok_or_else(invalid)?;
    let role = state
        .users
        .iter()
        .find(|r| r.user.company_id == session.company_id && r.user.user_id == session.user_id)
        .map(|r| r.role)
        .ok_or_else(invalid)?;
    if state.unauthorized_companies.contains(&session.company_id) {
        return Err(Failure::Auth {
            userid: session.user_id.clone(),
            companyid: session.company_id.clone(),
            error: Box::new(sender_not_authorized(&state.sender_id, &session.company_id)),
        });
    }
    Ok(Auth {
        company_id: session.company_id.clone(),
        user_id: session.user_id.clone(),
        location_id: session.location_id.clone(),
        role,
        session_id: Some(session_id.to_owned()),
        expires_at: session.expires_at,
    })
}

fn result(status: &str, function: &str, controlid: &str, inner: &str) -> String {
    format!(
        "<result><status>{status}</status><function>{}</function><controlid>{}</controlid>{inner}</result>",
        esc(function),
        esc(controlid)
    )
}

/// One `<function>`: its `<result>`, and the expiry of the session it
/// opened, if any.
fn run_function(state: &mut GatewayState, auth: &Auth, function: &Element) -> (String, Option<i64>) {
    let controlid = function.attr("controlid").unwrap_or_default();
    let Some(call) = function.children.first() else {
        let error = GwError::schema("<function> is empty");
        return (result("failure", "", controlid, &error.xml()), None);
    };
    let name = call.name.as_str();
    if auth.role == UserRole::Restricted {
        // UNCONFIRMED: assumed wording for a user without the permissions.
        let error = GwError {
            errorno: "XL03000006",
            description: "Permission denied".to_owned(),
            description2: format!("User '{}' does not have permission to perform {name}.", auth.user_id),
            correction: "Ask the company administrator to grant the required permissions to this user.".to_owned(),
        };
        return (result("failure", name, controlid, &error.xml()), None);
    }
    match name {
        "getAPISession" => {
            let location_id = call.child_text("locationid").map_or_else(|| auth.location_id.clone(), str::to_owned);
            let reuse = auth
                .session_id
                .as_ref()
                .filter(|id| state.sessions.get(id.as_str()).is_some_and(|s| s.location_id == location_id));
            let (session_id, expires_at) = match reuse {
                Some(id) => (id.clone(), auth.expires_at),
                None => {
                    let id = new_session_id();
                    let expires_at =
                        state.now.saturating_add(i64::try_from(state.session_timeout.as_secs()).unwrap_or(i64::MAX));
                    state.sessions.insert(
                        id.clone(),
                        Session {
                            company_id: auth.company_id.clone(),
                            user_id: auth.user_id.clone(),
                            location_id: location_id.clone(),
                            expires_at,
                        },
                    );
                    (id, expires_at)
                }
            };
            let data = format!(
                "<data><api><sessionid>{}</sessionid><endpoint>{}</endpoint><locationid>{}</locationid></api></data>",
                esc(&session_id),
                esc(state.gateway_url.as_str()),
                esc(&location_id)
            );
            (result("success", name, controlid, &data), Some(expires_at))
        }
        "readByQuery" => {
            let object = call.child_text("object").unwrap_or_default().trim();
            if object != "COMPANY" {
                let error = GwError::new("Query Failed", format!("Object definition {object} not found"));
                return (result("failure", name, controlid, &error.xml()), None);
            }
            let company_name =
                state.company_names.get(&auth.company_id).cloned().unwrap_or_else(|| auth.company_id.clone());
            let mut data = String::new();
            let _ = write!(
                data,
                "<data listtype=\"company\" count=\"1\" totalcount=\"1\" numremaining=\"0\" resultId=\"\"><company><RECORDNO>1</RECORDNO><COMPANYID>{}</COMPANYID><NAME>{}</NAME></company></data>",
                esc(&auth.company_id),
                esc(&company_name)
            );
            (result("success", name, controlid, &data), None)
        }
        other => {
            let error = GwError::new("EMULATION", format!("Function {other} is not emulated."));
            (result("failure", other, controlid, &error.xml()), None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::iso8601;

    #[test]
    fn iso8601_matches_known_instants() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00+00:00");
        assert_eq!(iso8601(1_800_000_000), "2027-01-15T08:00:00+00:00");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00+00:00");
    }
}
