//! Name search in a namespace too large to read in one answer: each answer
//! reads for a bounded time, says how far it read, and `continue` reads on
//! until the name is found, with nothing skipped or repeated.

mod common;

use std::collections::BTreeSet;

use common::{ApiSession, Stack, TestServer, b64, kubectl, urlencode};
use futures::{StreamExt, stream};
use serde_json::{Value, json};

const NS: &str = "search-scale";

/// Tests that count the namespace's secrets, and the one that changes
/// them, take turns.
static COUNTED: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
const SECRETS: usize = 4_500;

/// `search-scale` with 4,500 secrets `row-0000`…`row-4499` that alice's
/// group may list (created once; later runs find them).
async fn seed() {
    let _ = kubectl(&["create", "namespace", NS]);
    let _ = kubectl(&[
        "create",
        "rolebinding",
        "search-listers",
        "-n",
        NS,
        "--clusterrole=secret-editor",
        "--group=oidc:team-a-editors",
    ]);
    let out = kubectl(&["get", "secrets", "-n", NS, "--no-headers", "-o", "name"]);
    if String::from_utf8_lossy(&out.stdout).lines().count() >= SECRETS {
        return;
    }
    let stack = Stack::get();
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(stack.var("ADMIN_KUBECONFIG")).unwrap(),
        &Default::default(),
    )
    .await
    .unwrap();
    let admin = kube::Client::try_from(config).unwrap();
    let api: kube::Api<k8s_openapi::api::core::v1::Secret> = kube::Api::namespaced(admin, NS);
    stream::iter(0..SECRETS)
        .for_each_concurrent(32, |i| {
            let api = api.clone();
            async move {
                let s = serde_json::from_value(json!({
                    "metadata": {"name": format!("row-{i:04}")},
                    "data": {"k": b64(b"v")}
                }))
                .unwrap();
                // 409 on a rerun that was interrupted: already there.
                let _ = api.create(&Default::default(), &s).await;
            }
        })
        .await;
}

async fn search(s: &ApiSession, name: &str, limit: usize, token: Option<&str>) -> Value {
    let mut path = format!("/namespaces/{NS}/secrets?name={name}&limit={limit}");
    if let Some(t) = token {
        path.push_str(&format!("&continue={}", urlencode(t)));
    }
    let (status, page) = s.get(&path).await;
    assert_eq!(status, 200, "{page}");
    page
}

