//! The built site's static files: precompressed brotli and gzip variants
//! (written at build time by `strongroom-server precompress`), and caching
//! that matches the names — content-hashed files are `immutable` for a
//! year, anything else is revalidated.

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use axum::{
    Router,
    http::{HeaderValue, header},
};
use tower_http::{services::ServeDir, set_header::SetResponseHeaderLayer};

/// Extensions worth compressing; images and fonts are compressed already.
const COMPRESSIBLE: &[&str] = &["wasm", "js", "css", "svg", "json", "txt", "map"];

/// `/pkg/*` from `<site_root>/pkg`. With `hashed`, each name changes with
/// its content, so browsers may keep a file for a year without asking again,
/// and the precompressed variants cannot be stale (they carry the same
/// hash); without it (a development build) files are revalidated and served
/// as they are.
pub fn pkg_router<S: Clone + Send + Sync + 'static>(site_root: &Path, hashed: bool) -> Router<S> {
    let files = ServeDir::new(site_root.join("pkg"));
    let (files, cache) = if hashed {
        (
            files.precompressed_br().precompressed_gzip(),
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        )
    } else {
        (files, HeaderValue::from_static("no-cache"))
    };
    Router::new()
        .nest_service("/pkg", files)
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            move |response: &axum::response::Response| {
                response.status().is_success().then(|| cache.clone())
            },
        ))
}

/// Writes `<file>.br` (quality 11) and `<file>.gz` (level 9) beside every
/// compressible file under `dir`, replacing older ones. Returns the files
/// compressed with their sizes: (path, raw, brotli, gzip).
pub fn precompress(dir: &Path) -> std::io::Result<Vec<(PathBuf, u64, u64, u64)>> {
    let mut done = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let compressible = path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| COMPRESSIBLE.contains(&e));
            if !compressible {
                continue;
            }
            let raw = std::fs::read(&path)?;
            let br = brotli_bytes(&raw)?;
            let gz = gzip_bytes(&raw)?;
            std::fs::write(with_suffix(&path, "br"), &br)?;
            std::fs::write(with_suffix(&path, "gz"), &gz)?;
            done.push((path, raw.len() as u64, br.len() as u64, gz.len() as u64));
        }
    }
    done.sort();
    Ok(done)
}

/// Brotli at the highest quality, as served for `Accept-Encoding: br`.
pub fn brotli_bytes(raw: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 64 * 1024, 11, 22);
        w.write_all(raw)?;
        w.flush()?;
    }
    Ok(out)
}

fn gzip_bytes(raw: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    w.write_all(raw)?;
    w.finish()
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn precompressed_files_decompress_to_the_original() {
        let dir = std::env::temp_dir().join(format!("strongroom-assets-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(dir.join("pkg")).unwrap();
        let js = "export function hydrate() { return 42; }\n".repeat(200);
        std::fs::write(dir.join("pkg/app.abc.js"), &js).unwrap();
        std::fs::write(dir.join("pkg/logo.png"), [0x89, b'P', b'N', b'G']).unwrap();

        let done = precompress(&dir).unwrap();
        assert_eq!(done.len(), 1, "only the compressible file: {done:?}");
        let (_, raw, br, gz) = done[0].clone();
        assert_eq!(raw, js.len() as u64);
        assert!(br < raw && gz < raw);

        let mut back = String::new();
        brotli::Decompressor::new(
            &std::fs::read(dir.join("pkg/app.abc.js.br")).unwrap()[..],
            4096,
        )
        .read_to_string(&mut back)
        .unwrap();
        assert_eq!(back, js);
        let mut back = String::new();
        flate2::read::GzDecoder::new(&std::fs::read(dir.join("pkg/app.abc.js.gz")).unwrap()[..])
            .read_to_string(&mut back)
            .unwrap();
        assert_eq!(back, js);
        assert!(!dir.join("pkg/logo.png.br").exists());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
