//! Headless-Chromium test harness: chromedriver + the `fantoccini` WebDriver client.
//!
//! Self-contained so it can be copied verbatim to `tests/support/browser.rs` of any crate
//! (then `mod support;` + `use support::browser::*;` from a test file).
//!
//! Needs, as (dev-)dependencies:
//! ```toml
//! fantoccini = { version = "0.22.1", default-features = false }   # no TLS: plain HTTP to 127.0.0.1
//! hyper-util = { version = "0.1.3", default-features = false, features = ["client-legacy", "http1", "tokio"] }
//! serde_json = "1"
//! tokio = { version = "1.47", features = ["time", "net", "io-util"] }
//! rustix = { version = "1", default-features = false, features = ["std", "process"] }  # safe kill(2)
//! ```
//! and, on the machine, Debian's `chromium` + `chromium-driver` (same version, same source
//! package) and `axe-core` from npm for [`Browser::run_axe`]. See README-harness.md.
//!
//! It has no `unsafe` and only `pub(crate)` items, so it builds warning-free under
//! `unsafe_code = "forbid"`, `unreachable_pub`, `missing_debug_implementations`, clippy::all.
//!
//! Every wait polls a condition (DOM / JS / HTTP status) every [`POLL_INTERVAL`] until it
//! holds; the overall deadline ([`BrowserConfig::timeout`]) only matters when the condition
//! never holds, i.e. on failure.
#![allow(dead_code)] // copied into test crates where not every helper is used by every test

use std::fmt;
use std::future::Future;
use std::io::{Read, Write};
use std::net::TcpStream as StdTcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::elements::Element;
use fantoccini::error::{CmdError, ErrorStatus, NewSessionError};
use fantoccini::wd::{Capabilities, WindowHandle};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use rustix::process::{Pid, Signal, kill_process, kill_process_group};
use serde_json::{Value, json};

pub(crate) use fantoccini::key::Key;

/// Set to `1` to make browser tests skip themselves (see [`skip_requested`]).
pub(crate) const SKIP_ENV: &str = "RAILZ_CONNECT_SKIP_BROWSER";
/// Overrides the chromedriver binary (default `/usr/bin/chromedriver`).
pub(crate) const CHROMEDRIVER_ENV: &str = "CHROMEDRIVER";
/// Overrides the Chromium binary (default `/usr/bin/chromium`).
pub(crate) const CHROMIUM_ENV: &str = "CHROMIUM";
/// Overrides the path of `axe.min.js` (see [`default_axe_path`]).
pub(crate) const AXE_ENV: &str = "AXE_CORE_JS";

/// Failure deadline for every wait. Generous on purpose: only reached when something is broken.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Delay between two checks of a polled condition.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(20);

const INSTALL_HINT: &str = "install Debian's browser packages with \
     `apt-get install -y chromium chromium-driver` (or point the CHROMIUM / CHROMEDRIVER \
     environment variables at the binaries), or set RAILZ_CONNECT_SKIP_BROWSER=1 to skip \
     browser tests";

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Error of every harness call: a human-readable message (WebDriver errors included).
#[derive(Debug)]
pub(crate) struct BrowserError(pub(crate) String);

impl fmt::Display for BrowserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BrowserError {}

impl From<CmdError> for BrowserError {
    fn from(e: CmdError) -> Self {
        BrowserError(format!("webdriver: {e}"))
    }
}

impl From<NewSessionError> for BrowserError {
    fn from(e: NewSessionError) -> Self {
        BrowserError(format!("webdriver session: {e}"))
    }
}

impl From<std::io::Error> for BrowserError {
    fn from(e: std::io::Error) -> Self {
        BrowserError(format!("io: {e}"))
    }
}

pub(crate) type Result<T, E = BrowserError> = std::result::Result<T, E>;

fn err<T>(msg: impl Into<String>) -> Result<T> {
    Err(BrowserError(msg.into()))
}

/// True when `RAILZ_CONNECT_SKIP_BROWSER` is set to something other than ``/`0`/`false`.
/// Tests call this first and return early (printing why) when it is true.
pub(crate) fn skip_requested() -> bool {
    match std::env::var(SKIP_ENV) {
        Ok(v) => !matches!(v.trim(), "" | "0" | "false"),
        Err(_) => false,
    }
}