fn names(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_search_reads_on_until_it_finds_a_name_at_the_end_and_says_how_far_it_read() {
    seed().await;
    let _turn = COUNTED.lock().await;
    // A budget this short makes every answer read exactly one page of
    // 2,000: the last name is in the third answer.
    let server = TestServer::start(&["--search-budget", "1ms"]).await;
    let alice = ApiSession::new(&server.url, "alice").await;

    let first = search(&alice, "row-4499", 100, None).await;
    assert_eq!(names(&first), Vec::<String>::new());
    assert_eq!(first["searched"], json!({"read": 2000, "remaining": 2500}));
    let second = search(&alice, "row-4499", 100, first["continue"].as_str()).await;
    assert_eq!(names(&second), Vec::<String>::new());
    assert_eq!(second["searched"], json!({"read": 2000, "remaining": 500}));
    let third = search(&alice, "row-4499", 100, second["continue"].as_str()).await;
    assert_eq!(names(&third), ["row-4499"]);
    assert_eq!(third["searched"], json!({"read": 500, "remaining": 0}));
    assert!(third.get("continue").is_none(), "{third}");

    // With the default budget the same search reads the whole namespace in
    // one answer and finds it.
    let server = TestServer::start(&[]).await;
    let alice = ApiSession::new(&server.url, "alice").await;
    let page = search(&alice, "row-4499", 100, None).await;
    assert_eq!(names(&page), ["row-4499"]);
    assert_eq!(page["searched"]["read"], json!(SECRETS));
    // A plain list says nothing about searching.
    let (_, plain) = alice
        .get(&format!("/namespaces/{NS}/secrets?limit=5"))
        .await;
    assert!(plain.get("searched").is_none(), "{plain}");
}

#[tokio::test]
async fn a_full_page_stops_inside_the_api_servers_page_and_the_next_answer_resumes_there() {
    seed().await;
    let server = TestServer::start(&[]).await;
    let alice = ApiSession::new(&server.url, "alice").await;

    // "row-1" matches row-1000…row-1999: 1,000 names, read 70 at a time.
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut answers = 0;
    loop {
        let page = search(&alice, "row-1", 70, token.as_deref()).await;
        let got = names(&page);
        assert!(
            got.len() <= 70,
            "a page holds at most its limit: {}",
            got.len()
        );
        seen.extend(got);
        answers += 1;
        match page["continue"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
        assert!(answers < 40, "the search does not end");
    }
    let expected: Vec<String> = (1000..2000).map(|i| format!("row-{i}")).collect();
    assert_eq!(seen.len(), 1000, "no name twice and none lost");
    assert_eq!(seen, expected);
    assert_eq!(
        seen.iter().collect::<BTreeSet<_>>().len(),
        1000,
        "every name once"
    );
}

#[tokio::test]
async fn a_search_resumes_after_the_last_name_even_when_secrets_come_and_go() {
    seed().await;
    let _turn = COUNTED.lock().await;
    let server = TestServer::start(&[]).await;
    let alice = ApiSession::new(&server.url, "alice").await;
    let page = search(&alice, "row-00", 5, None).await;
    assert_eq!(
        names(&page),
        ["row-0000", "row-0001", "row-0002", "row-0003", "row-0004"]
    );
    // Secrets created before, and deleted from, what was answered.
    let _ = kubectl(&[
        "create",
        "secret",
        "generic",
        "row-0000a",
        "-n",
        NS,
        "--from-literal=k=v",
    ]);
    let _ = kubectl(&["delete", "secret", "row-0001", "-n", NS]);
    let next = search(&alice, "row-00", 5, page["continue"].as_str()).await;
    let _ = kubectl(&["delete", "secret", "row-0000a", "-n", NS]);
    let _ = kubectl(&[
        "create",
        "secret",
        "generic",
        "row-0001",
        "-n",
        NS,
        "--from-literal=k=v",
    ]);
    assert_eq!(
        names(&next),
        ["row-0005", "row-0006", "row-0007", "row-0008", "row-0009"],
        "nothing repeated, nothing skipped"
    );
}

#[tokio::test]
async fn a_forged_or_misused_search_token_is_a_clear_error() {
    seed().await;
    let server = TestServer::start(&[]).await;
    let alice = ApiSession::new(&server.url, "alice").await;
    let page = search(&alice, "row-", 10, None).await;
    let token = page["continue"].as_str().unwrap().to_string();
    // The last name answered, and the API server's token of the first page.
    assert_eq!(token, "strongroom-search.v2:row-0009:");

    // The same token without the name it belongs to.
    let (status, body) = alice
        .get(&format!(
            "/namespaces/{NS}/secrets?limit=10&continue={}",
            urlencode(&token)
        ))
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("pass the same name"), "{body}");
    for forged in [
        "strongroom-search.v2:",
        "strongroom-search.v2::",
        "strongroom-search.v2:Row-1:",
        "strongroom-search.v2:row_1:",
        "strongroom-search.v2:row 1:",
        "strongroom-search.v2:row-1",
    ] {
        let (status, body) = alice
            .get(&format!(
                "/namespaces/{NS}/secrets?name=row&limit=10&continue={}",
                urlencode(forged)
            ))
            .await;
        assert_eq!(status, 422, "{forged}: {body}");
        assert!(
            body.to_string().contains("not one Strongroom gave"),
            "{body}"
        );
    }
}
