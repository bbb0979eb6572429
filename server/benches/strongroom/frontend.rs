//! What the browser loads: the first page and its assets as bytes on the
//! wire per encoding, and the time to interactive in headless Chromium.

use std::{
    path::Path,
    process::{Command, Stdio},
    time::Duration,
};

use serde_json::Value;

use crate::common::ApiSession;

pub(crate) struct FirstLoad {
    pub(crate) raw: u64,
    pub(crate) br: u64,
    pub(crate) gzip: u64,
    pub(crate) parts: Vec<(String, u64)>,
}

/// Downloads the first page after sign-in and everything it loads, as the
/// browser would, counting the bytes on the wire for each encoding. The
/// files are those headless Chromium fetched (`seen`); without them, those
/// the page names.
pub(crate) async fn first_load(s: &ApiSession, seen: Option<&[String]>) -> FirstLoad {
    let html = s.get_text("/").await;
    let mut assets: Vec<String> = seen.map(<[String]>::to_vec).unwrap_or_default();
    for attr in [
        "href=\"", "src=\"", "from '", "import('", "init('", "path: '",
    ]
    .into_iter()
    .filter(|_| seen.is_none())
    {
        for piece in html.split(attr).skip(1) {
            let end = piece.find(['"', '\'']).unwrap_or(0);
            let link = &piece[..end];
            if link.starts_with("/pkg/") && !assets.iter().any(|a| a == link) {
                assets.push(link.to_string());
            }
        }
    }
    // The JS glue names the wasm file; leptos preloads it too.
    assert!(
        assets.iter().any(|a| a.ends_with(".wasm")) && assets.iter().any(|a| a.ends_with(".js")),
        "the first page should load the wasm and its JS glue: {assets:?}"
    );
    let mut load = FirstLoad {
        raw: 0,
        br: 0,
        gzip: 0,
        parts: Vec::new(),
    };
    for (i, path) in std::iter::once("/".to_string()).chain(assets).enumerate() {
        let raw = wire_bytes(s, &path, "identity").await;
        let br = wire_bytes(s, &path, "br").await;
        let gz = wire_bytes(s, &path, "gzip").await;
        load.raw += raw;
        load.br += br;
        load.gzip += gz;
        let name = if i == 0 {
            "HTML".to_string()
        } else {
            match path.rsplit('.').next() {
                Some("wasm") => "wasm".to_string(),
                Some("js") => "JS".to_string(),
                Some("css") => "CSS".to_string(),
                _ => path.clone(),
            }
        };
        match load.parts.iter_mut().find(|(n, _)| *n == name) {
            Some((_, total)) => *total += br,
            None => load.parts.push((name, br)),
        }
    }
    load
}

/// Brotli bytes on the wire for these files.
pub(crate) async fn brotli_bytes(s: &ApiSession, files: &[String]) -> u64 {
    let mut total = 0;
    for f in files {
        total += wire_bytes(s, f, "br").await;
    }
    total
}

/// What headless Chromium measured: time to interactive (empty cache, warm
/// cache), the files of the first load, and each later route's extra files.
pub(crate) struct Browser {
    pub(crate) cold: Duration,
    pub(crate) warm: Duration,
    pub(crate) first: Vec<String>,
    pub(crate) later: Vec<(String, Vec<String>)>,
}

/// Bytes of the body as sent for `Accept-Encoding: encoding` (this client
/// does not decompress, so this is what crossed the wire).
async fn wire_bytes(s: &ApiSession, path: &str, encoding: &str) -> u64 {
    let r =
        s.c.get(format!("{}{path}", s.url))
            .header("accept-encoding", encoding)
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 200, "GET {path}");
    let sent = r
        .headers()
        .get("content-encoding")
        .map(|v| v.to_str().unwrap().to_string());
    if encoding != "identity" {
        assert_eq!(
            sent.as_deref(),
            Some(encoding),
            "{path} should be served {encoding}-compressed"
        );
    }
    r.bytes().await.unwrap().len() as u64
}

/// Time to interactive through Playwright (medians), and the downloads of
/// the first page and of each of `routes` reached from it.
pub(crate) fn tti(url: &str, runs: usize, routes: &[&str]) -> Result<Browser, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../end2end");
    let out = Command::new("node")
        .arg("bench/tti.mjs")
        .current_dir(&root)
        .env("STRONGROOM_E2E_URL", url)
        .env("STRONGROOM_TTI_RUNS", runs.to_string())
        .env("STRONGROOM_TTI_ROUTES", routes.join(","))
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run node: {e}"))?;
    if !out.status.success() {
        return Err("the Playwright script failed".into());
    }
    let v: Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    let get = |k: &str| {
        v[k].as_f64()
            .map(|ms| Duration::from_secs_f64(ms / 1000.0))
            .ok_or_else(|| format!("no {k} in the script's answer"))
    };
    let files = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|f| f.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    Ok(Browser {
        cold: get("cold_ms")?,
        warm: get("warm_ms")?,
        first: files(&v["first"]),
        later: routes
            .iter()
            .map(|r| (r.to_string(), files(&v["later"][*r])))
            .collect(),
    })
}
