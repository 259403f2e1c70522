//! The Connect widget in headless Chromium (Debian's `chromium` + `chromium-driver`, driven over
//! WebDriver), inside the demo app (`railz_connect_widget::demo`): the whole flow against the
//! sandbox in a frame, a popup and a page; denial and the insufficient role; search and the
//! country filter; the company picker; a keyboard-only run; French at 360 px; a message from a
//! foreign origin ignored; axe-core with no serious or critical violation; and no CSP violation
//! reported by the browser. Screenshots of each screen go to `target/widget-screenshots/`.
//!
//! Without Chromium these tests say so and pass, unless `RAILZ_CONNECT_REQUIRE_BROWSER=1`
//! (`.ci/run` installs the browser and sets it): then a missing browser fails them.
//! axe-core comes from npm (`npm install --prefix target/axe-core axe-core@4`, done by `.ci/run`).

#[path = "support/browser.rs"]
mod browser;

use std::path::PathBuf;

use browser::{Browser, Key, serious_or_critical};
use railz_connect::ConnectionStatus;
use railz_connect_mock::Company;
use railz_connect_widget::Origin;
use railz_connect_widget::demo::{DemoApp, DemoOptions};
use serde_json::Value;

/// One browser at a time: the machine has two cores.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const FRAME: &str = "#railz-connect iframe";

fn shots() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/widget-screenshots")
}

