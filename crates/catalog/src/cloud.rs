//! Catalogs on object stores: `s3://bucket/prefix`, `gs://bucket/prefix`,
//! `az://container/prefix` (also `abfs://`, `abfss://`).
//!
//! Credentials come from each provider's standard chain through the `object_store` builders'
//! `from_env`: environment variables, web identity, container or instance role (IMDS). For
//! S3, keys of the shared profile files (`AWS_PROFILE`, `~/.aws/credentials`,
//! `~/.aws/config`) are used when the environment holds none ([`ProfileCredentials`]). No
//! credential is ever logged or shown: the options hold none, and errors name the location.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey, AwsCredential};
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::prefix::PrefixStore;
use object_store::{ClientOptions, CredentialProvider, ObjectStore, RetryConfig};

use crate::error::{CatalogError, Result};
use crate::options::StorageOptions;

/// The schemes of object-store locations.
pub(crate) const CLOUD_SCHEMES: &[&str] = &["s3", "s3a", "gs", "az", "abfs", "abfss"];

/// A parsed object-store location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CloudLocation {
    /// `s3`, `gs`, `az`, ….
    pub scheme: String,
    /// Bucket or container.
    pub bucket: String,
    /// Path under the bucket, without leading or trailing `/` (may be empty).
    pub prefix: String,
}

impl CloudLocation {
    /// Parses `<scheme>://<bucket>[/<prefix>]`; `Ok(None)` for schemes that are not object
    /// stores.
    pub fn parse(location: &str) -> Result<Option<CloudLocation>> {
        let Some((scheme, rest)) = location.split_once("://") else {
            return Ok(None);
        };
        let scheme = scheme.to_ascii_lowercase();
        if !CLOUD_SCHEMES.contains(&scheme.as_str()) {
            return Ok(None);
        }
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let invalid = |reason: String| CatalogError::InvalidLocation {
            location: location.to_string(),
            reason,
        };
        if bucket.is_empty() {
            return Err(invalid(format!(
                "the bucket is missing; use {scheme}://BUCKET/PREFIX"
            )));
        }
        if bucket.contains('@') && !scheme.starts_with("abfs") {
            return Err(invalid(format!(
                "'{bucket}' is not a bucket name; use {scheme}://BUCKET/PREFIX"
            )));
        }
        let prefix = prefix.trim_matches('/');
        if prefix.split('/').any(|part| part == "." || part == "..") {
            return Err(invalid(
                "'.' and '..' are not allowed in an object-store prefix".into(),
            ));
        }
        Ok(Some(CloudLocation {
            scheme,
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        }))
    }

    /// Builds the store, rooted at the prefix.
    pub fn build(&self, location: &str, options: &StorageOptions) -> Result<Arc<dyn ObjectStore>> {
        let invalid = |reason: String| CatalogError::InvalidLocation {
            location: location.to_string(),
            reason,
        };
        let url = format!("{}://{}", self.scheme, self.bucket);
        let client = client_options(options)?;
        let retry = retry_config(options);
        let store: Arc<dyn ObjectStore> = match self.scheme.as_str() {
            "s3" | "s3a" => {
                let mut builder = AmazonS3Builder::from_env().with_url(&url).with_retry(retry);
                if let Some(endpoint) = &options.endpoint {
                    builder = builder.with_endpoint(endpoint);
                }
                // An `http://` endpoint from the environment (`AWS_ENDPOINT_URL`) allows http
                // as one from the options does.
                let http_endpoint = builder
                    .get_config_value(&AmazonS3ConfigKey::Endpoint)
                    .is_some_and(|e| e.starts_with("http://"));
                builder = builder.with_client_options(if http_endpoint {
                    client.with_allow_http(true)
                } else {
                    client
                });
                if let Some(region) = &options.region {
                    builder = builder.with_region(region);
                }
                if let Some(key) = &options.access_key {
                    builder = builder
                        .with_access_key_id(&key.id)
                        .with_secret_access_key(&key.secret);
                } else if builder
                    .get_config_value(&AmazonS3ConfigKey::AccessKeyId)
                    .is_none()
                    && std::env::var_os("AWS_WEB_IDENTITY_TOKEN_FILE").is_none()
                    && let Some(profile) = ProfileCredentials::from_env()
                {
                    if options.region.is_none()
                        && builder
                            .get_config_value(&AmazonS3ConfigKey::Region)
                            .is_none()
                        && let Some(region) = profile.region()
                    {
                        builder = builder.with_region(region);
                    }
                    if profile.has_keys() {
                        builder = builder.with_credentials(Arc::new(profile));
                    }
                }
                Arc::new(builder.build().map_err(|e| invalid(one_line(&e)))?)
            }
            "gs" => {
                let builder = GoogleCloudStorageBuilder::from_env()
                    .with_url(&url)
                    .with_client_options(client)
                    .with_retry(retry);
                Arc::new(builder.build().map_err(|e| invalid(one_line(&e)))?)
            }
            _ => {
                let builder = MicrosoftAzureBuilder::from_env()
                    .with_url(&url)
                    .with_client_options(client)
                    .with_retry(retry);
                Arc::new(builder.build().map_err(|e| invalid(one_line(&e)))?)
            }
        };
        Ok(if self.prefix.is_empty() {
            store
        } else {
            Arc::new(PrefixStore::new(store, self.prefix.as_str()))
        })
    }
}