/// `$AXE_CORE_JS`, else `<CARGO_MANIFEST_DIR>/target/axe-core/node_modules/axe-core/axe.min.js`
/// (the layout produced by `npm install --prefix target/axe-core axe-core@4` run at the
/// workspace root, which is this crate's directory).
pub(crate) fn default_axe_path() -> PathBuf {
    if let Some(p) = std::env::var_os(AXE_ENV) {
        return PathBuf::from(p);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/axe-core/node_modules/axe-core/axe.min.js")
}

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
pub(crate) struct BrowserConfig {
    pub(crate) chromedriver: PathBuf,
    pub(crate) chromium: PathBuf,
    /// Initial window size (`--window-size=W,H`).
    pub(crate) window_size: (u32, u32),
    /// Failure deadline for every wait, including chromedriver start-up.
    pub(crate) timeout: Duration,
    /// Extra Chromium switches appended after the fixed ones.
    pub(crate) extra_args: Vec<String>,
}

impl BrowserConfig {
    /// Binaries from `$CHROMEDRIVER` / `$CHROMIUM`, else Debian's `/usr/bin` paths.
    pub(crate) fn from_env() -> Self {
        let path = |var: &str, default: &str| {
            std::env::var_os(var).filter(|v| !v.is_empty()).map(PathBuf::from).unwrap_or_else(|| PathBuf::from(default))
        };
        BrowserConfig {
            chromedriver: path(CHROMEDRIVER_ENV, "/usr/bin/chromedriver"),
            chromium: path(CHROMIUM_ENV, "/usr/bin/chromium"),
            window_size: (1024, 900),
            timeout: DEFAULT_TIMEOUT,
            extra_args: Vec::new(),
        }
    }
}

impl Default for BrowserConfig {
    fn default() -> Self {
        Self::from_env()
    }
}

// ---------------------------------------------------------------------------------------------
// axe-core result
// ---------------------------------------------------------------------------------------------

/// One axe-core rule violation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Violation {
    /// Rule id, e.g. `image-alt`.
    pub(crate) id: String,
    /// `minor` | `moderate` | `serious` | `critical` (empty if axe gave none).
    pub(crate) impact: String,
    /// Number of offending nodes.
    pub(crate) nodes_count: usize,
    /// One-line description of the rule.
    pub(crate) help: String,
    /// CSS selectors of (up to 5 of) the offending nodes, for failure messages.
    pub(crate) targets: Vec<String>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}] {} ({} node(s): {}) — {}",
            self.impact,
            self.id,
            self.nodes_count,
            self.targets.join(", "),
            self.help
        )
    }
}

/// The violations whose impact is `serious` or `critical`.
pub(crate) fn serious_or_critical(violations: &[Violation]) -> Vec<Violation> {
    violations.iter().filter(|v| v.impact == "serious" || v.impact == "critical").cloned().collect()
}

// ---------------------------------------------------------------------------------------------
// Browser
// ---------------------------------------------------------------------------------------------

/// A headless Chromium driven through its own chromedriver process.
///
/// Dropping it ends the WebDriver session, kills chromedriver (and, as a safety net, any
/// process still using this browser's private profile directory) and deletes the profile.
/// Prefer `browser.quit().await` at the end of a test; `Drop` covers panics.
pub(crate) struct Browser {
    client: Client,
    driver: Child,
    driver_port: u16,
    session_id: Option<String>,
    /// Private temp dir: `profile/` (Chromium --user-data-dir) and `chromedriver.log`; deleted
    /// when dropped.
    work_dir: tempfile::TempDir,
    timeout: Duration,
    closed: bool,
}

