//! The Sage Intacct XML gateway emulation over real HTTP: requests written
//! as the intacct-sdk-php writes them; no sleeps, no wall clock.

use std::time::Duration;

use railz_connect_mock::Fault;
use railz_connect_mock::intacct::{IntacctGateway, IntacctUser, UserRole};
use reqwest::StatusCode;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn client() -> reqwest::Client {
    // reqwest is built with `rustls-no-provider`: a Client needs a crypto
    // provider even though no TLS is used.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().build().expect("reqwest client")
}

fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

fn login(user: &IntacctUser) -> String {
    format!(
        "<login><userid>{}</userid><companyid>{}</companyid><password>{}</password></login>",
        esc(&user.user_id),
        esc(&user.company_id),
        esc(&user.password)
    )
}

fn session(id: &str) -> String {
    format!("<sessionid>{}</sessionid>", esc(id))
}

const GET_SESSION: &str = r#"<function controlid="f1"><getAPISession/></function>"#;
const READ_COMPANY: &str = r#"<function controlid="f2"><readByQuery><object>COMPANY</object><query></query><fields>*</fields><pagesize>100</pagesize><returnFormat>xml</returnFormat></readByQuery></function>"#;

/// A request as the SDK's ControlBlock + authentication + function writers
/// produce it.
fn request(sender_id: &str, sender_password: &str, authentication: &str, functions: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<request><control><senderid>{}</senderid><password>{}</password><controlid>ctl-1</controlid><uniqueid>false</uniqueid><dtdversion>3.0</dtdversion><includewhitespace>false</includewhitespace></control><operation><authentication>{authentication}</authentication><content>{functions}</content></operation></request>",
        esc(sender_id),
        esc(sender_password)
    )
}

fn app_request(gateway: &IntacctGateway, authentication: &str, functions: &str) -> String {
    request(gateway.sender_id(), gateway.sender_password(), authentication, functions)
}

async fn post(gateway: &IntacctGateway, xml: String) -> String {
    let resp =
        client().post(gateway.gateway_url()).header("content-type", "application/xml").body(xml).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/xml"));
    resp.text().await.unwrap()
}

/// The text of the first `<tag>` (tests keep to unambiguous tags).
fn first<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))?;
    Some(&xml[start..start + end])
}