/// A builder error on one line.
fn one_line(e: &object_store::Error) -> String {
    e.to_string().replace('\n', " ")
}

fn client_options(options: &StorageOptions) -> Result<ClientOptions> {
    install_crypto_provider();
    let http = options.allow_http
        || options
            .endpoint
            .as_deref()
            .is_some_and(|e| e.starts_with("http://"));
    let mut client = ClientOptions::new()
        .with_connect_timeout(Duration::from_secs(5))
        .with_timeout(Duration::from_secs(60));
    if http {
        client = client.with_allow_http(true);
    }
    Ok(client)
}

/// Retries of one request: bounded well under a lease, so a store that is down surfaces as an
/// error (rows wait in the spool) instead of hanging a writer.
fn retry_config(options: &StorageOptions) -> RetryConfig {
    let lease = options.lease_length();
    RetryConfig {
        max_retries: 4,
        retry_timeout: (lease / 4).clamp(Duration::from_secs(1), Duration::from_secs(20)),
        ..RetryConfig::default()
    }
}

/// rustls needs a process-wide crypto provider; ring is the one this workspace uses.
fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Keys of an AWS shared-credentials profile: `AWS_PROFILE` (else `default`) in
/// `AWS_SHARED_CREDENTIALS_FILE` (else `~/.aws/credentials`), falling back to the profile's
/// section of `AWS_CONFIG_FILE` (else `~/.aws/config`), which also gives the region.
pub struct ProfileCredentials {
    profile: String,
    credential: Option<Arc<AwsCredential>>,
    region: Option<String>,
}

impl std::fmt::Debug for ProfileCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the keys.
        f.debug_struct("ProfileCredentials")
            .field("profile", &self.profile)
            .field("has_keys", &self.credential.is_some())
            .field("region", &self.region)
            .finish()
    }
}

impl ProfileCredentials {
    /// The profile the environment names, read from the shared files; `None` when neither
    /// file has it.
    pub fn from_env() -> Option<ProfileCredentials> {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let file = |var: &str, default: &str| {
            std::env::var_os(var)
                .map(PathBuf::from)
                .or_else(|| home.as_ref().map(|h| h.join(".aws").join(default)))
        };
        let profile = std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".into());
        let credentials = file("AWS_SHARED_CREDENTIALS_FILE", "credentials")
            .and_then(|p| std::fs::read_to_string(p).ok());
        let config =
            file("AWS_CONFIG_FILE", "config").and_then(|p| std::fs::read_to_string(p).ok());
        ProfileCredentials::from_files(&profile, credentials.as_deref(), config.as_deref())
    }