impl fmt::Debug for Browser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Browser")
            .field("driver_pid", &self.driver.id())
            .field("driver_port", &self.driver_port)
            .field("session_id", &self.session_id)
            .field("work_dir", &self.work_dir.path())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Browser {
    /// Start with [`BrowserConfig::from_env`].
    pub(crate) async fn start() -> Result<Browser> {
        Self::start_with(BrowserConfig::from_env()).await
    }

    pub(crate) async fn start_with(cfg: BrowserConfig) -> Result<Browser> {
        for (what, p) in [("chromedriver", &cfg.chromedriver), ("chromium", &cfg.chromium)] {
            if !is_executable(p) {
                return err(format!("{what} not found or not executable at {}: {INSTALL_HINT}", p.display()));
            }
        }

        // A unique directory (tempfile names it), deleted when `work_dir` is dropped.
        let work_dir = tempfile::Builder::new().prefix("railz-browser-").tempdir()?;
        let profile = work_dir.path().join("profile");
        std::fs::create_dir_all(&profile)?;
        let log_path = work_dir.path().join("chromedriver.log");

        // A free port can be taken between our probe and chromedriver's bind: retry then.
        let mut attempt = 0;
        let (driver, driver_port) = loop {
            attempt += 1;
            let port = free_port()?;
            let mut child = Command::new(&cfg.chromedriver)
                .arg(format!("--port={port}"))
                .arg(format!("--log-path={}", log_path.display()))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                // Own process group: Drop can kill chromedriver *and* the browser it launched.
                .process_group(0)
                .spawn()
                .map_err(|e| {
                    BrowserError(format!("cannot spawn {}: {e}; {INSTALL_HINT}", cfg.chromedriver.display()))
                })?;
            match wait_driver_ready(&mut child, port, cfg.timeout).await {
                Ok(()) => break (child, port),
                Err((exited, e)) => {
                    kill_group(&mut child);
                    // Exited early = most likely the port was taken meanwhile: retry.
                    if !exited || attempt >= 3 {
                        return err(format!("{e}\nchromedriver log:\n{}", log_tail(&log_path)));
                    }
                }
            }
        };

        let mut args = vec![
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            // A CI machine's /dev/shm may be small; Debian's wrapper script does not add this.
            "--disable-dev-shm-usage".into(),
            format!("--user-data-dir={}", profile.display()),
            format!("--window-size={},{}", cfg.window_size.0, cfg.window_size.1),
        ];
        args.extend(cfg.extra_args.iter().cloned());
        let timeout_ms = cfg.timeout.as_millis() as u64;
        let caps = json!({
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "timeouts": { "script": timeout_ms, "pageLoad": timeout_ms, "implicit": 0 },
            "goog:chromeOptions": {
                "binary": cfg.chromium.to_string_lossy(),
                "args": args,
            },
        });
        let caps: Capabilities = match caps {
            Value::Object(m) => m,
            _ => unreachable!(),
        };

        let url = format!("http://127.0.0.1:{driver_port}");
        let connected = ClientBuilder::new(HttpConnector::new()).capabilities(caps).connect(&url).await;
        let client = match connected {
            Ok(c) => c,
            Err(e) => {
                let mut driver = driver;
                kill_group(&mut driver);
                let tail = log_tail(&log_path);
                kill_by_marker(work_dir.path());
                return err(format!(
                    "could not start Chromium through chromedriver: {e}\n\
                     (chromedriver and chromium must have the same major version — Debian's \
                     `chromium` and `chromium-driver` packages always do; {INSTALL_HINT})\n\
                     chromedriver log:\n{tail}"
                ));
            }
        };
        let session_id = client.session_id().await.ok().flatten();

        Ok(Browser { client, driver, driver_port, session_id, work_dir, timeout: cfg.timeout, closed: false })
    }

    /// The underlying fantoccini client, for anything this harness does not wrap.
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// The failure deadline used by the `wait_*` helpers.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    pub(crate) fn set_timeout(&mut self, t: Duration) {
        self.timeout = t;
    }

    /// Graceful end: deletes the session (Chromium exits), then `Drop` reaps the rest.
    pub(crate) async fn quit(mut self) -> Result<()> {
        let r = self.client.clone().close().await;
        self.closed = true;
        r.map_err(Into::into)
    }

    // ---- polling -------------------------------------------------------------------------

    /// Poll `check` every [`POLL_INTERVAL`] until it yields `Some`. `Err` from `check` aborts,
    /// except errors listed as transient by `check` itself (it should map them to `Ok(None)`
    /// after recording them in `last`).
    pub(crate) async fn poll<T, F, Fut>(&self, what: &str, mut check: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Option<T>, Transient>>,
    {
        let deadline = Instant::now() + self.timeout;
        let mut last: Option<String> = None;
        loop {
            match check().await {
                Ok(Some(v)) => return Ok(v),
                Ok(None) => {}
                Err(Transient::Retry(why)) => last = Some(why),
                Err(Transient::Fatal(e)) => {
                    return err(format!("while waiting for {what}: {e}"));
                }
            }
            if Instant::now() >= deadline {
                let url = match self.client.current_url().await {
                    Ok(u) => u.to_string(),
                    Err(e) => format!("<unknown: {e}>"),
                };
                return err(format!(
                    "timed out after {:?} waiting for {what} (page {url}){}",
                    self.timeout,
                    last.map(|l| format!("; last error: {l}")).unwrap_or_default()
                ));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    // ---- navigation ----------------------------------------------------------------------

    /// Navigate and wait for the load event (WebDriver's `normal` page-load strategy).
    pub(crate) async fn goto(&self, url: &str) -> Result<()> {
        self.client.goto(url).await.map_err(|e| BrowserError(format!("goto {url}: {e}")))
    }

    pub(crate) async fn current_url(&self) -> Result<String> {
        Ok(self.client.current_url().await?.to_string())
    }

    // ---- elements ------------------------------------------------------------------------

    /// Wait until an element matching `css` exists and is displayed, and return it.
    pub(crate) async fn wait_visible(&self, css: &str) -> Result<Element> {
        let client = self.client.clone();
        self.poll(&format!("`{css}` to be visible"), || {
            let client = client.clone();
            async move {
                let el = client.find(Locator::Css(css)).await.map_err(transient)?;
                if el.is_displayed().await.map_err(transient)? {
                    Ok(Some(el))
                } else {
                    Err(Transient::Retry(format!("`{css}` present but not displayed")))
                }
            }
        })
        .await
    }

    /// Wait until no element matches `css` (or all matches are hidden).
    pub(crate) async fn wait_gone(&self, css: &str) -> Result<()> {
        let expr =
            format!("!Array.from(document.querySelectorAll({})).some(e => e.getClientRects().length > 0)", js_str(css));
        self.wait_for_js(&expr).await
    }

    /// Wait until the JavaScript expression `expr` is truthy in the current frame.
    /// JS exceptions while evaluating (e.g. a global not defined yet) count as "not yet".
    pub(crate) async fn wait_for_js(&self, expr: &str) -> Result<()> {
        let script = format!("return !!({expr});");
        let client = self.client.clone();
        self.poll(&format!("JS `{expr}` to be true"), || {
            let (client, script) = (client.clone(), script.clone());
            async move {
                match client.execute(&script, vec![]).await.map_err(transient)? {
                    Value::Bool(true) => Ok(Some(())),
                    _ => Ok(None),
                }
            }
        })
        .await
    }

    /// Run `script` (a function body: use `return`, read `arguments[i]`) in the current frame.
    pub(crate) async fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        self.client
            .execute(script, args)
            .await
            .map_err(|e| BrowserError(format!("execute script failed: {e}\nscript: {}", abbrev(script))))
    }

    /// Run an async `script`: its **last** argument is the completion callback
    /// (`arguments[arguments.length - 1](value)`), which is required — the call only returns
    /// when it is called (or the script timeout, = `timeout`, expires).
    pub(crate) async fn execute_async(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        self.client
            .execute_async(script, args)
            .await
            .map_err(|e| BrowserError(format!("async script failed: {e}\nscript: {}", abbrev(script))))
    }

    /// Wait for `css` to be visible, then click it (retrying while something covers it).
    pub(crate) async fn click(&self, css: &str) -> Result<()> {
        self.wait_visible(css).await?;
        let client = self.client.clone();
        self.poll(&format!("click on `{css}`"), || {
            let client = client.clone();
            async move {
                let el = client.find(Locator::Css(css)).await.map_err(transient)?;
                match el.click().await {
                    Ok(()) => Ok(Some(())),
                    // The click took: it navigated away while the driver waited on it.
                    Err(e) if e.to_string().contains("aborted by navigation") => Ok(Some(())),
                    Err(e) => Err(transient(e)),
                }
            }
        })
        .await
    }

    /// Wait for `css` to be visible, then type `text` into it (appends to its value).
    pub(crate) async fn type_into(&self, css: &str, text: &str) -> Result<()> {
        let el = self.wait_visible(css).await?;
        el.send_keys(text).await.map_err(|e| BrowserError(format!("typing into `{css}`: {e}")))
    }

    /// Press and release one key (`Key::Tab`, `Key::Enter`, `Key::Escape`, …) as real
    /// keyboard input to whatever has focus (WebDriver actions).
    pub(crate) async fn press_key(&self, key: Key) -> Result<()> {
        let ch: char = key.into();
        let seq = KeyActions::new("keyboard".to_string())
            .then(KeyAction::Down { value: ch })
            .then(KeyAction::Up { value: ch });
        self.client.perform_actions(seq).await?;
        self.client.release_actions().await?;
        Ok(())
    }

    /// Whether `document.activeElement` of the current frame matches `css`.
    pub(crate) async fn active_element_matches(&self, css: &str) -> Result<bool> {
        let v = self
            .execute("var a = document.activeElement; return !!a && a.matches(arguments[0]);", vec![json!(css)])
            .await?;
        Ok(v == Value::Bool(true))
    }

    /// Wait until the focused element of the current frame matches `css`.
    pub(crate) async fn wait_focus(&self, css: &str) -> Result<()> {
        let expr = format!("document.activeElement && document.activeElement.matches({})", js_str(css));
        self.wait_for_js(&expr).await
    }

    /// A short description of the focused element (`tag#id.class "text"`), for messages.
    pub(crate) async fn describe_active_element(&self) -> Result<String> {
        let v = self
            .execute(
                "var a = document.activeElement; if (!a) return '<none>';\
                 return a.tagName.toLowerCase() + (a.id ? '#' + a.id : '') +\
                 (a.className ? '.' + String(a.className).trim().split(/\\s+/).join('.') : '') +\
                 ' \"' + (a.innerText || a.value || '').slice(0, 40) + '\"';",
                vec![],
            )
            .await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    // ---- frames & windows ----------------------------------------------------------------

    /// Wait for the `<iframe>` matching `css` (in the current frame) and switch into it.
    /// Then wait for its document to have loaded, so `wait_*` inside behave.
    pub(crate) async fn switch_to_frame(&self, css: &str) -> Result<()> {
        let frame = self.wait_visible(css).await?;
        frame.enter_frame().await.map_err(|e| BrowserError(format!("entering frame `{css}`: {e}")))?;
        self.wait_for_js("document.readyState === 'complete'").await
    }

    /// Back to the parent browsing context of the current frame.
    pub(crate) async fn switch_to_parent(&self) -> Result<()> {
        Ok(self.client.enter_parent_frame().await?)
    }

    /// Back to the top-level document of the current window.
    pub(crate) async fn switch_to_top(&self) -> Result<()> {
        let w = self.client.window().await?;
        Ok(self.client.switch_to_window(w).await?)
    }

    /// Handles of all open top-level windows/tabs (order unspecified).
    pub(crate) async fn windows(&self) -> Result<Vec<WindowHandle>> {
        Ok(self.client.windows().await?)
    }

    /// Handle of the current window.
    pub(crate) async fn window(&self) -> Result<WindowHandle> {
        Ok(self.client.window().await?)
    }

    /// Wait until at least `n` windows exist, and return their handles.
    pub(crate) async fn wait_for_windows(&self, n: usize) -> Result<Vec<WindowHandle>> {
        let client = self.client.clone();
        self.poll(&format!("{n} window(s)"), || {
            let client = client.clone();
            async move {
                let w = client.windows().await.map_err(transient)?;
                Ok((w.len() >= n).then_some(w))
            }
        })
        .await
    }

    pub(crate) async fn switch_to_window(&self, handle: WindowHandle) -> Result<()> {
        Ok(self.client.switch_to_window(handle).await?)
    }

    /// Close the current window (switch to another one afterwards).
    pub(crate) async fn close_window(&self) -> Result<()> {
        Ok(self.client.close_window().await?)
    }

    // ---- viewport & screenshots ----------------------------------------------------------

    /// Make the layout viewport exactly `width`×`height` CSS px (`innerWidth`/`innerHeight`),
    /// compensating for whatever the window frame takes.
    pub(crate) async fn set_viewport(&self, width: u32, height: u32) -> Result<()> {
        let inner = async || -> Result<(i64, i64)> {
            let v = self.execute("return [window.innerWidth, window.innerHeight];", vec![]).await?;
            Ok((v[0].as_i64().unwrap_or(0), v[1].as_i64().unwrap_or(0)))
        };
        let (mut ww, mut wh) = (width as i64, height as i64);
        for _ in 0..3 {
            self.client.set_window_size(ww as u32, wh as u32).await?;
            let (iw, ih) = inner().await?;
            if (iw, ih) == (width as i64, height as i64) {
                return Ok(());
            }
            ww += width as i64 - iw;
            wh += height as i64 - ih;
        }
        let (iw, ih) = inner().await?;
        err(format!("set_viewport({width}, {height}) gave a {iw}x{ih} viewport"))
    }

    /// PNG of the current top-level viewport (even when switched into a frame), written to
    /// `path` (parent dirs created).
    pub(crate) async fn screenshot(&self, path: impl AsRef<Path>) -> Result<()> {
        let png = self.client.screenshot().await?;
        write_file(path.as_ref(), &png)
    }

    /// PNG of one element's box (works for elements inside the current frame, and for an
    /// `<iframe>` element itself).
    pub(crate) async fn element_screenshot(&self, css: &str, path: impl AsRef<Path>) -> Result<()> {
        let el = self.wait_visible(css).await?;
        let png = el.screenshot().await?;
        write_file(path.as_ref(), &png)
    }

    // ---- accessibility -------------------------------------------------------------------

    /// Inject axe-core (from `axe_js`, e.g. [`default_axe_path`]) into the current frame and
    /// return *all* its violations; filter with [`serious_or_critical`].
    ///
    /// Injection goes through WebDriver's Execute Script, which is not subject to the page's
    /// Content-Security-Policy, so it works on `script-src 'self'` pages.
    pub(crate) async fn run_axe(&self, axe_js: &Path) -> Result<Vec<Violation>> {
        self.run_axe_with(axe_js, json!({ "resultTypes": ["violations"] })).await
    }

    /// [`run_axe`](Self::run_axe) with explicit `axe.run` options (e.g. `{"runOnly": [...]}`).
    pub(crate) async fn run_axe_with(&self, axe_js: &Path, options: Value) -> Result<Vec<Violation>> {
        let loaded = self.execute("return !!(window.axe && typeof window.axe.run === 'function');", vec![]).await?;
        if loaded != Value::Bool(true) {
            let src = std::fs::read_to_string(axe_js).map_err(|e| {
                BrowserError(format!(
                    "cannot read axe-core at {}: {e}; install it with \
                     `npm install --prefix <dir> axe-core@4` and set {AXE_ENV}=<dir>/node_modules/axe-core/axe.min.js",
                    axe_js.display()
                ))
            })?;
            self.client
                .execute(&src, vec![])
                .await
                .map_err(|e| BrowserError(format!("injecting {}: {e}", axe_js.display())))?;
        }
        let out = self
            .execute_async(
                r#"
                const done = arguments[arguments.length - 1];
                window.axe.run(document, arguments[0]).then(function (r) {
                    done({ ok: r.violations.map(function (v) {
                        return {
                            id: v.id, impact: v.impact || '', help: v.help,
                            nodes: v.nodes.length,
                            targets: v.nodes.slice(0, 5).map(function (n) {
                                return [].concat(n.target).join(' >>> ');
                            }),
                        };
                    }) });
                }, function (e) { done({ err: String((e && e.stack) || e) }); });
                "#,
                vec![options],
            )
            .await?;
        if let Some(e) = out.get("err") {
            return err(format!("axe.run failed: {e}"));
        }
        let list = out
            .get("ok")
            .and_then(Value::as_array)
            .ok_or_else(|| BrowserError(format!("unexpected axe result: {}", abbrev(&out.to_string()))))?;
        Ok(list
            .iter()
            .map(|v| Violation {
                id: v["id"].as_str().unwrap_or_default().to_string(),
                impact: v["impact"].as_str().unwrap_or_default().to_string(),
                nodes_count: v["nodes"].as_u64().unwrap_or(0) as usize,
                help: v["help"].as_str().unwrap_or_default().to_string(),
                targets: v["targets"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|t| t.as_str().map(String::from)).collect())
                    .unwrap_or_default(),
            })
            .collect())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.closed {
            // Synchronous DELETE /session/{id}: Chromium shuts down cleanly. Works even while
            // unwinding from a failed assertion or after the tokio runtime is gone.
            if let Some(id) = &self.session_id {
                let _ = http_blocking(self.driver_port, "DELETE", &format!("/session/{id}"), Duration::from_secs(10));
            }
        }
        kill_group(&mut self.driver);
        // The directory itself goes with the `work_dir` field, after this.
        kill_by_marker(self.work_dir.path());
    }
}

// ---------------------------------------------------------------------------------------------
// Internals
// ---------------------------------------------------------------------------------------------

/// Outcome of one failed poll attempt.
#[derive(Debug)]
pub(crate) enum Transient {
    /// Try again (message kept for the timeout report).
    Retry(String),
    /// Give up now.
    Fatal(String),
}

/// Classify a WebDriver error during polling: "not there yet" kinds are retried.
fn transient(e: CmdError) -> Transient {
    // A page that navigates while a poll asks about it (a redirect chain through a provider
    // and back) aborts the command: the next poll asks the new page.
    let text = e.to_string();
    let navigating = text.contains("aborted by navigation")
        || text.contains("Execution context was destroyed")
        || text.contains("Cannot find context with specified id");
    let retry = navigating
        || e.is_no_such_element()
        || e.is_stale_element_reference()
        || e.is_javascript_error()
        || e.is_element_not_interactable()
        || e.is_no_such_frame()
        || matches!(&e, CmdError::Standard(w) if w.error == ErrorStatus::ElementClickIntercepted);
    if retry { Transient::Retry(text) } else { Transient::Fatal(text) }
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// Poll chromedriver's `GET /status` until it reports `"ready": true`.
/// `Err((exited_early, message))`.
async fn wait_driver_ready(child: &mut Child, port: u16, timeout: Duration) -> Result<(), (bool, String)> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                return Err((true, format!("chromedriver exited early ({status}) on port {port}")));
            }
            Ok(None) => {}
            Err(e) => return Err((false, format!("waiting for chromedriver: {e}"))),
        }
        if let Ok(body) = http_get_async(port, "/status").await
            && (body.contains("\"ready\":true") || body.contains("\"ready\": true"))
        {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err((
                false,
                format!("chromedriver did not answer GET /status on 127.0.0.1:{port} within {timeout:?}"),
            ));
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

async fn http_get_async(port: u16, path: &str) -> std::io::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n").as_bytes())
        .await?;
    // chromedriver keeps the connection open despite `Connection: close`: read by
    // Content-Length instead of to EOF.
    let read = async {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            if response_complete(&buf) {
                return Ok::<_, std::io::Error>(buf);
            }
            let n = s.read(&mut chunk).await?;
            if n == 0 {
                return Ok(buf);
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    };
    let buf: Vec<u8> = tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .map_err(|_| std::io::Error::other("status read timed out"))??;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

fn http_blocking(port: u16, method: &str, path: &str, timeout: Duration) -> std::io::Result<String> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = StdTcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    s.write_all(
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !response_complete(&buf) {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Whether `buf` holds a whole HTTP/1.1 response (headers + Content-Length bytes of body).
fn response_complete(buf: &[u8]) -> bool {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    let len = head.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse::<usize>().ok());
    match len {
        Some(len) => buf.len() >= end + 4 + len,
        None => false, // no length (e.g. chunked): read until EOF
    }
}

/// SIGKILL chromedriver's process group (chromedriver + the Chromium it launched), then reap.
fn kill_group(child: &mut Child) {
    if let Ok(None) = child.try_wait()
        && let Some(pgid) = Pid::from_raw(child.id() as i32)
    {
        // The group id is the pid of a child we spawned with process_group(0) and have not
        // reaped yet, so it cannot have been recycled.
        let _ = kill_process_group(pgid, Signal::KILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Safety net: SIGKILL any process whose command line mentions our private work dir (only
/// the Chromium processes of this `Browser` do: it is their `--user-data-dir`).
fn kill_by_marker(work_dir: &Path) {
    let marker = work_dir.to_string_lossy().into_owned();
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else { return };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
        if String::from_utf8_lossy(&cmdline).contains(&marker)
            && let Some(pid) = Pid::from_raw(pid as i32)
        {
            let _ = kill_process(pid, Signal::KILL);
        }
    }
}

fn log_tail(path: &Path) -> String {
    let s = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, bytes).map_err(|e| BrowserError(format!("writing {}: {e}", path.display())))
}

/// A JS string literal for `s`.
fn js_str(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

fn abbrev(s: &str) -> String {
    if s.len() <= 200 {
        s.to_string()
    } else {
        let mut end = 200;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}… ({} bytes)", &s[..end], s.len())
    }
}
