//! The Connect widget in a tiny demo app, for a person to click through.
//!
//! ```text
//! cargo run --example widget            # then open http://127.0.0.1:8080
//! cargo run --example widget -- --check # start, fetch each page once, stop (CI)
//! ```
//!
//! The app embeds the widget with the embed script; every service runs on this machine:
//! Railz Cloud Accounting (the sandbox) and an emulation of each provider. `RAILZ_WIDGET_ADDR`
//! changes the address (default `127.0.0.1:8080`); `RUST_LOG` the log level.

use std::net::SocketAddr;

use railz_connect_widget::demo::{DemoApp, DemoOptions, WIDGET_ID};

type AnyError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), AnyError> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let check = std::env::args().any(|a| a == "--check");
    let addr: SocketAddr = match std::env::var("RAILZ_WIDGET_ADDR") {
        Ok(a) => a.parse()?,
        Err(_) if check => "127.0.0.1:0".parse()?,
        Err(_) => "127.0.0.1:8080".parse()?,
    };
    let app = DemoApp::start(addr, DemoOptions::default()).await?;
    let url = app.url();
    println!("demo app:       {url}");
    println!("widget page:    {url}page");
    println!(
        "Sage Intacct:   company {}, user {}, password {}",
        app.intacct.1.company_id, app.intacct.1.user_id, app.intacct.1.password
    );
    if check {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::new();
        for path in ["", "app.js", "connect/embed.js", &format!("connect/w/{WIDGET_ID}")] {
            let response = http.get(url.join(path)?).send().await?;
            println!("GET /{path:<24} {}", response.status());
            if !response.status().is_success() {
                return Err(format!("GET /{path} answered {}", response.status()).into());
            }
        }
        app.shutdown().await;
        return Ok(());
    }
    println!("press Ctrl-C to stop");
    tokio::signal::ctrl_c().await?;
    app.shutdown().await;
    Ok(())
}
