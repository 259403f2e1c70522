//! The Sage Intacct XML gateway as a loopback server: Web Services sender
//! credentials plus a company user's login open an API session
//! (`getAPISession`), as Railz's widget connects Sage Intacct (the customer
//! authorizes the integrator's sender id, creates a Web Services user and
//! enters Company ID, User ID and password).
//!
//! [`IntacctGateway::base_url`] stands for `https://api.intacct.com/`; the
//! gateway is `POST {base}ia/xml/xmlgw.phtml`
//! ([`IntacctGateway::gateway_url`]). The wire format follows the official
//! PHP SDK, github intacct/intacct-sdk-php (request writers
//! `src/Intacct/Xml/Request/ControlBlock.php`, `LoginAuthentication.php`,
//! `SessionAuthentication.php`, `Functions/Company/ApiSessionCreate.php`,
//! `Functions/Common/ReadByQuery.php`; answer fixtures in
//! `test/Intacct/SessionProviderTest.php`,
//! `test/Intacct/Exception/ResponseExceptionTest.php`,
//! `test/Intacct/Xml/Response/ResultTest.php`), and developer.intacct.com
//! ("Error handling", "FAQ").
//!
//! # Request
//!
//! ```xml
//! <?xml version="1.0" encoding="UTF-8"?>
//! <request>
//!   <control><senderid>..</senderid><password>..</password><controlid>..</controlid>
//!     <uniqueid>false</uniqueid><dtdversion>3.0</dtdversion><includewhitespace>false</includewhitespace></control>
//!   <operation>
//!     <authentication>
//!       <login><userid>..</userid><companyid>..</companyid><password>..</password>[<locationid>..</locationid>]</login>
//!       <!-- or --> <sessionid>..</sessionid>
//!     </authentication>
//!     <content><function controlid="..."><getAPISession>[<locationid>..</locationid>]</getAPISession></function></content>
//!   </operation>
//! </request>
//! ```
//!
//! The body is read as XML whatever its content type (the SDK sends
//! `application/xml`). Values are compared exactly as sent, after XML
//! unescaping (entities, character references, CDATA): company and user
//! ids are case-sensitive here (whether Intacct folds case is UNCONFIRMED).
//!
//! # Answers
//!
//! Always HTTP `200`, `content-type: text/xml; encoding="UTF-8"` (as the
//! SDK's fixtures), `<response>` with a `<control>` echo (`status`,
//! `senderid`, `controlid`, `uniqueid`, `dtdversion`), then either a
//! control-level `<errormessage>` or an `<operation>` with
//! `<authentication>` (`status`, `userid`, `companyid`, `locationid`,
//! `sessiontimestamp`, `sessiontimeout`; ISO 8601 with `+00:00`) and one
//! `<result>` per function (`status`, `function`, `controlid`, then `data`
//! or `errormessage`). An error is
//! `<errormessage><error><errorno/><description/><description2/><correction/></error></errormessage>`.
//!
//! | case | level | errorno | description2 | source |
//! |---|---|---|---|---|
//! | not XML, no `control`/`operation`/`authentication`, `dtdversion` not `3.0` | control | `XL03000003` | `XML Parse schema error: ...` | developer.intacct.com error handling |
//! | unknown sender id or wrong sender password | control | `XL03000006` | `<senderid> is not a valid transport policy.` | SDK `ResponseExceptionTest` |
//! | unknown company/user or wrong password | authentication | `XL03000006` | `Sign-in information is incorrect` | SDK `ResponseExceptionTest` |
//! | sender not authorized by the company ([`IntacctGateway::set_sender_authorized`]) | authentication | `XL03000006` | `The sender ID '..' is not authorized to make Web Services requests to company ID '..'.` (description `Invalid Web Services Authorization`) | developer.intacct.com FAQ |
//! | unknown or expired session | authentication | `XL03000006` | `Invalid session` | UNCONFIRMED: assumed wording |
//! | [`UserRole::Restricted`] user, any function | result | `XL03000006` | `... does not have permission ...` | UNCONFIRMED: assumed wording |
//! | `readByQuery` of an object other than `COMPANY` | result | `Query Failed` | `Object definition X not found` | SDK `ResultTest` |
//!
//! # Functions
//!
//! * `getAPISession` (optional `<locationid>` = entity): opens a session
//!   that lasts [`IntacctGateway::set_session_timeout`] (default 3600 s) on
//!   the emulation clock, from creation (using it does not extend it:
//!   whether Intacct slides it is UNCONFIRMED). With session
//!   authentication and no other entity it answers the same session. Data:
//!   `<api><sessionid/><endpoint/><locationid/></api>`, the endpoint being
//!   this server's [`IntacctGateway::gateway_url`].
//! * `readByQuery` with `<object>COMPANY</object>`: the company's name, as
//!   `<data listtype="company" count="1" totalcount="1" numremaining="0"
//!   resultId=""><company><RECORDNO>1</RECORDNO><COMPANYID>..</COMPANYID><NAME>..</NAME></company></data>`
//!   (envelope as the SDK's `OnlineClientTest` readByQuery fixture; that
//!   `COMPANY` is a readable object with these fields is UNCONFIRMED: the
//!   emulation's choice of one read function that proves a session works
//!   and names the company).
//! * Any other function: a result failure with errorno `EMULATION`
//!   (not emulated).
//!
//! ```
//! use railz_connect_mock::intacct::IntacctGateway;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let gateway = IntacctGateway::start().await.unwrap();
//! assert!(gateway.gateway_url().as_str().ends_with("/ia/xml/xmlgw.phtml"));
//! assert_eq!(gateway.active_sessions(), 0);
//! gateway.shutdown().await;
//! # });
//! ```