/// The browser, or `None` when it is absent and not required.
async fn browser() -> Option<Browser> {
    let required = std::env::var("RAILZ_CONNECT_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
    if browser::skip_requested() && !required {
        eprintln!("browser tests skipped: RAILZ_CONNECT_SKIP_BROWSER is set");
        return None;
    }
    match Browser::start().await {
        Ok(b) => Some(b),
        Err(e) if !required => {
            eprintln!("browser tests skipped: {e}");
            None
        }
        Err(e) => panic!("RAILZ_CONNECT_REQUIRE_BROWSER=1 but the browser cannot start: {e}"),
    }
}

async fn demo(companies: usize, emulations: bool) -> DemoApp {
    let mut options = DemoOptions::default();
    options.sandbox_companies =
        (1..=companies).map(|i| Company::sample(format!("cmp_{i}"), format!("Company {i}"))).collect();
    options.emulations = emulations;
    DemoApp::start("127.0.0.1:0".parse().unwrap(), options).await.unwrap()
}

/// Saves a screenshot of the widget's frame (from inside it) as `<name>.png`.
async fn shot(b: &Browser, name: &str) {
    b.switch_to_top().await.unwrap();
    // An element is captured as far as it is in the viewport: bring the whole frame in.
    b.execute("document.querySelector(arguments[0]).scrollIntoView({block: 'start'});", vec![Value::from(FRAME)])
        .await
        .unwrap();
    b.element_screenshot(FRAME, shots().join(format!("{name}.png"))).await.unwrap();
    b.switch_to_frame(FRAME).await.unwrap();
}

/// The app's recorded embed-script callbacks of one type.
async fn events(b: &Browser, kind: &str) -> Vec<Value> {
    let all = b.execute("return window.railzEvents || [];", vec![]).await.unwrap();
    all.as_array().unwrap().iter().filter(|e| e["type"] == kind).map(|e| e["payload"].clone()).collect()
}

/// Loads the app, mounts the widget and enters its frame.
async fn mount(b: &Browser, app: &DemoApp, query: &str) {
    b.goto(&format!("{}{query}", app.url())).await.unwrap();
    b.click("#mount").await.unwrap();
    b.wait_visible(FRAME).await.unwrap();
    b.switch_to_frame(FRAME).await.unwrap();
    b.wait_visible("#rcw-picker h1").await.unwrap();
}

/// Picks the sandbox with a use case, in the frame.
async fn pick_sandbox(b: &Browser, use_case: &str) {
    b.click(r#".rcw-service[data-service="railzSandbox"]"#).await.unwrap();
    b.wait_visible("#rcw-inputs-railzSandbox select").await.unwrap();
    b.execute(
        "document.querySelector('#rcw-inputs-railzSandbox select').value = arguments[0];",
        vec![Value::from(use_case)],
    )
    .await
    .unwrap();
    b.click("#rcw-inputs-railzSandbox button[type=submit]").await.unwrap();
}

/// No serious or critical accessibility violation on the current document.
async fn accessible(b: &Browser, screen: &str) {
    let violations = b.run_axe(&browser::default_axe_path()).await.unwrap();
    let bad = serious_or_critical(&violations);
    assert!(bad.is_empty(), "{screen}: {}", bad.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"));
}

/// The browser reported no CSP violation: a deliberate one (the control) is reported, and it
/// is the only report.
async fn no_csp_violation(b: &Browser, app: &DemoApp) {
    let reports = app.widget.csp_reports();
    let before = reports.count();
    b.execute(
        "var i = document.createElement('img'); i.alt = ''; i.hidden = true; \
         i.src = 'http://127.0.0.1:9/csp-control.png'; document.body.appendChild(i);",
        vec![],
    )
    .await
    .unwrap();
    reports.wait_for(before + 1).await;
    let all = reports.reports();
    let unexpected: Vec<&Value> = all
        .iter()
        .filter(|r| !r["csp-report"]["blocked-uri"].as_str().is_some_and(|u| u.contains("csp-control")))
        .collect();
    assert!(unexpected.is_empty(), "the browser reported CSP violations: {unexpected:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_connects_from_the_mounted_widget() {
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(b) = browser().await else { return };
    let app = demo(1, false).await;
    mount(&b, &app, "").await;
    b.switch_to_top().await.unwrap();
    b.screenshot(shots().join("app.png")).await.unwrap();
    b.switch_to_frame(FRAME).await.unwrap();
    accessible(&b, "picker").await;
    shot(&b, "picker").await;

    b.click(r#".rcw-service[data-service="railzSandbox"]"#).await.unwrap();
    b.wait_visible("#rcw-inputs-railzSandbox select").await.unwrap();
    accessible(&b, "inputs").await;
    shot(&b, "inputs").await;
    b.click("#rcw-inputs-railzSandbox button[type=submit]").await.unwrap();

    // The sign-in runs in a popup; the sandbox approves, the callback hands the answer back.
    b.wait_visible("#rcw-success h1").await.unwrap();
    accessible(&b, "success").await;
    shot(&b, "success").await;
    no_csp_violation(&b, &app).await;
    b.switch_to_top().await.unwrap();
    b.wait_for_js("(window.railzEvents || []).some(e => e.type === 'success')").await.unwrap();
    let success = events(&b, "success").await;
    assert_eq!(success.len(), 1);
    let id = success[0]["connectionId"].as_str().unwrap().parse().unwrap();
    let connection = app.connect.connection(&id).await.unwrap();
    assert_eq!(connection.status, ConnectionStatus::Active);
    assert_eq!(success[0]["serviceName"], "railzSandbox");
    assert_eq!(success[0]["businessName"], connection.business_name.as_str());
    assert!(events(&b, "error").await.is_empty());
    b.quit().await.unwrap();
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denial_and_an_insufficient_role_reach_the_error_screen_and_on_error() {
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(b) = browser().await else { return };
    let app = demo(1, false).await;
    mount(&b, &app, "").await;
    pick_sandbox(&b, "failed_connection").await;
    b.wait_visible(r#"#rcw-error[data-error-code="accessDenied"] h1"#).await.unwrap();
    accessible(&b, "error").await;
    shot(&b, "error").await;

    b.click("#rcw-retry").await.unwrap();
    b.wait_visible("#rcw-picker h1").await.unwrap();
    pick_sandbox(&b, "insufficient_permission").await;
    b.wait_visible(r#"#rcw-error[data-error-code="insufficientPermission"] h1"#).await.unwrap();
    let message = b.execute("return document.getElementById('rcw-error-message').textContent;", vec![]).await.unwrap();
    assert!(message.as_str().unwrap().contains("administrator or owner"), "{message}");
    no_csp_violation(&b, &app).await;

    b.switch_to_top().await.unwrap();
    b.wait_for_js("(window.railzEvents || []).filter(e => e.type === 'error').length === 2").await.unwrap();
    let errors = events(&b, "error").await;
    assert_eq!(errors[0]["stage"], "authorization");
    assert_eq!(errors[0]["errorCode"], "accessDenied");
    assert_eq!(errors[1]["errorCode"], "insufficientPermission");
    assert!(events(&b, "success").await.is_empty());
    let stored = app.connect.connections(&railz_connect::ConnectionFilter::all(), Default::default()).await.unwrap();
    assert!(stored.is_empty(), "no connection from a refusal");
    b.quit().await.unwrap();
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_and_the_country_filter_narrow_the_services() {
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(b) = browser().await else { return };
    let app = demo(1, true).await;
    let visible = |b: &Browser| {
        let b = b.client().clone();
        async move {
            let v = b
                .execute(
                    "return [...document.querySelectorAll('.rcw-service')].filter(e => !e.parentNode.hidden).map(e => e.dataset.service);",
                    vec![],
                )
                .await
                .unwrap();
            v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_owned()).collect::<Vec<_>>()
        }
    };
    mount(&b, &app, "").await;
    assert_eq!(visible(&b).await.len(), 12);
    b.type_into("#rcw-search", "xe").await.unwrap();
    assert_eq!(visible(&b).await, ["xero"]);
    b.execute(
        "const s = document.getElementById('rcw-search'); s.value = 'zzz'; s.dispatchEvent(new Event('input'));",
        vec![],
    )
    .await
    .unwrap();
    b.wait_visible("#rcw-empty").await.unwrap();
    b.execute(
        "const s = document.getElementById('rcw-search'); s.value = ''; s.dispatchEvent(new Event('input'));",
        vec![],
    )
    .await
    .unwrap();
    b.execute(
        "const c = document.getElementById('rcw-country'); c.value = 'NZ'; c.dispatchEvent(new Event('change'));",
        vec![],
    )
    .await
    .unwrap();
    let nz = visible(&b).await;
    assert!(
        nz.contains(&"xero".into()) && nz.contains(&"myob".into()) && nz.contains(&"railzSandbox".into()),
        "{nz:?}"
    );
    assert!(!nz.contains(&"quickbooks".into()) && !nz.contains(&"wave".into()), "{nz:?}");
    // The mount options narrow what the page is rendered with.
    b.switch_to_top().await.unwrap();
    mount(&b, &app, "?countryCodes=GB&exclude=xero").await;
    let gb = visible(&b).await;
    assert!(gb.contains(&"freeagent".into()) && !gb.contains(&"wave".into()) && !gb.contains(&"xero".into()), "{gb:?}");
    no_csp_violation(&b, &app).await;
    b.quit().await.unwrap();
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_companies_are_chosen_from_in_the_widget() {
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(b) = browser().await else { return };
    let app = demo(3, false).await;
    mount(&b, &app, "").await;
    pick_sandbox(&b, "user_good").await;
    b.wait_visible("#rcw-tenant h1").await.unwrap();
    let count = b.execute("return document.querySelectorAll('input[name=tenant]').length;", vec![]).await.unwrap();
    assert_eq!(count, 3);
    accessible(&b, "tenant").await;
    shot(&b, "tenant").await;
    b.click(r#"input[name=tenant][value="cmp_2"]"#).await.unwrap();
    b.click("#rcw-tenant-submit").await.unwrap();
    b.wait_visible("#rcw-success h1").await.unwrap();
    b.switch_to_top().await.unwrap();
    b.wait_for_js("(window.railzEvents || []).some(e => e.type === 'success')").await.unwrap();
    let id = events(&b, "success").await[0]["connectionId"].as_str().unwrap().parse().unwrap();
    let connection = app.connect.connection(&id).await.unwrap();
    assert_eq!(connection.tenant.unwrap().id.as_str(), "cmp_2");
    b.quit().await.unwrap();
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_flow_runs_from_the_keyboard() {
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(b) = browser().await else { return };
    let app = demo(2, false).await;
    mount(&b, &app, "").await;
    // Focus order: close, search, country, then the services (the sandbox first).
    b.execute("document.getElementById('rcw-close').focus();", vec![]).await.unwrap();
    b.press_key(Key::Tab).await.unwrap();
    b.wait_focus("#rcw-search").await.unwrap();
    b.press_key(Key::Tab).await.unwrap();
    b.wait_focus("#rcw-country").await.unwrap();
    b.press_key(Key::Tab).await.unwrap();
    b.wait_focus(r#".rcw-service[data-service="railzSandbox"]"#).await.unwrap();
    // The focus is visible.
    let outline = b.execute("return getComputedStyle(document.activeElement).outlineStyle;", vec![]).await.unwrap();
    assert_ne!(outline, "none", "the focused service shows no focus ring");
    b.press_key(Key::Enter).await.unwrap();
    b.wait_focus("#rcw-inputs-railzSandbox select").await.unwrap();
    b.press_key(Key::Tab).await.unwrap();
    b.wait_focus("#rcw-inputs-railzSandbox .rcw-back").await.unwrap();
    b.press_key(Key::Tab).await.unwrap();
    b.wait_focus("#rcw-inputs-railzSandbox button[type=submit]").await.unwrap();
    b.press_key(Key::Enter).await.unwrap();
    b.wait_visible("#rcw-tenant h1").await.unwrap();
    // Arrow keys move within the radio group; Tab reaches the button.
    b.execute("document.getElementById('rcw-tenant-0').focus();", vec![]).await.unwrap();
    b.press_key(Key::Down).await.unwrap();
    b.wait_for_js("document.getElementById('rcw-tenant-1').checked").await.unwrap();
    b.press_key(Key::Tab).await.unwrap();
    b.wait_focus("#rcw-tenant-submit").await.unwrap();
    b.press_key(Key::Enter).await.unwrap();
    b.wait_visible("#rcw-success h1").await.unwrap();
    b.switch_to_top().await.unwrap();
    b.wait_for_js("(window.railzEvents || []).some(e => e.type === 'success')").await.unwrap();
    let id = events(&b, "success").await[0]["connectionId"].as_str().unwrap().parse().unwrap();
    assert_eq!(app.connect.connection(&id).await.unwrap().tenant.unwrap().id.as_str(), "cmp_2");
    b.quit().await.unwrap();
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn french_at_360_pixels() {
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(b) = browser().await else { return };
    let app = demo(1, true).await;
    b.set_viewport(360, 740).await.unwrap();
    mount(&b, &app, "?language=fr").await;
    let lang = b.execute("return document.documentElement.lang;", vec![]).await.unwrap();
    assert_eq!(lang, "fr");
    let title = b.execute("return document.querySelector('#rcw-picker h1').textContent;", vec![]).await.unwrap();
    assert_eq!(title, "Connectez votre logiciel de comptabilité");
    // Nothing overflows sideways at 360 px.
    let overflow = b
        .execute("return document.documentElement.scrollWidth - document.documentElement.clientWidth;", vec![])
        .await
        .unwrap();
    assert_eq!(overflow, 0, "the widget scrolls sideways at 360 px");
    accessible(&b, "picker (fr, 360 px)").await;
    shot(&b, "french-360").await;
    pick_sandbox(&b, "failed_connection").await;
    b.wait_visible("#rcw-error h1").await.unwrap();
    let message = b.execute("return document.getElementById('rcw-error-message').textContent;", vec![]).await.unwrap();
    assert_eq!(message, "L’accès n’a pas été autorisé chez le fournisseur.");
    no_csp_violation(&b, &app).await;
    b.quit().await.unwrap();
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_popup_and_the_page_modes_connect_too() {
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(b) = browser().await else { return };
    let app = demo(1, false).await;

    // open(): the widget is a popup that goes to the provider and back by itself.
    b.goto(app.url().as_str()).await.unwrap();
    let home = b.window().await.unwrap();
    b.click("#open").await.unwrap();
    let windows = b.wait_for_windows(2).await.unwrap();
    let popup = windows.into_iter().find(|w| *w != home).unwrap();
    b.switch_to_window(popup).await.unwrap();
    b.wait_visible("#rcw-picker h1").await.unwrap();
    pick_sandbox(&b, "user_good").await;
    b.wait_visible("#rcw-success h1").await.unwrap();
    b.switch_to_window(home).await.unwrap();
    b.wait_for_js("(window.railzEvents || []).some(e => e.type === 'success')").await.unwrap();
    let id = events(&b, "success").await[0]["connectionId"].as_str().unwrap().parse().unwrap();
    assert_eq!(app.connect.connection(&id).await.unwrap().status, ConnectionStatus::Active);

    // As a page of its own: it lands on the app's success page, with no code or state.
    b.goto(app.url().join("page").unwrap().as_str()).await.unwrap();
    b.wait_visible("#rcw-picker h1").await.unwrap();
    pick_sandbox(&b, "user_good").await;
    b.wait_visible("#landing").await.unwrap();
    let landed = b.current_url().await.unwrap();
    assert!(landed.contains("/connected?") && landed.contains("connectionId="), "{landed}");
    assert!(!landed.contains("code=") && !landed.contains("state="), "{landed}");
    no_csp_violation_after_page(&app);
    b.quit().await.unwrap();
    app.shutdown().await;
}

/// After leaving the widget, its earlier reports (if any) have had the whole flow to arrive.
fn no_csp_violation_after_page(app: &DemoApp) {
    assert_eq!(app.widget.csp_reports().count(), 0, "{:?}", app.widget.csp_reports().reports());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_origins_can_neither_message_nor_frame_the_widget() {
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(b) = browser().await else { return };
    let app = demo(1, false).await;
    // `localhost` is another origin than `127.0.0.1`, on the same server.
    let foreign = format!("http://localhost:{}", app.addr.port());
    assert_ne!(Origin::parse(&foreign).unwrap(), Origin::parse(&format!("http://{}", app.addr)).unwrap());
    b.goto(&format!("{}?autoload=1", app.url())).await.unwrap();
    b.wait_visible(FRAME).await.unwrap();
    b.wait_for_js("(window.railzEvents || []).some(e => e.type === 'load')").await.unwrap();
    let home = b.window().await.unwrap();
    // The user opens a foreign page from the app (a click, so the popup is allowed).
    b.execute(
        "const a = document.createElement('button'); a.id = 'foreign'; a.textContent = 'foreign'; \
         a.addEventListener('click', () => window.open(arguments[0], 'foreign')); document.body.prepend(a);",
        vec![Value::from(format!("{foreign}/connect/assets/widget.css"))],
    )
    .await
    .unwrap();
    b.click("#foreign").await.unwrap();
    let windows = b.wait_for_windows(2).await.unwrap();
    let other = windows.into_iter().find(|w| *w != home).unwrap();
    b.switch_to_window(other).await.unwrap();
    b.wait_for_js("location.hostname === 'localhost' && document.readyState === 'complete'").await.unwrap();
    // It forges the widget's success message to the app's page...
    let forged = r#"{"source":"railz-connect","type":"success","payload":{"connectionId":"forged","serviceName":"railzSandbox","businessName":"x"}}"#;
    b.execute("window.opener.postMessage(JSON.parse(arguments[0]), '*');", vec![Value::from(forged)]).await.unwrap();
    // ...and tries to frame the widget: frame-ancestors refuses, and the browser reports it.
    let reports = app.widget.csp_reports();
    b.execute(
        "const f = document.createElement('iframe'); f.src = arguments[0]; document.body.appendChild(f);",
        vec![Value::from(format!("{}connect/w/demo?display=frame&origin={foreign}", app.url()))],
    )
    .await
    .unwrap();
    reports.wait_for(1).await;
    let directive = reports.reports()[0]["csp-report"]["violated-directive"].as_str().unwrap_or_default().to_owned();
    assert!(directive.starts_with("frame-ancestors"), "{:?}", reports.reports());
    b.switch_to_window(home).await.unwrap();
    // The app's page received the forgery (it counts every message); the embed script dropped it.
    b.wait_for_js("window.railzMessagesSeen >= 1").await.unwrap();
    assert!(events(&b, "success").await.is_empty(), "a forged message reached onSuccess");
    b.quit().await.unwrap();
    app.shutdown().await;
}
