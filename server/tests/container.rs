//! The container image users get (the Dockerfile's runtime stage, built by
//! `scripts/lib.sh`'s `build_image`), run the way a pod runs it: with podman,
//! as its non-root user, a read-only root filesystem, every capability
//! dropped, `no-new-privileges`, its secrets mounted as files (`*_FILE`) and
//! the ServiceAccount's token where in-cluster configuration looks for it;
//! then signed in to through the real IdP, used, and its audit trail checked.
//! The Helm chart's own pod spec runs under `podman kube play`.
//!
//! `scripts/test` builds the image and runs these with `--ignored`
//! (`STRONGROOM_IMAGE`, `STRONGROOM_PODMAN_CONF`); without an image they fail.

mod common;

use std::{
    os::unix::fs::{MetadataExt, PermissionsExt},
    path::Path,
    time::{Duration, Instant},
};

use common::{
    ApiSession, Stack,
    podman::{
        PodFiles, UID, image, logs, podman, podman_ok, process_ids, ready, run_image,
        sign_in_create_list_reveal_audit, state, walk,
    },
};
use serde_json::{Value, json};

#[tokio::test]
#[ignore = "needs the image: scripts/test builds it and runs these with --ignored"]
async fn the_image_is_minimal_and_runs_as_a_pod_would() {
    let image = image();
    // The image's own configuration: non-root, the program as entry point.
    let config: Value = serde_json::from_str(&podman_ok(&[
        "image",
        "inspect",
        "--format",
        "{{json .Config}}",
        &image,
    ]))
    .unwrap();
    assert_eq!(config["User"], "65532:65532", "{config}");
    assert_eq!(config["Entrypoint"], json!(["/app/strongroom-server"]));
    let size: u64 = podman_ok(&["image", "inspect", "--format", "{{.Size}}", &image])
        .parse()
        .unwrap();
    println!(
        "image {image}: {:.1} MB ({size} bytes)",
        size as f64 / 1_000_000.0
    );
    // Nothing but the program, the libraries it loads and its files: no
    // shell, no package manager, no other executable.
    let mount = podman_ok(&["image", "mount", &image]);
    let root = Path::new(&mount);
    let mut files: Vec<String> = walk(root)
        .into_iter()
        .map(|p| p.strip_prefix(root).unwrap().display().to_string())
        .filter(|p| !p.starts_with("app/site/"))
        .collect();
    files.sort();
    let names: Vec<String> = std::fs::read_dir(root.join("app/site/pkg"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let owners: Vec<(String, u32)> = ["var", "var/lib", "var/lib/strongroom", "app"]
        .iter()
        .map(|d| {
            (
                d.to_string(),
                std::fs::metadata(root.join(d)).unwrap().uid(),
            )
        })
        .collect();
    podman(&["image", "unmount", &image]);
    assert_eq!(
        files,
        [
            "app/hash.txt",
            "app/strongroom-server",
            "lib/x86_64-linux-gnu/libc.so.6",
            "lib/x86_64-linux-gnu/libgcc_s.so.1",
            "lib/x86_64-linux-gnu/libm.so.6",
            "lib64/ld-linux-x86-64.so.2",
        ],
        "every file of the image outside the site"
    );
    assert_eq!(
        owners,
        [
            ("var".to_string(), 0),
            ("var/lib".to_string(), 0),
            ("var/lib/strongroom".to_string(), UID),
            ("app".to_string(), 0),
        ],
        "only the data directory belongs to the image's user"
    );
    let out = podman(&[
        "run",
        "--rm",
        "--entrypoint",
        "/bin/sh",
        &image,
        "-c",
        "true",
    ]);
    assert!(!out.status.success(), "the image has no shell");
    let wasm = names
        .iter()
        .find(|n| n.ends_with(".wasm"))
        .expect("the wasm bundle");
    assert!(names.contains(&format!("{wasm}.br")), "{names:?}");
    assert!(names.contains(&format!("{wasm}.gz")), "{names:?}");

    let files = PodFiles::new("plain");
    let port = common::test_port();
    let url = format!("http://127.0.0.1:{port}");
    let data = format!("{}:/var/lib/strongroom", files.path("data"));
    let started = Instant::now();
    let container = run_image("strongroom-plain", &files, port, &["-v", &data]);
    let created = started.elapsed();
    let until_ready = ready(&format!("{url}/readyz"), &container).await;
    println!(
        "start-up in the container: podman run took {:.0} ms, then /readyz answered after {:.0} ms",
        created.as_secs_f64() * 1000.0,
        until_ready.as_secs_f64() * 1000.0
    );
    let (uid, gid, caps, no_new_privs) = process_ids(&container.name);
    assert_eq!((uid.as_str(), gid.as_str()), ("65532", "65532"));
    assert_eq!(caps, "0000000000000000", "every capability dropped");
    assert_eq!(no_new_privs, "1", "no-new-privileges");
    // /metrics on its own port only.
    let r = reqwest::get(format!("http://127.0.0.1:{}/metrics", port + 1000))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("strongroom_http_request_duration_seconds")
    );
    let r = reqwest::get(format!("{url}/metrics")).await.unwrap();
    assert_eq!(r.status(), 404);
    let c = reqwest::Client::new();
    let r = c.get(format!("{url}/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // The site, precompressed, from inside the image.
    let r = c
        .get(format!("{url}/pkg/{wasm}"))
        .header("accept-encoding", "br")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-encoding"], "br");

    sign_in_create_list_reveal_audit(&url).await;
    // The SQLite database is on the mounted volume, owned by the image's
    // user: the only place it writes.
    let db = Path::new(&files.path("data")).join("strongroom.db");
    assert!(db.is_file(), "{} exists", db.display());
    assert_eq!(std::fs::metadata(&db).unwrap().uid(), UID);
    drop(container);
}

#[tokio::test]
#[ignore = "needs the image: scripts/test builds it and runs these with --ignored"]
async fn two_containers_share_one_postgres_over_tls_and_one_chain() {
    let stack = Stack::get();
    let files = PodFiles::new("pg");
    let url_file = files.dir.join("secrets/database-url");
    std::fs::write(&url_file, stack.var("POSTGRES_URL")).unwrap();
    std::fs::set_permissions(&url_file, std::fs::Permissions::from_mode(0o444)).unwrap();
    let db_ca = format!("{}:/etc/strongroom/db-ca:ro", files.path("db-ca"));
    let pg = [
        "-e",
        "STRONGROOM_DATABASE_URL_FILE=/etc/strongroom/secrets/database-url",
        "-e",
        "PGSSLMODE=verify-full",
        "-e",
        "PGSSLROOTCERT=/etc/strongroom/db-ca/ca.crt",
        "-e",
        "PGAPPNAME=strongroom-container-test",
        "-v",
        &db_ca,
    ];
    let (pa, pb) = (common::test_port(), common::test_port());
    let a = run_image("strongroom-pg-a", &files, pa, &pg);
    let b = run_image("strongroom-pg-b", &files, pb, &pg);
    let (ua, ub) = (
        format!("http://127.0.0.1:{pa}"),
        format!("http://127.0.0.1:{pb}"),
    );
    ready(&format!("{ua}/readyz"), &a).await;
    ready(&format!("{ub}/readyz"), &b).await;

    let name = sign_in_create_list_reveal_audit(&ua).await;
    let alice_b = ApiSession::new(&ub, "alice").await;
    let (status, _) = alice_b.reveal("team-a", &name, &["token"]).await;
    assert_eq!(status, 200);
    let dave = ApiSession::new(&ua, "dave").await;
    let (_, trail) = dave
        .get(&format!("/audit?secret={name}&action=reveal"))
        .await;
    assert_eq!(
        trail["items"].as_array().unwrap().len(),
        2,
        "both replicas' reveals in one trail: {trail}"
    );

    // Every connection the containers hold is encrypted.
    let db = strongroom_server::infra::db::Db::connect(&stack.var("POSTGRES_URL"))
        .await
        .unwrap();
    let strongroom_server::infra::db::Db::Postgres(pool) = &db else {
        unreachable!()
    };
    let (connections, encrypted): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE s.ssl) FROM pg_stat_activity a \
         JOIN pg_stat_ssl s USING (pid) WHERE a.application_name = 'strongroom-container-test'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert!(connections >= 2, "both containers connected: {connections}");
    assert_eq!(
        encrypted, connections,
        "verify-full: every connection is TLS"
    );
    drop(a);
    drop(b);

    // One chain: the image's own `audit verify`, on the same database.
    let out = podman(&[
        "run",
        "--rm",
        "--network",
        "host",
        "--read-only",
        "--cap-drop",
        "ALL",
        "-v",
        &format!("{}:/etc/strongroom/secrets:ro", files.path("secrets")),
        "-v",
        &db_ca,
        "-e",
        "STRONGROOM_DATABASE_URL_FILE=/etc/strongroom/secrets/database-url",
        "-e",
        "STRONGROOM_AUDIT_CHAIN_KEY_FILE=/etc/strongroom/secrets/audit-chain-key",
        "-e",
        "STRONGROOM_AUDIT_HMAC_KEY_FILE=/etc/strongroom/secrets/audit-hmac-key",
        "-e",
        "PGSSLMODE=verify-full",
        "-e",
        "PGSSLROOTCERT=/etc/strongroom/db-ca/ca.crt",
        &image(),
        "audit",
        "verify",
    ]);
    assert!(
        out.status.success(),
        "audit verify in the image: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // An untrusted CA: the container stops at start-up and says why.
    let other = files.dir.join("db-ca/ca.crt");
    std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::copy(stack.var("POSTGRES_OTHER_CA"), &other).unwrap();
    let pc = common::test_port();
    let c = run_image("strongroom-pg-untrusted", &files, pc, &pg);
    let start = Instant::now();
    loop {
        let state = state(&c.name);
        if state == "exited" {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "still {state}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let logs = logs(&c.name);
    assert!(logs.contains("cannot open the database"), "{logs}");
}