mod gateway;
mod xml;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use url::Url;

use crate::serve::{self, Running, Script};
use crate::{Fault, RecordedRequest};

/// Where the emulation clock starts (Unix seconds).
pub const START_UNIX: i64 = 1_800_000_000;
/// Default session lifetime.
pub const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_secs(3600);

const GATEWAY_PATH: &str = "/ia/xml/xmlgw.phtml";
const DEFAULT_SENDER_ID: &str = "railz_sender";
/// Contains `:`, `&` and `<`: a client must XML-escape it.
const DEFAULT_SENDER_PASSWORD: &str = "s3nder:p&ss<word>";
const DEFAULT_COMPANY_ID: &str = "RAILZ-DEMO";
const DEFAULT_COMPANY_NAME: &str = "Railz Demo Intacct Co.";

/// A company's Web Services user. `Debug` redacts the password.
#[derive(Clone)]
pub struct IntacctUser {
    /// Company ID.
    pub company_id: String,
    /// User ID.
    pub user_id: String,
    /// Password.
    pub password: String,
}

impl IntacctUser {
    /// A user of `company_id`.
    pub fn new(company_id: impl Into<String>, user_id: impl Into<String>, password: impl Into<String>) -> IntacctUser {
        IntacctUser { company_id: company_id.into(), user_id: user_id.into(), password: password.into() }
    }
}

impl fmt::Debug for IntacctUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntacctUser")
            .field("company_id", &self.company_id)
            .field("user_id", &self.user_id)
            .field("password", &"[redacted]")
            .finish()
    }
}

/// What a user may do through the gateway.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UserRole {
    /// Every emulated function works (the default).
    #[default]
    Admin,
    /// Signs in, but every function fails with a permission error.
    Restricted,
}

#[derive(Debug)]
struct UserRecord {
    user: IntacctUser,
    role: UserRole,
}

#[derive(Debug)]
struct Session {
    company_id: String,
    user_id: String,
    location_id: String,
    expires_at: i64,
}

struct GatewayState {
    gateway_url: Url,
    sender_id: String,
    sender_password: String,
    users: Vec<UserRecord>,
    company_names: HashMap<String, String>,
    unauthorized_companies: HashSet<String>,
    sessions: HashMap<String, Session>,
    session_timeout: Duration,
    now: i64,
    script: Script,
}

type Shared = Arc<Mutex<GatewayState>>;

use crate::serve::lock;

/// The running Intacct XML gateway emulation. Dropping it aborts the
/// server task; prefer [`IntacctGateway::shutdown`]. `Debug` prints no
/// secrets.
pub struct IntacctGateway {
    base_url: Url,
    gateway_url: Url,
    sender_id: String,
    sender_password: String,
    shared: Shared,
    running: Running,
}

impl fmt::Debug for IntacctGateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntacctGateway")
            .field("gateway_url", &self.gateway_url.as_str())
            .field("sender_id", &self.sender_id)
            .finish_non_exhaustive()
    }
}

impl IntacctGateway {
    /// Binds `127.0.0.1:0` and spawns the gateway on the current Tokio
    /// runtime, with the default sender, one company (`RAILZ-DEMO`, named
    /// `"Railz Demo Intacct Co."`) and its admin user ([`user`](Self::user)),
    /// and the clock at [`START_UNIX`].
    pub async fn start() -> std::io::Result<IntacctGateway> {
        let bound = serve::bind().await?;
        let addr = bound.local_addr();
        let base_url = Url::parse(&format!("http://{addr}/")).map_err(std::io::Error::other)?;
        let gateway_url = base_url.join(GATEWAY_PATH.trim_start_matches('/')).map_err(std::io::Error::other)?;
        let shared: Shared = Arc::new(Mutex::new(GatewayState {
            gateway_url: gateway_url.clone(),
            sender_id: DEFAULT_SENDER_ID.to_owned(),
            sender_password: DEFAULT_SENDER_PASSWORD.to_owned(),
            users: vec![UserRecord { user: default_user(), role: UserRole::Admin }],
            company_names: HashMap::from([(DEFAULT_COMPANY_ID.to_owned(), DEFAULT_COMPANY_NAME.to_owned())]),
            unauthorized_companies: HashSet::new(),
            sessions: HashMap::new(),
            session_timeout: DEFAULT_SESSION_TIMEOUT,
            now: START_UNIX,
            script: Script::default(),
        }));
        let router = axum::Router::new().fallback(gateway::handle).with_state(Arc::clone(&shared));
        let running = bound.serve(router, "intacct gateway emulation");
        Ok(IntacctGateway {
            base_url,
            gateway_url,
            sender_id: DEFAULT_SENDER_ID.to_owned(),
            sender_password: DEFAULT_SENDER_PASSWORD.to_owned(),
            shared,
            running,
        })
    }

