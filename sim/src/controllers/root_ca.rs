//! The root CA publisher (pkg/controller/certificates/rootcacertpublisher): a ConfigMap
//! `kube-root-ca.crt` with the cluster's CA certificate under `ca.crt` in every active
//! namespace, put back if deleted or changed.
//!
//! The emulator serves plain HTTP, so no certificate chains to this CA: it is generated per
//! simulator (a self-signed `CN=kubernetes` CA, as kubeadm's) so that the ConfigMap holds a
//! well-formed CA bundle for programs that load it.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::runtime::controller::Action;

use super::{Context, SyncError, is_already_exists, is_not_found, post_params, resource_of};

pub const NAME: &str = "kube-root-ca.crt";
const DESCRIPTION_ANNOTATION: &str = "kubernetes.io/description";
const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

/// A self-signed CA certificate (PEM), `CN=kubernetes`.
pub fn generate_ca() -> Result<String, rcgen::Error> {
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "kubernetes");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let key = rcgen::KeyPair::generate()?;
    Ok(params.self_signed(&key)?.pem())
}

pub async fn run(context: Arc<Context>, ca: String) {
    let ca = Arc::new(ca);
    super::per_namespace::run(
        context,
        resource_of::<ConfigMap>(),
        NAME,
        move |namespace, context| sync(namespace, context, ca.clone()),
    )
    .await;
}

async fn sync(
    namespace: String,
    context: Arc<Context>,
    ca: Arc<String>,
) -> Result<Action, SyncError> {
    let maps: Api<ConfigMap> = Api::namespaced(context.client.clone(), &namespace);
    let data = BTreeMap::from([("ca.crt".to_string(), ca.to_string())]);
    let existing = maps
        .get_opt(NAME)
        .await
        .map_err(SyncError::api(format!("get ConfigMap {namespace}/{NAME}")))?;
    let Some(mut map) = existing else {
        let map = ConfigMap {
            metadata: ObjectMeta {
                name: Some(NAME.into()),
                namespace: Some(namespace.clone()),
                annotations: Some(BTreeMap::from([(
                    DESCRIPTION_ANNOTATION.to_string(),
                    DESCRIPTION.to_string(),
                )])),
                ..Default::default()
            },
            data: Some(data),
            ..Default::default()
        };
        return match maps.create(&post_params(), &map).await {
            // The namespace is gone, or a watch event will bring the one created meanwhile.
            Ok(_) => Ok(Action::await_change()),
            Err(error) if is_not_found(&error) || is_already_exists(&error) => {
                Ok(Action::await_change())
            }
            Err(error) => Err(SyncError::api(format!(
                "create ConfigMap {namespace}/{NAME}"
            ))(error)),
        };
    };
    let annotations = map.metadata.annotations.get_or_insert_with(BTreeMap::new);
    let described = annotations
        .get(DESCRIPTION_ANNOTATION)
        .is_some_and(|text| !text.is_empty());
    if map.data.as_ref() == Some(&data) && described {
        return Ok(Action::await_change());
    }
    annotations.insert(DESCRIPTION_ANNOTATION.into(), DESCRIPTION.into());
    map.data = Some(data);
    let params = PostParams {
        field_manager: Some(super::FIELD_MANAGER.into()),
        ..Default::default()
    };
    maps.replace(NAME, &params, &map)
        .await
        .map_err(SyncError::api(format!(
            "update ConfigMap {namespace}/{NAME}"
        )))?;
    Ok(Action::await_change())
}
