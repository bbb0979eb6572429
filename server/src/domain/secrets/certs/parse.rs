//! Reading certificates out of a secret's values: pure functions, no I/O.
//!
//! Only `CERTIFICATE` PEM blocks are ever decoded. Any other block (a
//! private key kept beside a certificate, say) is counted and skipped
//! without decoding its body, and nothing read here is ever echoed: notes
//! name what was found, never what it held.

use std::{collections::BTreeMap, net::IpAddr};

use base64::Engine;
use chrono::{DateTime, Utc};
use k8s_openapi::ByteString;
use sha2::{Digest, Sha256};
use strongroom_app::api::certs::{CertStatus, CertificateInfo, CertificateKey};
use x509_parser::{certificate::X509Certificate, extensions::GeneralName};

use crate::domain::secrets::tls;

/// The `type` of TLS secrets.
pub const TLS_TYPE: &str = "kubernetes.io/tls";

/// Values larger than this are not read (a public CA bundle is about
/// 220 KiB; a Secret holds at most 1 MiB).
pub const MAX_VALUE_BYTES: usize = 512 * 1024;

/// The most certificates read from one key.
pub const MAX_CERTS_PER_KEY: usize = 500;

const PEM_CERTIFICATE: &str = "-----BEGIN CERTIFICATE-----";

/// Which keys of a secret are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selection {
    /// One secret's page: `tls.crt` of a TLS secret, keys whose value is a
    /// PEM certificate, and keys named like certificates (`*.crt`, `*.cer`,
    /// `*.cert`), so a broken one is reported rather than left out.
    Inspect,
    /// A namespace scan: `tls.crt` of a TLS secret and keys whose value is a
    /// PEM certificate; nothing else is parsed.
    Scan,
}

/// Whether `value` starts (after whitespace) with a PEM certificate.
pub fn looks_like_certificate(value: &[u8]) -> bool {
    value
        .trim_ascii_start()
        .starts_with(PEM_CERTIFICATE.as_bytes())
}

/// Whether a key's name says it holds a certificate (`ca.crt`, `server.cer`).
pub fn named_like_certificate(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [".crt", ".cer", ".cert"]
        .iter()
        .any(|ext| key.ends_with(ext))
}

/// Whether `key` of a secret of type `type_` is read under `selection`.
pub fn selected(selection: Selection, type_: &str, key: &str, value: &[u8]) -> bool {
    (type_ == TLS_TYPE && key == "tls.crt")
        || looks_like_certificate(value)
        || (selection == Selection::Inspect && named_like_certificate(key))
}

/// The warning window and the clock a report is computed against.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    pub now: DateTime<Utc>,
    /// Certificates expiring within this many days are `expiring-soon`.
    pub warning_days: u32,
}

/// The status and whole days left (rounded down) of a certificate valid
/// from `not_before` to `not_after` (Unix seconds).
pub fn status(not_before: i64, not_after: i64, clock: Clock) -> (CertStatus, i64) {
    let now = clock.now.timestamp();
    let days_left = (not_after - now).div_euclid(86_400);
    let status = if now > not_after {
        CertStatus::Expired
    } else if now < not_before {
        CertStatus::NotYetValid
    } else if not_after - now <= i64::from(clock.warning_days) * 86_400 {
        CertStatus::ExpiringSoon
    } else {
        CertStatus::Valid
    };
    (status, days_left)
}

/// The certificates of every selected key of a secret, in key order.
/// When inspecting `tls.crt` of a TLS secret, `key_matches` compares
/// `tls.key`.
pub fn certificates_of(
    selection: Selection,
    type_: &str,
    data: &BTreeMap<String, ByteString>,
    clock: Clock,
) -> Vec<CertificateKey> {
    data.iter()
        .filter(|(key, value)| selected(selection, type_, key, &value.0))
        .map(|(key, value)| {
            let mut report = read_key(key, &value.0, clock);
            // The scan needs dates only: it never reads a private key.
            if selection == Selection::Inspect && type_ == TLS_TYPE && key == "tls.crt" {
                let (matches, note) = key_match(&report, &value.0, data.get("tls.key"));
                report.key_matches = matches;
                if let Some(note) = note {
                    report.note = Some(match report.note.take() {
                        Some(n) => format!("{n}; {note}"),
                        None => note.to_string(),
                    });
                }
            }
            report
        })
        .collect()
}

