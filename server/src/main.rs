//! The `strongroom-server` binary.

use anyhow::Context;
use clap::Parser;
use strongroom_server::{
    AppState,
    config::{AuditCommand, Cli, Command},
    web::router,
};
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let filter =
        EnvFilter::try_from_env("STRONGROOM_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    if cli.serve.log_format == "json" {
        registry
            .with(fmt::layer().json().flatten_event(true))
            .init();
    } else {
        registry.with(fmt::layer()).init();
    }
    // Before the runtime starts its threads: the allocator's settings may
    // only change while this is the process's only thread.
    strongroom_server::infra::memory::tune_allocator();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(cli.serve).await,
            Command::Audit(AuditCommand::Verify {
                unkeyed_until,
                anchor,
            }) => verify(cli.serve, unkeyed_until, anchor).await,
            Command::Precompress { dir } => precompress(dir.or(cli.serve.site_root)),
        }
    })
}

/// `strongroom-server precompress`: brotli and gzip copies of the site's
/// files, served by `/pkg` in place of compressing on every request.
fn precompress(dir: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    let dir = dir.unwrap_or_else(|| "target/site".into());
    let done = strongroom_server::web::precompress(&dir)
        .with_context(|| format!("cannot precompress {}", dir.display()))?;
    for (path, raw, br, gz) in done {
        println!("{raw:>9} raw {br:>9} br {gz:>9} gz  {}", path.display());
    }
    Ok(())
}

async fn serve(config: strongroom_server::config::ServeArgs) -> anyhow::Result<()> {
    let listen = config.listen;
    tracing::info!(?config, "starting");
    let state = AppState::build(config).await.context("start-up failed")?;
    strongroom_server::domain::audit::spawn_retention(
        state.audit.clone(),
        state.config.audit_retention,
    );
    strongroom_server::domain::audit::spawn_anchors(
        state.audit.clone(),
        state.config.audit_anchor_every,
    );
    strongroom_server::infra::memory::spawn_idle_trim();
    let app = router(state.clone());
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    // /metrics on a listener of its own, when configured; it lives as long
    // as the process.
    let _metrics = strongroom_server::web::metrics::start_listener(state.config.metrics_listen)
        .await
        .context("cannot listen for /metrics (STRONGROOM_METRICS_LISTEN)")?;
    tracing::info!(address = %listen, database = state.db.kind(), "listening");
    strongroom_server::web::serve(listener, app, shutdown()).await;
    Ok(())
}

/// `strongroom-server audit verify`: checks the hash chain of the audit
/// trail in the configured database; exits non-zero at the first broken link.
async fn verify(
    config: strongroom_server::config::ServeArgs,
    unkeyed_until: i64,
    anchor: Vec<String>,
) -> anyhow::Result<()> {
    let store = strongroom_server::app::audit_store_for_verify(&config)
        .await
        .context("cannot open the audit trail")?;
    let anchors = anchor
        .iter()
        .map(|a| {
            a.split_once(':')
                .and_then(|(s, l)| Some((s.parse::<i64>().ok()?, l.to_string())))
                .context("--anchor takes SEQ:LINK")
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if let Err(problem) = store
        .check_anchors(&anchors)
        .await
        .context("cannot read the audit trail")?
    {
        eprintln!("audit chain does not hold the anchor: {problem}");
        std::process::exit(1);
    }
    match store
        .verify(unkeyed_until)
        .await
        .context("cannot read the audit trail")?
    {
        Ok(n) => {
            println!("audit chain intact: {n} records verified");
            Ok(())
        }
        Err(broken) => {
            eprintln!("{broken}");
            std::process::exit(1);
        }
    }
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
