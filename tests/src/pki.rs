//! Per-cluster certificates and keys: a serving CA and serving certificate for 127.0.0.1, a
//! client CA and the admin client certificate (CN=admin, O=system:masters), and the
//! service-account signing key.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};

use crate::Error;

/// PEM material of one cluster.
#[derive(Debug, Clone)]
pub(crate) struct ClusterPki {
    pub serving_ca: String,
    pub serving_cert: String,
    pub serving_key: String,
    pub client_ca: String,
    pub admin_cert: String,
    pub admin_key: String,
    pub sa_key: String,
    pub sa_pub: String,
}

fn ca(common_name: &str) -> Result<(CertificateParams, KeyPair, String), Error> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let pem = params.self_signed(&key)?.pem();
    Ok((params, key, pem))
}

impl ClusterPki {
    pub(crate) fn generate(cluster: &str) -> Result<Self, Error> {
        let (serving_params, serving_ca_key, serving_ca) =
            ca(&format!("meshglass-testbed {cluster} serving CA"))?;
        let serving_issuer = Issuer::from_params(&serving_params, &serving_ca_key);
        let serving_key = KeyPair::generate()?;
        let mut params = CertificateParams::new(vec![
            "localhost".to_string(),
            "kubernetes".to_string(),
            "kubernetes.default".to_string(),
            "kubernetes.default.svc".to_string(),
        ])?;
        params
            .subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        params
            .subject_alt_names
            .push(SanType::IpAddress([10, 0, 0, 1].into()));
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "kube-apiserver");
        params.distinguished_name = dn;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let serving_cert = params.signed_by(&serving_key, &serving_issuer)?.pem();

        let (client_params, client_ca_key, client_ca) =
            ca(&format!("meshglass-testbed {cluster} client CA"))?;
        let client_issuer = Issuer::from_params(&client_params, &client_ca_key);
        let admin_key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "admin");
        dn.push(DnType::OrganizationName, "system:masters");
        params.distinguished_name = dn;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let admin_cert = params.signed_by(&admin_key, &client_issuer)?.pem();

        let sa_key = KeyPair::generate()?;
        Ok(ClusterPki {
            serving_ca,
            serving_cert,
            serving_key: serving_key.serialize_pem(),
            client_ca,
            admin_cert,
            admin_key: admin_key.serialize_pem(),
            sa_key: sa_key.serialize_pem(),
            sa_pub: sa_key.public_key_pem(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_distinct_pem_material() {
        let a = ClusterPki::generate("east").unwrap();
        let b = ClusterPki::generate("west").unwrap();
        assert!(a.serving_ca.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(a.admin_key.contains("PRIVATE KEY"));
        assert_ne!(a.serving_ca, b.serving_ca);
        assert_ne!(a.sa_key, b.sa_key);
    }
}
