//! The accounting API under `/api/`.

use std::time::Instant;

use axum::response::Response;
use http::StatusCode;
use serde_json::{Value, json};

use super::response::{invalid_token, json_response, not_found};
use super::{Grant, ServerState};
use crate::RecordedRequest;
use crate::model::Company;
use crate::serve::form_decode;

pub(super) fn bearer_grant<'s>(state: &'s ServerState, req: &RecordedRequest) -> Result<&'s Grant, Box<Response>> {
    let token = req
        .headers
        .iter()
        .find(|(name, _)| name == "authorization")
        .and_then(|(_, v)| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or_else(|| Box::new(invalid_token()))?;
    let record = state.access_tokens.get(token).ok_or_else(|| Box::new(invalid_token()))?;
    let grant = &state.grants[record.grant];
    if grant.revoked || Instant::now() >= record.expires_at {
        return Err(Box::new(invalid_token()));
    }
    Ok(grant)
}

pub(super) fn api(state: &ServerState, req: &RecordedRequest) -> Response {
    let grant = match bearer_grant(state, req) {
        Ok(grant) => grant,
        Err(resp) => return *resp,
    };
    let path = req.path.trim_end_matches('/');
    let segments: Vec<&str> = path.split('/').skip(2).collect(); // skip "" and "api"
    let find = |id: &str| -> Option<&Company> {
        let id = percent_decode_path(id);
        state.companies.iter().find(|c| c.id == id)
    };
    match segments.as_slice() {
        ["companies"] => {
            let companies: Vec<Value> = state.companies.iter().map(|c| json!({ "id": c.id, "name": c.name })).collect();
            json_response(StatusCode::OK, &json!({ "companies": companies }))
        }
        ["companies", id] => match find(id) {
            Some(c) => json_response(
                StatusCode::OK,
                &json!({
                    "id": c.id,
                    "name": c.name,
                    "legalName": c.legal_name,
                    "country": c.country,
                    "currency": c.currency,
                }),
            ),
            None => not_found(),
        },
        ["companies", id, "accounts"] => match find(id) {
            Some(c) => {
                let accounts = if grant.data_empty { &[][..] } else { &c.accounts[..] };
                json_response(StatusCode::OK, &json!({ "accounts": accounts }))
            }
            None => not_found(),
        },
        ["companies", id, "invoices"] => match find(id) {
            Some(c) => {
                let invoices = if grant.data_empty { &[][..] } else { &c.invoices[..] };
                json_response(StatusCode::OK, &json!({ "invoices": invoices }))
            }
            None => not_found(),
        },
        _ => not_found(),
    }
}

/// Percent-decodes a path segment (`+` stays a plus); malformed input is
/// returned as is.
fn percent_decode_path(segment: &str) -> String {
    if !segment.contains('%') {
        return segment.to_owned();
    }
    form_decode(&segment.replace('+', "%2B")).unwrap_or_else(|| segment.to_owned())
}