    /// `http://127.0.0.1:PORT/`, standing for `https://api.intacct.com/`.
    pub fn base_url(&self) -> Url {
        self.base_url.clone()
    }

    /// `{base}ia/xml/xmlgw.phtml`: where sessions are opened, and the
    /// endpoint `getAPISession` returns.
    pub fn gateway_url(&self) -> Url {
        self.gateway_url.clone()
    }

    /// The app's Web Services sender id.
    pub fn sender_id(&self) -> &str {
        &self.sender_id
    }

    /// The app's Web Services sender password (contains `:`, `&` and `<`).
    pub fn sender_password(&self) -> &str {
        &self.sender_password
    }

    /// The default Web Services user of company `RAILZ-DEMO` (its password
    /// contains `&` and `<`).
    pub fn user(&self) -> IntacctUser {
        default_user()
    }

    /// Adds a user (role [`UserRole::Admin`]), replacing one with the same
    /// company and user id.
    pub fn add_user(&self, user: IntacctUser) {
        let mut state = lock(&self.shared);
        state.users.retain(|r| !(r.user.company_id == user.company_id && r.user.user_id == user.user_id));
        state.users.push(UserRecord { user, role: UserRole::Admin });
    }

    /// Sets a user's role; unknown users are ignored.
    pub fn set_user_role(&self, company_id: &str, user_id: &str, role: UserRole) {
        let mut state = lock(&self.shared);
        for record in &mut state.users {
            if record.user.company_id == company_id && record.user.user_id == user_id {
                record.role = role;
            }
        }
    }

    /// The name `readByQuery` of `COMPANY` answers for `company_id`
    /// (default: the company id itself, `"Railz Demo Intacct Co."` for
    /// `RAILZ-DEMO`).
    pub fn set_company_name(&self, company_id: &str, name: &str) {
        lock(&self.shared).company_names.insert(company_id.to_owned(), name.to_owned());
    }

    /// Whether `company_id` has the app's sender id in its Web Services
    /// authorizations (default: every company has). An unauthorized
    /// company's logins and sessions fail at authentication.
    pub fn set_sender_authorized(&self, company_id: &str, authorized: bool) {
        let mut state = lock(&self.shared);
        if authorized {
            state.unauthorized_companies.remove(company_id);
        } else {
            state.unauthorized_companies.insert(company_id.to_owned());
        }
    }

    /// Lifetime of sessions opened from now on (default 3600 s).
    pub fn set_session_timeout(&self, timeout: Duration) {
        lock(&self.shared).session_timeout = timeout;
    }

    /// The emulation clock, Unix seconds (starts at [`START_UNIX`]).
    pub fn now(&self) -> i64 {
        lock(&self.shared).now
    }

    /// Moves the emulation clock forward (whole seconds).
    pub fn advance(&self, by: Duration) {
        let secs = i64::try_from(by.as_secs()).unwrap_or(i64::MAX);
        let mut state = lock(&self.shared);
        state.now = state.now.saturating_add(secs);
    }

    /// Queues a fault for the next request (FIFO), applied after recording
    /// and before the XML is read, with the sandbox's responses
    /// ([`crate::MockServer::fail_next`]). [`Fault::Delay`] waits, then
    /// handles the request normally; the token-response faults
    /// ([`Fault::MissingAccessToken`], [`Fault::TokenType`],
    /// [`Fault::TokenFields`]) have nothing to alter here: the request is
    /// handled normally.
    pub fn fail_next(&self, fault: Fault) {
        lock(&self.shared).script.faults.push_back(fault);
    }

    /// Requests received, faulted ones included.
    pub fn calls(&self) -> usize {
        lock(&self.shared).script.calls
    }

    /// Every request received, in arrival order (bodies carry the
    /// passwords as sent).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared).script.requests.clone()
    }

    /// Sessions not yet expired on the emulation clock.
    pub fn active_sessions(&self) -> usize {
        let state = lock(&self.shared);
        state.sessions.values().filter(|s| s.expires_at > state.now).count()
    }

    /// Stops accepting connections, lets in-flight requests finish (up to
    /// 5 s, then aborts) and waits for the server task to end.
    pub async fn shutdown(self) {
        self.running.shutdown().await;
    }
}

fn default_user() -> IntacctUser {
    IntacctUser::new(DEFAULT_COMPANY_ID, "ws_user", "us3r&pass<word>")
}