/// Whether `tls.key` belongs to the first certificate of `tls.crt`, and a
/// note when that cannot be said.
fn key_match(
    report: &CertificateKey,
    crt: &[u8],
    key: Option<&ByteString>,
) -> (Option<bool>, Option<&'static str>) {
    let Some(key) = key.filter(|k| !k.0.is_empty()) else {
        return (None, None);
    };
    if report.certificates.is_empty() {
        return (None, None);
    }
    if key.0.len() > MAX_VALUE_BYTES {
        return (None, Some("tls.key is too large to compare"));
    }
    let Some(Ok(first)) = certificate_blocks(crt).certificates.into_iter().next() else {
        return (None, None);
    };
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(&first) else {
        return (None, None);
    };
    match tls::public_key_of(&key.0) {
        Ok(public) => (Some(public == cert.tbs_certificate.subject_pki.raw), None),
        Err(_) => (
            None,
            Some("tls.key is not a PEM RSA, EC or Ed25519 private key, so it was not compared"),
        ),
    }
}

/// Reads the certificates of one key's value. Never fails: what cannot be
/// read becomes the key's `note`.
pub fn read_key(key: &str, value: &[u8], clock: Clock) -> CertificateKey {
    let mut report = CertificateKey {
        key: key.to_string(),
        certificates: Vec::new(),
        key_matches: None,
        note: None,
    };
    if value.len() > MAX_VALUE_BYTES {
        report.note = Some(format!(
            "too large to inspect ({} KiB; the limit is {} KiB)",
            value.len() / 1024,
            MAX_VALUE_BYTES / 1024
        ));
        return report;
    }
    if value.trim_ascii().is_empty() {
        report.note = Some("empty: no certificate".into());
        return report;
    }
    let blocks = certificate_blocks(value);
    let mut notes = Vec::new();
    let mut unreadable = 0;
    let mut ders: Vec<Vec<u8>> = Vec::new();
    for block in blocks.certificates {
        match block {
            Ok(der) => ders.push(der),
            Err(()) => unreadable += 1,
        }
    }
    // A DER certificate under a certificate's name (`ca.crt` as binary).
    if ders.is_empty() && unreadable == 0 && blocks.others == 0 && value.first() == Some(&0x30) {
        ders.push(value.to_vec());
    }
    if ders.is_empty() && unreadable == 0 {
        report.note = Some(if blocks.others > 0 {
            "not a certificate: it holds other PEM blocks (not read)".into()
        } else {
            "not a certificate: no PEM certificate found".into()
        });
        return report;
    }
    if blocks.beyond > 0 {
        notes.push(format!(
            "only the first {MAX_CERTS_PER_KEY} of {} certificates are shown",
            MAX_CERTS_PER_KEY + blocks.beyond
        ));
    }
    for (position, der) in ders.iter().enumerate() {
        match x509_parser::parse_x509_certificate(der) {
            Ok((_, cert)) => report
                .certificates
                .push(describe(position, der, &cert, clock)),
            Err(_) => unreadable += 1,
        }
    }
    if unreadable > 0 {
        notes.push(format!(
            "{unreadable} PEM certificate block{} could not be read as X.509",
            if unreadable == 1 { "" } else { "s" }
        ));
    }
    if blocks.others > 0 {
        notes.push(format!(
            "{} other PEM block{} (not certificates) skipped, not read",
            blocks.others,
            if blocks.others == 1 { "" } else { "s" }
        ));
    }
    if !notes.is_empty() {
        report.note = Some(notes.join("; "));
    }
    report
}