    /// The profile `profile` from the texts of the credentials and config files.
    pub fn from_files(
        profile: &str,
        credentials: Option<&str>,
        config: Option<&str>,
    ) -> Option<ProfileCredentials> {
        let section = |text: Option<&str>, names: &[String]| {
            let ini = ini::Ini::load_from_str(text?).ok()?;
            names.iter().find_map(|name| {
                ini.section(Some(name.as_str())).map(|s| {
                    s.iter()
                        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
                        .collect::<Vec<_>>()
                })
            })
        };
        let from_credentials = section(credentials, &[profile.to_string()]);
        // In the config file, profiles other than `default` are `[profile NAME]`.
        let from_config = section(config, &[format!("profile {profile}"), profile.to_string()]);
        if from_credentials.is_none() && from_config.is_none() {
            return None;
        }
        let get = |key: &str| {
            [&from_credentials, &from_config]
                .into_iter()
                .flatten()
                .find_map(|pairs| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()))
        };
        let credential = match (get("aws_access_key_id"), get("aws_secret_access_key")) {
            (Some(key_id), Some(secret_key)) => Some(Arc::new(AwsCredential {
                key_id,
                secret_key,
                token: get("aws_session_token"),
            })),
            _ => None,
        };
        Some(ProfileCredentials {
            profile: profile.to_string(),
            credential,
            region: get("region"),
        })
    }

    /// Whether the profile holds keys (a profile may only name a region or a role).
    pub fn has_keys(&self) -> bool {
        self.credential.is_some()
    }

    /// The profile's region.
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }
}

#[async_trait::async_trait]
impl CredentialProvider for ProfileCredentials {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        self.credential
            .clone()
            .ok_or_else(|| object_store::Error::Generic {
                store: "S3",
                source: format!("AWS profile '{}' holds no keys", self.profile).into(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_or_say_what_is_valid() {
        let parsed = CloudLocation::parse("s3://bucket/a/b/").unwrap().unwrap();
        assert_eq!(
            (parsed.bucket.as_str(), parsed.prefix.as_str()),
            ("bucket", "a/b")
        );
        assert_eq!(CloudLocation::parse("/tmp/x").unwrap(), None);
        assert_eq!(CloudLocation::parse("ftp://x/y").unwrap(), None);
        assert_eq!(CloudLocation::parse("gs://b").unwrap().unwrap().prefix, "");
        let err = CloudLocation::parse("s3:///prefix")
            .unwrap_err()
            .to_string();
        assert!(err.contains("s3://BUCKET/PREFIX"), "{err}");
        let err = CloudLocation::parse("s3://b/../x").unwrap_err().to_string();
        assert!(err.contains("'..'"), "{err}");
    }

    #[test]
    fn profiles_are_read_from_the_shared_files_and_never_shown() {
        let credentials = "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = s3cr3t-default\n\n[work]\naws_access_key_id = AKIDWORK\naws_secret_access_key = s3cr3t-work\naws_session_token = tok\n";
        let config = "[default]\nregion = eu-west-1\n\n[profile work]\nregion = ap-south-1\n\n[profile roleonly]\nregion = us-west-2\n";
        let work = ProfileCredentials::from_files("work", Some(credentials), Some(config)).unwrap();
        let key = work.credential.clone().unwrap();
        assert_eq!(
            (
                key.key_id.as_str(),
                key.secret_key.as_str(),
                key.token.as_deref()
            ),
            ("AKIDWORK", "s3cr3t-work", Some("tok"))
        );
        assert_eq!(work.region(), Some("ap-south-1"));
        let shown = format!("{work:?}");
        assert!(
            !shown.contains("s3cr3t") && !shown.contains("AKID"),
            "{shown}"
        );
        let default =
            ProfileCredentials::from_files("default", Some(credentials), Some(config)).unwrap();
        assert_eq!(default.region(), Some("eu-west-1"));
        let role =
            ProfileCredentials::from_files("roleonly", Some(credentials), Some(config)).unwrap();
        assert!(!role.has_keys());
        assert!(ProfileCredentials::from_files("nope", Some(credentials), Some(config)).is_none());
    }
}
