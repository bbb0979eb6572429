//! Exporting a secret as a SOPS-encrypted Kubernetes manifest for age
//! recipients (what KSOPS and Flux decrypt): pure functions, no I/O.
//!
//! The format is SOPS 3's YAML store: every leaf under a key matching
//! `encrypted_regex` (`^(data|stringData)$`) becomes
//! `ENC[AES256_GCM,data:…,iv:…,tag:…,type:str]`, encrypted with a fresh
//! 32-byte data key, a 32-byte random IV and the leaf's path
//! (`data:password:`) as additional data; the data key is encrypted to each
//! age recipient (ASCII-armored); the MAC is SHA-512 over every leaf's
//! plaintext in document order, hex in capitals, encrypted with the data
//! key and `lastmodified` as additional data. Metadata stays readable, so
//! a review shows what changed without showing values.

use std::{collections::BTreeMap, io::Write};

use aes_gcm::{
    AesGcm, KeyInit,
    aead::{Aead, Payload, consts::U32},
    aes::Aes256,
};
use base64::Engine;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha512};

use super::{
    GitopsError, SecretParts,
    yaml::{self, Node},
};

/// The keys whose values are encrypted; the rest of the manifest stays
/// readable.
pub const ENCRYPTED_REGEX: &str = "^(data|stringData)$";

/// The SOPS format version written (the one the tests decrypt with).
pub const SOPS_VERSION: &str = "3.13.3";

/// The most recipients one export names.
pub const MAX_RECIPIENTS: usize = 16;

type Cipher = AesGcm<Aes256, U32>;

/// Parses age recipients (`age1…`), each on its own; refuses the first
/// invalid one, naming its position.
pub fn recipients(list: &[String]) -> Result<Vec<age::x25519::Recipient>, GitopsError> {
    if list.is_empty() {
        return Err(GitopsError::invalid(
            "recipients",
            "name at least one age recipient (age1…), the public key whose identity decrypts the file",
        ));
    }
    if list.len() > MAX_RECIPIENTS {
        return Err(GitopsError::invalid(
            "recipients",
            format!("name at most {MAX_RECIPIENTS} age recipients"),
        ));
    }
    list.iter()
        .enumerate()
        .map(|(i, r)| {
            let r = r.trim();
            r.parse::<age::x25519::Recipient>().map_err(|_| {
                let shown: String = r.chars().take(80).collect();
                GitopsError::invalid(
                    format!("recipients.{i}"),
                    format!(
                        "{shown:?} is not an age recipient; an age public key starts with age1 (age-keygen -y prints it)"
                    ),
                )
            })
        })
        .collect()
}