/// The public facts of one certificate.
fn describe(
    position: usize,
    der: &[u8],
    cert: &X509Certificate<'_>,
    clock: Clock,
) -> CertificateInfo {
    let validity = cert.validity();
    let (not_before, not_after) = (
        validity.not_before.timestamp(),
        validity.not_after.timestamp(),
    );
    let (status, days_left) = status(not_before, not_after, clock);
    let mut info = CertificateInfo {
        position,
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        serial: serial_hex(cert.raw_serial()),
        dns_names: Vec::new(),
        ip_addresses: Vec::new(),
        emails: Vec::new(),
        uris: Vec::new(),
        not_before: rfc3339(not_before),
        not_after: rfc3339(not_after),
        days_left,
        status,
        is_ca: cert.is_ca(),
        self_signed: cert.subject().as_raw() == cert.issuer().as_raw(),
        sha256_fingerprint: fingerprint(der),
    };
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(n) => info.dns_names.push((*n).to_string()),
                GeneralName::RFC822Name(e) => info.emails.push((*e).to_string()),
                GeneralName::URI(u) => info.uris.push((*u).to_string()),
                GeneralName::IPAddress(bytes) => info.ip_addresses.push(ip(bytes)),
                _ => {}
            }
        }
    }
    info
}

/// The serial as `openssl x509 -serial` prints it: upper-case hex of the
/// integer's bytes, without DER's leading sign byte.
pub fn serial_hex(raw: &[u8]) -> String {
    let mut bytes = raw;
    while bytes.len() > 1 && bytes[0] == 0 {
        bytes = &bytes[1..];
    }
    hex::encode_upper(bytes)
}

/// SHA-256 of the DER bytes as `AB:CD:…`.
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn ip(bytes: &[u8]) -> String {
    match bytes.len() {
        4 => IpAddr::from(<[u8; 4]>::try_from(bytes).expect("4 bytes")).to_string(),
        16 => IpAddr::from(<[u8; 16]>::try_from(bytes).expect("16 bytes")).to_string(),
        // Name constraints carry address and mask; a SAN should not.
        _ => hex::encode(bytes),
    }
}