async fn open_session(gateway: &IntacctGateway) -> String {
    let xml = post(gateway, app_request(gateway, &login(&gateway.user()), GET_SESSION)).await;
    first(&xml, "sessionid").unwrap_or_else(|| panic!("no session: {xml}")).to_owned()
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[tokio::test]
async fn get_api_session_opens_a_session() {
    let gateway = IntacctGateway::start().await.unwrap();
    // The default credentials need XML escaping.
    assert!(gateway.sender_password().contains(':') && gateway.sender_password().contains('&'));
    assert!(gateway.sender_password().contains('<'));
    assert!(gateway.user().password.contains('&') && gateway.user().password.contains('<'));

    let xml = post(&gateway, app_request(&gateway, &login(&gateway.user()), GET_SESSION)).await;
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"), "{xml}");
    let control = first(&xml, "control").unwrap();
    assert_eq!(first(control, "status"), Some("success"));
    assert_eq!(first(control, "senderid"), Some(gateway.sender_id()));
    assert_eq!(first(control, "controlid"), Some("ctl-1"));
    assert_eq!(first(control, "dtdversion"), Some("3.0"));
    let auth = first(&xml, "authentication").unwrap();
    assert_eq!(first(auth, "status"), Some("success"));
    assert_eq!(first(auth, "userid"), Some("ws_user"));
    assert_eq!(first(auth, "companyid"), Some("RAILZ-DEMO"));
    assert_eq!(first(auth, "sessiontimestamp"), Some("2027-01-15T08:00:00+00:00"));
    assert_eq!(first(auth, "sessiontimeout"), Some("2027-01-15T09:00:00+00:00"));
    let result = first(&xml, "result").unwrap();
    assert_eq!(first(result, "status"), Some("success"));
    assert_eq!(first(result, "function"), Some("getAPISession"));
    assert_eq!(first(result, "controlid"), Some("f1"));
    let api = first(result, "api").unwrap();
    assert!(first(api, "sessionid").is_some_and(|s| s.len() > 10));
    assert_eq!(first(api, "endpoint"), Some(gateway.gateway_url().as_str()));
    assert_eq!(gateway.active_sessions(), 1);
    assert_eq!(gateway.calls(), 1);
    let recorded = &gateway.requests()[0];
    assert_eq!((recorded.method.as_str(), recorded.path.as_str()), ("POST", "/ia/xml/xmlgw.phtml"));
    assert_eq!(recorded.header("content-type"), Some("application/xml"));
    gateway.shutdown().await;
}

#[tokio::test]
async fn wrong_sender_fails_at_control_level() {
    let gateway = IntacctGateway::start().await.unwrap();
    let user = login(&gateway.user());
    for (sender_id, password) in [("someone_else", gateway.sender_password()), (gateway.sender_id(), "wrong")] {
        let xml = post(&gateway, request(sender_id, password, &user, GET_SESSION)).await;
        let control = first(&xml, "control").unwrap();
        assert_eq!(first(control, "status"), Some("failure"), "{xml}");
        assert!(!xml.contains("<operation>"), "{xml}");
        assert_eq!(first(&xml, "errorno"), Some("XL03000006"));
        assert!(first(&xml, "description2").unwrap().contains("not a valid transport policy"), "{xml}");
    }
    assert_eq!(gateway.active_sessions(), 0);
    gateway.shutdown().await;
}

#[tokio::test]
async fn wrong_user_credentials_fail_at_authentication() {
    let gateway = IntacctGateway::start().await.unwrap();
    let good = gateway.user();
    let wrong_password = IntacctUser::new(&good.company_id, &good.user_id, "nope");
    let wrong_company = IntacctUser::new("OTHER-CO", &good.user_id, &good.password);
    let wrong_case = IntacctUser::new(&good.company_id, good.user_id.to_uppercase(), &good.password);
    for user in [wrong_password, wrong_company, wrong_case] {
        let xml = post(&gateway, app_request(&gateway, &login(&user), GET_SESSION)).await;
        assert_eq!(first(first(&xml, "control").unwrap(), "status"), Some("success"), "{xml}");
        let auth = first(&xml, "authentication").unwrap();
        assert_eq!(first(auth, "status"), Some("failure"), "{xml}");
        assert_eq!(first(auth, "companyid"), Some(user.company_id.as_str()));
        assert_eq!(first(&xml, "errorno"), Some("XL03000006"));
        assert_eq!(first(&xml, "description2"), Some("Sign-in information is incorrect"));
        assert!(!xml.contains("<result>"), "{xml}");
    }
    assert_eq!(gateway.active_sessions(), 0);
    gateway.shutdown().await;
}

#[tokio::test]
async fn passwords_must_be_xml_escaped() {
    let gateway = IntacctGateway::start().await.unwrap();
    let user = gateway.user();
    // Unescaped '&' and '<': not XML at all.
    let raw = format!(
        "<login><userid>{}</userid><companyid>{}</companyid><password>{}</password></login>",
        user.user_id, user.company_id, user.password
    );
    let xml = post(&gateway, app_request(&gateway, &raw, GET_SESSION)).await;
    assert_eq!(first(&xml, "status"), Some("failure"));
    assert_eq!(first(&xml, "errorno"), Some("XL03000003"), "{xml}");

    // CDATA and character references are fine too.
    let cdata = format!(
        "<login><userid>{}</userid><companyid>{}</companyid><password><![CDATA[{}]]></password></login>",
        user.user_id, user.company_id, user.password
    );
    let sender = gateway.sender_password().replace('&', "&#38;").replace('<', "&#x3C;");
    let xml = post(
        &gateway,
        request(gateway.sender_id(), "", &cdata, GET_SESSION)
            .replace("<password></password>", &format!("<password>{sender}</password>")),
    )
    .await;
    assert!(first(&xml, "sessionid").is_some(), "{xml}");
    gateway.shutdown().await;
}

#[tokio::test]
async fn sessions_work_until_they_expire() {
    let gateway = IntacctGateway::start().await.unwrap();
    let id = open_session(&gateway).await;

    // With the session: the read function, and getAPISession answers the same session.
    let xml = post(&gateway, app_request(&gateway, &session(&id), READ_COMPANY)).await;
    assert_eq!(first(first(&xml, "result").unwrap(), "status"), Some("success"), "{xml}");
    let xml = post(&gateway, app_request(&gateway, &session(&id), GET_SESSION)).await;
    assert_eq!(first(&xml, "sessionid"), Some(id.as_str()));
    assert_eq!(first(&xml, "sessiontimeout"), Some("2027-01-15T09:00:00+00:00"));

    gateway.advance(Duration::from_secs(3599));
    assert_eq!(gateway.active_sessions(), 1);
    let xml = post(&gateway, app_request(&gateway, &session(&id), READ_COMPANY)).await;
    assert_eq!(first(first(&xml, "authentication").unwrap(), "status"), Some("success"), "{xml}");

    gateway.advance(Duration::from_secs(1));
    assert_eq!(gateway.active_sessions(), 0);
    let xml = post(&gateway, app_request(&gateway, &session(&id), READ_COMPANY)).await;
    assert_eq!(first(first(&xml, "authentication").unwrap(), "status"), Some("failure"), "{xml}");
    assert_eq!(first(&xml, "errorno"), Some("XL03000006"));
    assert!(first(&xml, "description2").unwrap().contains("Invalid session"));
    assert!(!xml.contains("<result>"));

    // An unknown session fails the same way.
    let xml = post(&gateway, app_request(&gateway, &session("made-up.."), READ_COMPANY)).await;
    assert!(first(&xml, "description2").unwrap().contains("Invalid session"), "{xml}");

    // A shorter timeout applies to sessions opened from then on.
    gateway.set_session_timeout(Duration::from_secs(60));
    let id = open_session(&gateway).await;
    gateway.advance(Duration::from_secs(60));
    let xml = post(&gateway, app_request(&gateway, &session(&id), GET_SESSION)).await;
    assert!(first(&xml, "description2").unwrap().contains("Invalid session"), "{xml}");
    gateway.shutdown().await;
}

#[tokio::test]
async fn restricted_user_gets_a_permission_error() {
    let gateway = IntacctGateway::start().await.unwrap();
    let user = gateway.user();
    gateway.set_user_role(&user.company_id, &user.user_id, UserRole::Restricted);
    let xml = post(&gateway, app_request(&gateway, &login(&user), GET_SESSION)).await;
    assert_eq!(first(first(&xml, "authentication").unwrap(), "status"), Some("success"), "{xml}");
    let result = first(&xml, "result").unwrap();
    assert_eq!(first(result, "status"), Some("failure"));
    assert_eq!(first(result, "function"), Some("getAPISession"));
    assert!(first(result, "description2").unwrap().contains("permission"), "{xml}");
    assert!(first(&xml, "sessionid").is_none());
    assert_eq!(gateway.active_sessions(), 0);

    gateway.set_user_role(&user.company_id, &user.user_id, UserRole::Admin);
    assert!(!open_session(&gateway).await.is_empty());
    gateway.shutdown().await;
}

#[tokio::test]
async fn read_by_query_company_names_the_company() {
    let gateway = IntacctGateway::start().await.unwrap();
    gateway.set_company_name("RAILZ-DEMO", "Smith & Sons <Ltd>");
    let id = open_session(&gateway).await;
    let xml = post(&gateway, app_request(&gateway, &session(&id), READ_COMPANY)).await;
    let result = first(&xml, "result").unwrap();
    assert_eq!(first(result, "function"), Some("readByQuery"));
    assert_eq!(first(result, "controlid"), Some("f2"));
    assert!(result.contains(r#"<data listtype="company" count="1" totalcount="1" numremaining="0" resultId="">"#));
    assert_eq!(first(result, "NAME"), Some("Smith &amp; Sons &lt;Ltd&gt;"));

    // Another company with its own user.
    gateway.add_user(IntacctUser::new("ACME", "api", "pw"));
    gateway.set_company_name("ACME", "Acme Inc");
    let acme = login(&IntacctUser::new("ACME", "api", "pw"));
    let xml = post(&gateway, app_request(&gateway, &acme, READ_COMPANY)).await;
    assert_eq!(first(&xml, "NAME"), Some("Acme Inc"), "{xml}");

    // Unknown object: the gateway's query failure.
    let vendor = READ_COMPANY.replace("COMPANY", "VENDOR9");
    let xml = post(&gateway, app_request(&gateway, &session(&id), &vendor)).await;
    let result = first(&xml, "result").unwrap();
    assert_eq!(first(result, "status"), Some("failure"));
    assert_eq!(first(result, "errorno"), Some("Query Failed"));
    assert_eq!(first(result, "description2"), Some("Object definition VENDOR9 not found"));
    gateway.shutdown().await;
}

#[tokio::test]
async fn unauthorized_sender_and_entities() {
    let gateway = IntacctGateway::start().await.unwrap();
    let user = gateway.user();
    let with_entity = login(&user).replace("</login>", "<locationid>E100</locationid></login>");
    let xml = post(&gateway, app_request(&gateway, &with_entity, GET_SESSION)).await;
    assert_eq!(first(first(&xml, "api").unwrap(), "locationid"), Some("E100"), "{xml}");
    assert_eq!(first(first(&xml, "authentication").unwrap(), "locationid"), Some("E100"));
    let id = first(&xml, "sessionid").unwrap().to_owned();

    gateway.set_sender_authorized("RAILZ-DEMO", false);
    for auth in [login(&user), session(&id)] {
        let xml = post(&gateway, app_request(&gateway, &auth, GET_SESSION)).await;
        assert_eq!(first(first(&xml, "authentication").unwrap(), "status"), Some("failure"), "{xml}");
        assert_eq!(first(&xml, "description"), Some("Invalid Web Services Authorization"));
        assert!(first(&xml, "description2").unwrap().contains("is not authorized to make Web Services requests"));
    }
    gateway.set_sender_authorized("RAILZ-DEMO", true);
    let xml = post(&gateway, app_request(&gateway, &session(&id), READ_COMPANY)).await;
    assert_eq!(first(first(&xml, "result").unwrap(), "status"), Some("success"), "{xml}");
    gateway.shutdown().await;
}

#[tokio::test]
async fn malformed_requests_and_faults() {
    let gateway = IntacctGateway::start().await.unwrap();
    let xml = post(&gateway, "<request><control>".to_owned()).await;
    assert_eq!(first(&xml, "errorno"), Some("XL03000003"), "{xml}");
    let v21 = app_request(&gateway, &login(&gateway.user()), GET_SESSION).replace("3.0", "2.1");
    let xml = post(&gateway, v21).await;
    assert_eq!(first(&xml, "errorno"), Some("XL03000003"), "{xml}");

    gateway.fail_next(Fault::Status(502));
    gateway.fail_next(Fault::Html);
    let good = app_request(&gateway, &login(&gateway.user()), GET_SESSION);
    let resp = client().post(gateway.gateway_url()).body(good.clone()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
    let resp = client().post(gateway.gateway_url()).body(good.clone()).send().await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "<html><body>Maintenance</body></html>");
    assert_eq!(gateway.active_sessions(), 0, "faulted requests open nothing");
    assert!(first(&post(&gateway, good).await, "sessionid").is_some());
    assert_eq!(gateway.calls(), 5);

    let resp = client().get(gateway.gateway_url()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    let resp = client().post(gateway.base_url().join("ia/xml/other").unwrap()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    gateway.shutdown().await;
}

#[tokio::test]
async fn debug_output_shows_no_secrets() {
    let gateway = IntacctGateway::start().await.unwrap();
    let debug = format!("{gateway:?}");
    assert!(!debug.contains(gateway.sender_password()), "{debug}");
    assert!(debug.contains(gateway.sender_id()));
    let user = gateway.user();
    let debug = format!("{user:?}");
    assert!(!debug.contains(&user.password), "{debug}");
    assert_eq!(debug, r#"IntacctUser { company_id: "RAILZ-DEMO", user_id: "ws_user", password: "[redacted]" }"#);
    gateway.shutdown().await;
}