fn map<'a>(entries: impl IntoIterator<Item = (&'a str, Node)>) -> Node {
    Node::Map(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

/// The plain manifest, in the order kubectl writes it.
fn manifest(m: &SecretParts<'_>) -> Node {
    let strings = |b: &BTreeMap<String, String>| {
        Node::Map(b.iter().map(|(k, v)| (k.clone(), Node::str(v))).collect())
    };
    let mut metadata = vec![
        ("name", Node::str(m.name)),
        ("namespace", Node::str(m.namespace)),
    ];
    if !m.labels.is_empty() {
        metadata.push(("labels", strings(m.labels)));
    }
    if !m.annotations.is_empty() {
        metadata.push(("annotations", strings(m.annotations)));
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut top = vec![
        ("apiVersion", Node::str("v1")),
        ("kind", Node::str("Secret")),
        ("metadata", map(metadata)),
        ("type", Node::str(m.type_)),
    ];
    if m.immutable {
        top.push(("immutable", Node::Bool(true)));
    }
    top.push((
        "data",
        Node::Map(
            m.data
                .iter()
                .map(|(k, v)| (k.clone(), Node::str(b64.encode(v))))
                .collect(),
        ),
    ));
    map(top)
}

/// Encrypts one leaf as SOPS does (empty strings stay empty).
fn encrypt_leaf(key: &[u8; 32], plaintext: &[u8], kind: &str, path: &str) -> String {
    if plaintext.is_empty() {
        return String::new();
    }
    let mut iv = [0u8; 32];
    rand::fill(&mut iv);
    let cipher = Cipher::new(key.into());
    let sealed = cipher
        .encrypt(
            (&iv).into(),
            Payload {
                msg: plaintext,
                aad: path.as_bytes(),
            },
        )
        .expect("AES-GCM encryption of a bounded value cannot fail");
    let (body, tag) = sealed.split_at(sealed.len() - 16);
    let b64 = base64::engine::general_purpose::STANDARD;
    format!(
        "ENC[AES256_GCM,data:{},iv:{},tag:{},type:{kind}]",
        b64.encode(body),
        b64.encode(iv),
        b64.encode(tag)
    )
}

/// The bytes SOPS hashes (and encrypts) for a leaf, and its type name.
fn leaf_bytes(v: &Node) -> Option<(Vec<u8>, &'static str)> {
    match v {
        Node::Str(s) => Some((s.as_bytes().to_vec(), "str")),
        Node::Bool(true) => Some((b"True".to_vec(), "bool")),
        Node::Bool(false) => Some((b"False".to_vec(), "bool")),
        _ => None,
    }
}

/// Walks `v` in document order: hashes every leaf into `mac`, and encrypts
/// the leaves on a path with a key named `data` or `stringData`.
fn walk(v: &mut Node, path: &mut Vec<String>, key: &[u8; 32], mac: &mut Sha512) {
    match v {
        Node::Map(m) => {
            for (k, child) in m.iter_mut() {
                path.push(k.clone());
                walk(child, path, key, mac);
                path.pop();
            }
        }
        Node::List(items) => {
            for child in items {
                walk(child, path, key, mac);
            }
        }
        leaf => {
            let Some((bytes, kind)) = leaf_bytes(leaf) else {
                return;
            };
            mac.update(&bytes);
            if path.iter().any(|p| p == "data" || p == "stringData") {
                let at = path.join(":") + ":";
                *leaf = Node::Str(encrypt_leaf(key, &bytes, kind, &at));
            }
        }
    }
}

/// The SOPS-encrypted YAML of `m` for `recipients`, stamped `now`.
pub fn encrypt(
    m: &SecretParts<'_>,
    recipients: &[age::x25519::Recipient],
    now: DateTime<Utc>,
) -> Result<String, GitopsError> {
    let mut data_key = [0u8; 32];
    rand::fill(&mut data_key);
    let mut doc = manifest(m);
    let mut mac = Sha512::new();
    walk(&mut doc, &mut Vec::new(), &data_key, &mut mac);
    let mac: String = mac.finalize().iter().map(|b| format!("{b:02X}")).collect();
    let last_modified = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let age_keys = recipients
        .iter()
        .map(|r| {
            Ok(map([
                ("recipient", Node::str(r.to_string())),
                ("enc", Node::str(wrap_data_key(r, &data_key)?)),
            ]))
        })
        .collect::<Result<Vec<_>, GitopsError>>()?;
    let sops = map([
        ("age", Node::List(age_keys)),
        ("lastmodified", Node::str(&last_modified)),
        (
            "mac",
            Node::str(encrypt_leaf(
                &data_key,
                mac.as_bytes(),
                "str",
                &last_modified,
            )),
        ),
        ("encrypted_regex", Node::str(ENCRYPTED_REGEX)),
        ("version", Node::str(SOPS_VERSION)),
    ]);
    let Node::Map(top) = &mut doc else {
        unreachable!("the manifest is a mapping")
    };
    top.push(("sops".to_string(), sops));
    Ok(yaml::to_string(&doc))
}

/// The data key encrypted to one recipient, ASCII-armored, as SOPS keeps it.
fn wrap_data_key(r: &age::x25519::Recipient, data_key: &[u8; 32]) -> Result<String, GitopsError> {
    let failed = |e: &dyn std::fmt::Display| GitopsError::Internal(format!("age: {e}"));
    let encryptor = age::Encryptor::with_recipients(std::iter::once(r as &dyn age::Recipient))
        .map_err(|e| failed(&e))?;
    let mut out = Vec::new();
    let armor = age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor)
        .map_err(|e| failed(&e))?;
    let mut w = encryptor.wrap_output(armor).map_err(|e| failed(&e))?;
    w.write_all(data_key).map_err(|e| failed(&e))?;
    w.finish()
        .and_then(|armor| armor.finish())
        .map_err(|e| failed(&e))?;
    String::from_utf8(out).map_err(|e| failed(&e))
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-30T12:00:00Z")
            .unwrap()
            .to_utc()
    }

    #[test]
    fn values_are_encrypted_metadata_stays_readable_and_the_data_key_opens_with_the_identity() {
        let identity = age::x25519::Identity::generate();
        let recipient = identity.to_public();
        let data = BTreeMap::from([
            ("password".to_string(), b"hunter2".to_vec()),
            ("empty".to_string(), Vec::new()),
        ]);
        let labels = BTreeMap::from([("app".to_string(), "true".to_string())]);
        let yaml = encrypt(
            &SecretParts {
                namespace: "team-a",
                name: "db",
                type_: "Opaque",
                data: &data,
                labels: &labels,
                annotations: &BTreeMap::new(),
                immutable: false,
            },
            std::slice::from_ref(&recipient),
            now(),
        )
        .unwrap();
        assert!(!yaml.contains("aHVudGVyMg=="), "{yaml}");
        // A label value that reads as a boolean stays a string.
        assert!(yaml.contains("name: \"db\""), "{yaml}");
        // A label value that reads as a boolean stays a string.
        assert!(yaml.contains("app: \"true\""), "{yaml}");
        assert!(yaml.contains("password: \"ENC[AES256_GCM,data:"), "{yaml}");
        let doc: serde_json::Value = serde_norway::from_str(&yaml).unwrap();
        assert_eq!(doc["data"]["empty"], "");
        let enc = doc["sops"]["age"][0]["enc"].as_str().unwrap();
        let decryptor =
            age::Decryptor::new(age::armor::ArmoredReader::new(enc.as_bytes())).unwrap();
        let mut key = Vec::new();
        decryptor
            .decrypt(std::iter::once(&identity as &dyn age::Identity))
            .unwrap()
            .read_to_end(&mut key)
            .unwrap();
        assert_eq!(key.len(), 32);
        assert_eq!(doc["sops"]["lastmodified"], "2026-11-30T12:00:00Z");
    }

    #[test]
    fn an_invalid_recipient_is_named_by_position() {
        let good = age::x25519::Identity::generate().to_public().to_string();
        let err = recipients(&[good, "ssh-rsa AAAA".into()]).unwrap_err();
        let GitopsError::Invalid { field, .. } = err else {
            panic!()
        };
        assert_eq!(field.as_deref(), Some("recipients.1"));
        assert!(recipients(&[]).is_err());
    }
}
