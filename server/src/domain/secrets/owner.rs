//! What manages a secret, from its metadata alone (pure): the
//! ownerReference a controller sets (SealedSecret, ExternalSecret, any
//! other controller), Helm's release label and annotations, cert-manager's
//! annotation, a service-account token's annotation.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use strongroom_app::api::gitops::{OwnerKind, SecretOwner};

/// What manages a secret with this metadata and type, when something does.
/// An owner that is the controller wins over labels.
pub fn owner_of(
    owners: &[OwnerReference],
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
    type_: &str,
) -> Option<SecretOwner> {
    let object = |kind: OwnerKind, o: &OwnerReference| SecretOwner {
        kind,
        name: o.name.clone(),
        api_version: Some(o.api_version.clone()),
        object_kind: Some(o.kind.clone()),
    };
    let group = |o: &OwnerReference| o.api_version.split('/').next().unwrap_or("").to_string();
    // Only the controller reference manages the secret; any other owner
    // reference is for garbage collection (and anyone who may patch the
    // secret can add one).
    for o in owners.iter().filter(|o| o.controller == Some(true)) {
        match (group(o).as_str(), o.kind.as_str()) {
            ("bitnami.com", "SealedSecret") => return Some(object(OwnerKind::SealedSecret, o)),
            ("external-secrets.io", "ExternalSecret") => {
                return Some(object(OwnerKind::ExternalSecret, o));
            }
            _ => {}
        }
    }
    if let Some(o) = owners.iter().find(|o| o.controller == Some(true)) {
        return Some(object(OwnerKind::Controller, o));
    }
    let named = |kind: OwnerKind, name: &String| SecretOwner {
        kind,
        name: name.clone(),
        api_version: None,
        object_kind: None,
    };
    if labels
        .get("app.kubernetes.io/managed-by")
        .map(String::as_str)
        == Some("Helm")
        && let Some(release) = annotations.get("meta.helm.sh/release-name")
    {
        return Some(named(OwnerKind::HelmRelease, release));
    }
    if let Some(cert) = annotations.get("cert-manager.io/certificate-name") {
        return Some(named(OwnerKind::CertManager, cert));
    }
    if type_ == "kubernetes.io/service-account-token"
        && let Some(sa) = annotations.get("kubernetes.io/service-account.name")
    {
        return Some(named(OwnerKind::ServiceAccount, sa));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(api_version: &str, kind: &str, controller: bool) -> OwnerReference {
        OwnerReference {
            api_version: api_version.into(),
            kind: kind.into(),
            name: "src".into(),
            uid: "u".into(),
            controller: Some(controller),
            block_owner_deletion: None,
        }
    }

    #[test]
    fn each_kind_of_manager_is_recognised_and_a_plain_secret_has_none() {
        let none = BTreeMap::new();
        let of = |o: &[OwnerReference],
                  l: &BTreeMap<String, String>,
                  a: &BTreeMap<String, String>,
                  t: &str| { owner_of(o, l, a, t).map(|o| (o.kind, o.name)) };
        assert_eq!(
            of(
                &[reference("bitnami.com/v1alpha1", "SealedSecret", true)],
                &none,
                &none,
                "Opaque"
            ),
            Some((OwnerKind::SealedSecret, "src".into()))
        );
        assert_eq!(
            of(
                &[reference(
                    "external-secrets.io/v1beta1",
                    "ExternalSecret",
                    true
                )],
                &none,
                &none,
                "Opaque"
            ),
            Some((OwnerKind::ExternalSecret, "src".into()))
        );
        assert_eq!(
            of(
                &[reference("example.com/v1", "Thing", true)],
                &none,
                &none,
                "Opaque"
            ),
            Some((OwnerKind::Controller, "src".into()))
        );
        // An owner that is not the controller (garbage collection only) manages nothing.
        assert_eq!(
            of(
                &[reference("v1", "ConfigMap", false)],
                &none,
                &none,
                "Opaque"
            ),
            None
        );
        let helm_labels = BTreeMap::from([(
            "app.kubernetes.io/managed-by".to_string(),
            "Helm".to_string(),
        )]);
        let helm_annotations =
            BTreeMap::from([("meta.helm.sh/release-name".to_string(), "web".to_string())]);
        assert_eq!(
            of(&[], &helm_labels, &helm_annotations, "Opaque"),
            Some((OwnerKind::HelmRelease, "web".into()))
        );
        assert_eq!(of(&[], &helm_labels, &none, "Opaque"), None);
        let sa = BTreeMap::from([(
            "kubernetes.io/service-account.name".to_string(),
            "default".to_string(),
        )]);
        assert_eq!(
            of(&[], &none, &sa, "kubernetes.io/service-account-token"),
            Some((OwnerKind::ServiceAccount, "default".into()))
        );
        assert_eq!(of(&[], &none, &none, "Opaque"), None);
    }
}