fn rfc3339(secs: i64) -> String {
    DateTime::<Utc>::from_timestamp(secs, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// A value's PEM blocks: the DER of each `CERTIFICATE` block (`Err` for one
/// whose body is not base64 or that never ends), how many certificate
/// blocks came after the first [`MAX_CERTS_PER_KEY`], and how many other
/// blocks there were (neither is decoded).
struct Blocks {
    certificates: Vec<Result<Vec<u8>, ()>>,
    beyond: usize,
    others: usize,
}

fn certificate_blocks(value: &[u8]) -> Blocks {
    let mut blocks = Blocks {
        certificates: Vec::new(),
        beyond: 0,
        others: 0,
    };
    // Not UTF-8: not PEM (a DER value, or garbage).
    let Ok(text) = std::str::from_utf8(value) else {
        return blocks;
    };
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        else {
            continue;
        };
        let end = format!("-----END {label}-----");
        if label != "CERTIFICATE" {
            // Skipped to its end, body unread.
            blocks.others += 1;
            for l in lines.by_ref() {
                if l == end {
                    break;
                }
            }
            continue;
        }
        if blocks.certificates.len() >= MAX_CERTS_PER_KEY {
            // Counted, not decoded: the report says how many there were.
            blocks.beyond += 1;
            for l in lines.by_ref() {
                if l == end {
                    break;
                }
            }
            continue;
        }
        let mut body = String::new();
        let mut ended = false;
        for l in lines.by_ref() {
            if l == end {
                ended = true;
                break;
            }
            body.push_str(l);
        }
        let der = base64::engine::general_purpose::STANDARD
            .decode(body.as_bytes())
            .ok()
            .filter(|d| ended && !d.is_empty());
        blocks.certificates.push(der.ok_or(()));
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    const CA: &str = include_str!("testdata/ca.pem");
    const LEAF: &str = include_str!("testdata/leaf.pem");
    const LEAF_KEY: &str = include_str!("testdata/leaf.key");
    const OTHER_KEY: &str = include_str!("testdata/other.key");

    /// The leaf's not-after, read independently of the code under test.
    fn leaf_not_after() -> DateTime<Utc> {
        let der = rustls::pki_types::CertificateDer::from_pem_slice(LEAF.as_bytes()).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        DateTime::from_timestamp(cert.validity().not_after.timestamp(), 0).unwrap()
    }

    use rustls::pki_types::pem::PemObject;

    fn clock_at(now: DateTime<Utc>) -> Clock {
        Clock {
            now,
            warning_days: 30,
        }
    }

    fn data(pairs: &[(&str, &[u8])]) -> BTreeMap<String, ByteString> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), ByteString(v.to_vec())))
            .collect()
    }

    #[test]
    fn a_leaf_shows_its_names_serial_dates_and_fingerprint() {
        let clock = clock_at(leaf_not_after() - chrono::Duration::days(200));
        let report = read_key("tls.crt", LEAF.as_bytes(), clock);
        assert_eq!(report.note, None);
        let [cert] = &report.certificates[..] else {
            panic!("one certificate: {report:?}");
        };
        assert_eq!(cert.position, 0);
        assert_eq!(cert.subject, "O=Strongroom Test, CN=app.example.com");
        assert_eq!(cert.issuer, "O=Strongroom Test, CN=Test Root CA");
        // DER holds 00 C0 FF EE 42; openssl prints C0FFEE42.
        assert_eq!(cert.serial, "C0FFEE42");
        assert_eq!(cert.dns_names, ["app.example.com", "www.example.com"]);
        assert_eq!(cert.ip_addresses, ["10.0.0.1", "2001:db8::1"]);
        assert_eq!(cert.emails, ["ops@example.com"]);
        assert_eq!(cert.uris, ["spiffe://example.com/app"]);
        assert!(!cert.is_ca && !cert.self_signed);
        assert_eq!(cert.status, CertStatus::Valid);
        assert_eq!(cert.days_left, 200);
        assert_eq!(cert.not_after, rfc3339(leaf_not_after().timestamp()));
        assert_eq!(cert.sha256_fingerprint.len(), 32 * 3 - 1);
        assert!(
            cert.sha256_fingerprint
                .chars()
                .all(|c| c == ':' || c.is_ascii_hexdigit() && !c.is_ascii_lowercase())
        );
    }

    #[test]
    fn the_status_follows_the_clock_and_the_window() {
        let end = leaf_not_after();
        for (now, status, days) in [
            (end - chrono::Duration::days(31), CertStatus::Valid, 31),
            (
                end - chrono::Duration::days(10),
                CertStatus::ExpiringSoon,
                10,
            ),
            (
                end - chrono::Duration::hours(1),
                CertStatus::ExpiringSoon,
                0,
            ),
            (end + chrono::Duration::days(1), CertStatus::Expired, -1),
            (
                end - chrono::Duration::days(400),
                CertStatus::NotYetValid,
                400,
            ),
        ] {
            let report = read_key("tls.crt", LEAF.as_bytes(), clock_at(now));
            let cert = &report.certificates[0];
            assert_eq!((cert.status, cert.days_left), (status, days), "at {now}");
        }
        let wide = Clock {
            now: end - chrono::Duration::days(31),
            warning_days: 60,
        };
        assert_eq!(
            read_key("tls.crt", LEAF.as_bytes(), wide).certificates[0].status,
            CertStatus::ExpiringSoon
        );
    }

    #[test]
    fn a_chain_or_bundle_shows_each_certificate_in_order() {
        let chain = format!("{LEAF}\n{CA}");
        let clock = clock_at(leaf_not_after() - chrono::Duration::days(100));
        let report = read_key("tls.crt", chain.as_bytes(), clock);
        assert_eq!(report.note, None);
        let positions: Vec<_> = report
            .certificates
            .iter()
            .map(|c| (c.position, c.subject.as_str(), c.is_ca, c.self_signed))
            .collect();
        assert_eq!(
            positions,
            [
                (0, "O=Strongroom Test, CN=app.example.com", false, false),
                (1, "O=Strongroom Test, CN=Test Root CA", true, true),
            ]
        );
        // CRLF line ends and leading blank lines read the same.
        let crlf = format!("\r\n\n{}", chain.replace('\n', "\r\n"));
        assert_eq!(
            read_key("ca.crt", crlf.as_bytes(), clock)
                .certificates
                .len(),
            2
        );
    }

    #[test]
    fn garbage_and_non_pem_values_get_a_note_never_their_content() {
        let clock = clock_at(Utc::now());
        for value in [
            &b"hunter2-not-a-cert"[..],
            b"\xff\xfe\x00binary",
            b"-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n",
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            b"-----BEGIN CERTIFICATE-----\nMIIB\n",
        ] {
            let report = read_key("ca.crt", value, clock);
            assert!(report.certificates.is_empty(), "{value:?}");
            let note = report.note.expect("a note");
            assert!(!note.contains("hunter2") && !note.contains("AAAA") && !note.contains("MIIB"));
        }
        assert_eq!(
            read_key("ca.crt", b"  \n", clock).note.as_deref(),
            Some("empty: no certificate")
        );
        // One readable certificate and one broken block: both said.
        let mixed = format!("{LEAF}-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n");
        let report = read_key("tls.crt", mixed.as_bytes(), clock);
        assert_eq!(report.certificates.len(), 1);
        assert_eq!(
            report.note.as_deref(),
            Some("1 PEM certificate block could not be read as X.509")
        );
    }

    #[test]
    fn private_keys_are_skipped_unread_and_never_selected_on_their_own() {
        let clock = clock_at(Utc::now());
        // A key of an Opaque secret that holds a private key is not read.
        assert!(!selected(
            Selection::Inspect,
            "Opaque",
            "key.pem",
            LEAF_KEY.as_bytes()
        ));
        assert!(!selected(
            Selection::Scan,
            "Opaque",
            "server.key",
            LEAF_KEY.as_bytes()
        ));
        // Under a certificate's name it is reported as not a certificate.
        let report = read_key("ca.crt", LEAF_KEY.as_bytes(), clock);
        assert!(report.certificates.is_empty());
        assert_eq!(
            report.note.as_deref(),
            Some("not a certificate: it holds other PEM blocks (not read)")
        );
        // Beside a certificate: the certificate is read, the key skipped.
        let combined = format!("{LEAF}{LEAF_KEY}");
        let report = read_key("bundle.pem", combined.as_bytes(), clock);
        assert_eq!(report.certificates.len(), 1);
        assert_eq!(
            report.note.as_deref(),
            Some("1 other PEM block (not certificates) skipped, not read")
        );
        let json = serde_json::to_string(&report).unwrap();
        let body = LEAF_KEY.lines().nth(1).unwrap();
        assert!(!json.contains(body) && !json.contains("PRIVATE KEY"));
    }

    #[test]
    fn an_oversize_value_is_not_read() {
        let mut big = LEAF.repeat(MAX_VALUE_BYTES / LEAF.len() + 1).into_bytes();
        big.truncate(MAX_VALUE_BYTES + 1);
        let report = read_key("ca.crt", &big, clock_at(Utc::now()));
        assert!(report.certificates.is_empty());
        assert_eq!(
            report.note.as_deref(),
            Some("too large to inspect (512 KiB; the limit is 512 KiB)")
        );
    }

    #[test]
    fn a_huge_bundle_is_cut_and_says_so() {
        let bundle = CA.repeat(MAX_CERTS_PER_KEY + 3);
        let report = read_key("ca.crt", bundle.as_bytes(), clock_at(Utc::now()));
        assert_eq!(report.certificates.len(), MAX_CERTS_PER_KEY);
        assert!(
            report
                .note
                .as_deref()
                .unwrap()
                .starts_with(&format!("only the first {MAX_CERTS_PER_KEY} of "))
        );
    }

    #[test]
    fn a_der_certificate_under_a_certificates_name_is_read() {
        let der = rustls::pki_types::CertificateDer::from_pem_slice(CA.as_bytes()).unwrap();
        let report = read_key("ca.crt", &der, clock_at(Utc::now()));
        assert_eq!(report.certificates.len(), 1);
        assert!(report.certificates[0].is_ca);
    }

    #[test]
    fn the_tls_key_is_compared_with_the_first_certificate() {
        let clock = clock_at(Utc::now());
        let chain = format!("{LEAF}{CA}");
        let check = |crt: &str, key: Option<&[u8]>| {
            let mut pairs: Vec<(&str, &[u8])> = vec![("tls.crt", crt.as_bytes())];
            if let Some(k) = key {
                pairs.push(("tls.key", k));
            }
            let reports = certificates_of(Selection::Inspect, TLS_TYPE, &data(&pairs), clock);
            assert_eq!(reports.len(), 1, "tls.key is never a certificate key");
            (reports[0].key_matches, reports[0].note.clone())
        };
        assert_eq!(check(&chain, Some(LEAF_KEY.as_bytes())), (Some(true), None));
        assert_eq!(
            check(&chain, Some(OTHER_KEY.as_bytes())),
            (Some(false), None)
        );
        assert_eq!(check(&chain, None), (None, None));
        assert_eq!(check(&chain, Some(b"")), (None, None));
        let (matches, note) = check(&chain, Some(b"junk"));
        assert_eq!(matches, None);
        assert!(note.unwrap().contains("not compared"));
        // A CA bundle in an Opaque secret has no key to compare.
        let reports = certificates_of(
            Selection::Inspect,
            "Opaque",
            &data(&[("ca.crt", chain.as_bytes()), ("password", b"hunter2")]),
            clock,
        );
        assert_eq!(reports.len(), 1);
        assert_eq!(reports[0].key, "ca.crt");
        assert_eq!(reports[0].key_matches, None);
        assert_eq!(reports[0].certificates.len(), 2);
    }

    #[test]
    fn the_scan_parses_only_tls_certificates_and_pem_certificate_values() {
        let tls = data(&[
            ("tls.crt", b"garbage"),
            ("tls.key", LEAF_KEY.as_bytes()),
            ("ca.crt", b"not pem"),
        ]);
        let keys = |selection, type_: &str, d: &BTreeMap<String, ByteString>| {
            certificates_of(selection, type_, d, clock_at(Utc::now()))
                .into_iter()
                .map(|r| r.key)
                .collect::<Vec<_>>()
        };
        assert_eq!(keys(Selection::Scan, TLS_TYPE, &tls), ["tls.crt"]);
        let chain = data(&[
            ("tls.crt", LEAF.as_bytes()),
            ("tls.key", LEAF_KEY.as_bytes()),
        ]);
        let scanned = certificates_of(Selection::Scan, TLS_TYPE, &chain, clock_at(Utc::now()));
        assert_eq!(
            scanned[0].key_matches, None,
            "the scan leaves tls.key alone"
        );
        assert_eq!(
            keys(Selection::Inspect, TLS_TYPE, &tls),
            ["ca.crt", "tls.crt"]
        );
        let opaque = data(&[("bundle", format!("  \n{CA}").as_bytes()), ("other", b"x")]);
        assert_eq!(keys(Selection::Scan, "Opaque", &opaque), ["bundle"]);
    }

    #[test]
    fn serials_and_fingerprints_are_written_like_openssl() {
        assert_eq!(serial_hex(&[0x00, 0x80, 0x01]), "8001");
        assert_eq!(serial_hex(&[0x00]), "00");
        assert_eq!(serial_hex(&[0x0a]), "0A");
        assert_eq!(
            &fingerprint(b"")[..8],
            "E3:B0:C4",
            "SHA-256 of nothing starts e3b0c4"
        );
    }
}
