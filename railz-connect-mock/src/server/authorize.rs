//! `GET /oauth/authorize`.

use std::time::Instant;

use axum::response::Response;

use super::response::{html_error_page, redirect};
use super::{CodeRecord, ServerState, UseCase, first, random_token};
use crate::RecordedRequest;
use crate::serve::acceptable_redirect;

pub(super) fn authorize(state: &mut ServerState, req: &RecordedRequest) -> Response {
    let q = &req.query;
    if first(q, "client_id") != Some(state.client_id.as_str()) {
        return html_error_page("Unknown or missing client_id.");
    }
    let Some(raw_redirect) = first(q, "redirect_uri") else {
        return html_error_page("Missing redirect_uri.");
    };
    let Some(mut location) = acceptable_redirect(raw_redirect) else {
        return html_error_page("Invalid redirect_uri: it must be an absolute https URL, or http on a loopback host.");
    };

    let state_param = first(q, "state");
    let outcome: Result<String, (&str, Option<&str>)> = (|| {
        if state_param.is_none() {
            return Err(("invalid_request", Some("state is required")));
        }
        if first(q, "response_type") != Some("code") {
            return Err(("unsupported_response_type", None));
        }
        let challenge = first(q, "code_challenge").filter(|c| !c.is_empty());
        let (Some(challenge), Some("S256")) = (challenge, first(q, "code_challenge_method")) else {
            return Err(("invalid_request", Some("PKCE S256 is required")));
        };
        let use_case = match first(q, "use_case").unwrap_or("user_good") {
            "user_good" => UseCase::UserGood,
            "invalid_credentials" => UseCase::InvalidCredentials,
            "data_empty" => UseCase::DataEmpty,
            "failed_connection" => {
                return Err(("access_denied", Some("The user denied access")));
            }
            "insufficient_permission" => {
                return Err((
                    "access_denied",
                    Some("insufficient_permission: the user is not an administrator or owner"),
                ));
            }
            _ => return Err(("invalid_request", Some("unknown use_case"))),
        };
        let code = random_token();
        state.codes.insert(
            code.clone(),
            CodeRecord {
                client_id: state.client_id.clone(),
                redirect_uri: raw_redirect.to_owned(),
                code_challenge: challenge.to_owned(),
                scope: first(q, "scope").map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned),
                use_case,
                issued_at: Instant::now(),
            },
        );
        Ok(code)
    })();

    {
        let mut pairs = location.query_pairs_mut();
        match &outcome {
            Ok(code) => {
                pairs.append_pair("code", code);
            }
            Err((error, description)) => {
                pairs.append_pair("error", error);
                if let Some(description) = description {
                    pairs.append_pair("error_description", description);
                }
            }
        }
        if let Some(s) = state_param {
            pairs.append_pair("state", s);
        }
        pairs.append_pair("iss", &state.issuer);
    }
    redirect(location.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uri_rules() {
        assert!(acceptable_redirect("https://app.example.com/cb").is_some());
        assert!(acceptable_redirect("http://127.0.0.1:8080/cb").is_some());
        assert!(acceptable_redirect("http://localhost/cb?x=1").is_some());
        assert!(acceptable_redirect("http://[::1]:9/cb").is_some());
        assert!(acceptable_redirect("http://example.com/cb").is_none());
        assert!(acceptable_redirect("ftp://127.0.0.1/cb").is_none());
        assert!(acceptable_redirect("https://app.example.com/cb#frag").is_none());
        assert!(acceptable_redirect("not a url").is_none());
        assert!(acceptable_redirect("/relative").is_none());
    }
}
