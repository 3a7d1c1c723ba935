//! The one EC2 call the backend needs: where a task's network interface
//! answers.
//!
//! ECS reports a Fargate task's network interface and private IP, but not
//! its public IP; only EC2's `DescribeNetworkInterfaces` does. That single
//! call does not justify `aws-sdk-ec2`, whose generated code takes longer to
//! compile than the rest of Showtime together, so [`Ec2Client`] sends it over
//! EC2's Query API itself: a form-encoded POST signed with SigV4
//! (`aws-sigv4`, the SDK's own signer), the XML answer read with
//! `aws-smithy-xml` (the SDK's own reader). Credentials, region and
//! `AWS_ENDPOINT_URL` come from the same [`SdkConfig`] as the ECS and ECR
//! clients.
//!
//! The backend reaches EC2 only through the [`Interfaces`] trait, so tests —
//! and anyone who would rather use `aws-sdk-ec2` — can put another
//! implementation in its place ([`crate::EcsBackend::with_interfaces`]).

use std::fmt;
use std::net::Ipv4Addr;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use aws_smithy_xml::decode::{Document, ScopedDecoder, try_data};
use aws_types::SdkConfig;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::error::{self, AwsError};

/// The EC2 API version the Query requests are written for.
const API_VERSION: &str = "2016-11-15";

/// How long one request may take, connection included.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// Attempts per call; throttling, 5xx and network failures are retried with
/// exponential backoff (0.5 s, 1 s, 2 s).
const ATTEMPTS: u32 = 4;

/// Credentials this close to expiry are fetched anew.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(300);

/// A network interface's addresses, as EC2 reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkInterface {
    /// `eni-…`.
    pub id: String,
    /// Its primary private IPv4 address.
    pub private_ip: Option<Ipv4Addr>,
    /// The public IPv4 address associated with it, if any.
    pub public_ip: Option<Ipv4Addr>,
}

/// Looks up network interfaces: the backend's only need of EC2.
#[async_trait]
pub trait Interfaces: Send + Sync {
    /// The interface `id`, or `None` when EC2 does not know it (yet: a
    /// task's interface can appear in ECS a moment before EC2 lists it).
    async fn describe(&self, id: &str) -> Result<Option<NetworkInterface>, AwsError>;
}

/// A failed request: AWS's error code (empty when there was no answer) and
/// what it means.
struct Failed {
    code: String,
    error: AwsError,
}

impl From<AwsError> for Failed {
    fn from(error: AwsError) -> Self {
        Failed {
            code: String::new(),
            error,
        }
    }
}

type Https = hyper_rustls::HttpsConnector<HttpConnector>;

/// A minimal EC2 client: SigV4-signed Query API requests over HTTPS
/// (rustls with ring), retried on throttling and server errors.
pub struct Ec2Client {
    http: Client<Https, Full<Bytes>>,
    endpoint: String,
    region: String,
    provider: Option<SharedCredentialsProvider>,
    cached: Mutex<Option<Credentials>>,
}

impl fmt::Debug for Ec2Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ec2Client")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl Ec2Client {
    /// A client for the configuration's credentials and endpoint
    /// (`AWS_ENDPOINT_URL`, else `https://ec2.{region}.amazonaws.com`), in
    /// `region` when given, else the configuration's.
    pub fn from_sdk_config(config: &SdkConfig, region: Option<&str>) -> Result<Self, AwsError> {
        let region = region
            .map(str::to_owned)
            .or_else(|| config.region().map(|r| r.to_string()))
            .ok_or_else(|| AwsError::Setting {
                name: "AWS_REGION".into(),
                message: "no AWS region is configured. Set AWS_REGION (or the region of the \
                          settings, or of the AWS profile)"
                    .into(),
            })?;
        let endpoint = match config.endpoint_url() {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => default_endpoint(&region),
        };
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| AwsError::Setting {
                name: "TLS roots".into(),
                message: format!(
                    "the system's certificate roots cannot be read ({e}). Install the CA \
                     certificates (ca-certificates) or set SSL_CERT_FILE"
                ),
            })?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Ec2Client {
            http: Client::builder(TokioExecutor::new()).build(https),
            endpoint,
            region,
            provider: config.credentials_provider(),
            cached: Mutex::new(None),
        })
    }

    /// The endpoint requests go to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Sends one EC2 Query API request, `action` with `params` (such as
    /// `("NetworkInterfaceId.1", "eni-0abc")`), and returns the XML answer.
    /// An error answer becomes a typed [`AwsError`] by its code.
    pub async fn call(&self, action: &str, params: &[(&str, &str)]) -> Result<String, AwsError> {
        self.request(action, params).await.map_err(|f| f.error)
    }

    async fn request(&self, action: &str, params: &[(&str, &str)]) -> Result<String, Failed> {
        let operation = format!("ec2:{action}");
        let mut body = String::new();
        let mut writer = aws_smithy_query::QueryWriter::new(&mut body, action, API_VERSION);
        for (key, value) in params {
            writer.prefix(key).string(value);
        }
        writer.finish();

        let mut backoff = Duration::from_millis(500);
        let mut attempt = 1;
        loop {
            match self.attempt(&operation, &body).await {
                Err(f) if f.error.is_transient() && attempt < ATTEMPTS => {
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn attempt(&self, operation: &str, body: &str) -> Result<String, Failed> {
        let credentials = self.credentials(operation).await.map_err(Failed::from)?;
        let mut request = http::Request::post(format!("{}/", self.endpoint))
            .header(
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )
            .body(Full::new(Bytes::from(body.to_owned())))
            .map_err(|e| AwsError::Setting {
                name: "AWS_ENDPOINT_URL".into(),
                message: format!("`{}` is not a usable URL: {e}", self.endpoint),
            })
            .map_err(Failed::from)?;
        sign_request(&mut request, body, &credentials, &self.region)
            .map_err(|message| AwsError::Sdk {
                operation: operation.to_owned(),
                message: format!("the request could not be signed: {message}"),
                transient: false,
            })
            .map_err(Failed::from)?;

        let sent = tokio::time::timeout(ATTEMPT_TIMEOUT, async {
            let response = self.http.request(request).await?;
            let status = response.status();
            let bytes = response.into_body().collect().await?.to_bytes();
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>((status, bytes))
        })
        .await;
        let (status, bytes) = match sent {
            Err(_) => {
                return Err(Failed::from(AwsError::Timeout {
                    what: operation.to_owned(),
                    waited: ATTEMPT_TIMEOUT,
                }));
            }
            Ok(Err(e)) => {
                return Err(Failed::from(AwsError::Sdk {
                    operation: operation.to_owned(),
                    message: format!("could not reach EC2 at {}: {e}", self.endpoint),
                    transient: true,
                }));
            }
            Ok(Ok(answer)) => answer,
        };
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if status.is_success() {
            return Ok(text);
        }
        let (code, message) = read_error(&text).unwrap_or_else(|| {
            (
                String::new(),
                format!(
                    "HTTP {status}: {}",
                    text.chars().take(200).collect::<String>()
                ),
            )
        });
        let error = error::classify(operation, "", &code, message, status.is_server_error());
        Err(Failed { code, error })
    }

    async fn credentials(&self, operation: &str) -> Result<Credentials, AwsError> {
        let fresh = |c: &Credentials| {
            c.expiry().is_none_or(|at| {
                at.duration_since(SystemTime::now())
                    .is_ok_and(|left| left > REFRESH_BEFORE_EXPIRY)
            })
        };
        if let Some(c) = self.lock().as_ref().filter(|c| fresh(c)) {
            return Ok(c.clone());
        }
        let missing = |detail: String| AwsError::Sdk {
            operation: operation.to_owned(),
            message: format!(
                "no AWS credentials ({detail}). Fix: give Showtime AWS credentials \
                 (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or an instance or \
                 task role)"
            ),
            transient: false,
        };
        let provider = self
            .provider
            .as_ref()
            .ok_or_else(|| missing("none are configured".into()))?;
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| missing(e.to_string()))?;
        *self.lock() = Some(credentials.clone());
        Ok(credentials)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Credentials>> {
        self.cached
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl Interfaces for Ec2Client {
    async fn describe(&self, id: &str) -> Result<Option<NetworkInterface>, AwsError> {
        match self
            .request("DescribeNetworkInterfaces", &[("NetworkInterfaceId.1", id)])
            .await
        {
            Ok(xml) => read_interface(&xml).map_err(|message| AwsError::Sdk {
                operation: "ec2:DescribeNetworkInterfaces".into(),
                message: format!("EC2's answer could not be read: {message}"),
                transient: true,
            }),
            Err(f) if f.code == "InvalidNetworkInterfaceID.NotFound" => Ok(None),
            Err(f) => Err(f.error),
        }
    }
}

/// EC2's public endpoint for `region`.
fn default_endpoint(region: &str) -> String {
    let domain = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("https://ec2.{region}.{domain}")
}

fn sign_request(
    request: &mut http::Request<Full<Bytes>>,
    body: &str,
    credentials: &Credentials,
    region: &str,
) -> Result<(), String> {
    let identity: Identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("ec2")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let uri = request.uri().to_string();
    let headers = request
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)));
    let signable =
        SignableRequest::new("POST", &uri, headers, SignableBody::Bytes(body.as_bytes()))
            .map_err(|e| e.to_string())?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| e.to_string())?
        .into_parts();
    instructions.apply_to_request_http1x(request);
    Ok(())
}

/// The first interface of a `DescribeNetworkInterfaces` answer.
fn read_interface(xml: &str) -> Result<Option<NetworkInterface>, String> {
    let mut doc = Document::new(xml);
    let mut root = doc.root_element().map_err(|e| e.to_string())?;
    while let Some(mut set) = root.next_tag() {
        if !set.start_el().matches("networkInterfaceSet") {
            continue;
        }
        while let Some(mut item) = set.next_tag() {
            if item.start_el().matches("item") {
                return read_item(&mut item).map(Some);
            }
        }
    }
    Ok(None)
}

fn read_item(item: &mut ScopedDecoder<'_, '_>) -> Result<NetworkInterface, String> {
    let mut eni = NetworkInterface {
        id: String::new(),
        private_ip: None,
        public_ip: None,
    };
    while let Some(mut field) = item.next_tag() {
        let name = field.start_el().local().to_owned();
        match name.as_str() {
            "networkInterfaceId" => eni.id = text(&mut field)?,
            "privateIpAddress" => eni.private_ip = ip(&mut field)?,
            "association" => {
                while let Some(mut inner) = field.next_tag() {
                    if inner.start_el().matches("publicIp") {
                        eni.public_ip = ip(&mut inner)?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(eni)
}

/// `(code, message)` of an EC2 error answer
/// (`<Response><Errors><Error><Code>…`).
fn read_error(xml: &str) -> Option<(String, String)> {
    let mut doc = Document::new(xml);
    let mut root = doc.root_element().ok()?;
    while let Some(mut errors) = root.next_tag() {
        if !errors.start_el().matches("Errors") {
            continue;
        }
        // The first error is the one that matters.
        let mut error = errors.next_tag()?;
        let (mut code, mut message) = (String::new(), String::new());
        while let Some(mut field) = error.next_tag() {
            let name = field.start_el().local().to_owned();
            match name.as_str() {
                "Code" => code = text(&mut field).ok()?,
                "Message" => message = text(&mut field).ok()?,
                _ => {}
            }
        }
        return Some((code, message));
    }
    None
}

fn text(field: &mut ScopedDecoder<'_, '_>) -> Result<String, String> {
    try_data(field)
        .map(|t| t.trim().to_owned())
        .map_err(|e| e.to_string())
}

fn ip(field: &mut ScopedDecoder<'_, '_>) -> Result<Option<Ipv4Addr>, String> {
    let t = text(field)?;
    if t.is_empty() {
        return Ok(None);
    }
    t.parse()
        .map(Some)
        .map_err(|_| format!("`{t}` is not an IPv4 address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSWER: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeNetworkInterfacesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>fc45294c-example</requestId>
  <networkInterfaceSet>
    <item>
      <association>
        <ipOwnerId>amazon</ipOwnerId>
        <publicIp>52.1.2.3</publicIp>
      </association>
      <networkInterfaceId>eni-0f7db</networkInterfaceId>
      <privateIpAddressesSet>
        <item><privateIpAddress>10.0.9.9</privateIpAddress><primary>false</primary></item>
      </privateIpAddressesSet>
      <privateIpAddress>10.0.1.17</privateIpAddress>
    </item>
  </networkInterfaceSet>
</DescribeNetworkInterfacesResponse>"#;

    #[test]
    fn reads_the_interface_not_its_nested_sets() {
        let eni = read_interface(ANSWER).unwrap_or_default();
        assert_eq!(
            eni,
            Some(NetworkInterface {
                id: "eni-0f7db".into(),
                private_ip: Some(Ipv4Addr::new(10, 0, 1, 17)),
                public_ip: Some(Ipv4Addr::new(52, 1, 2, 3)),
            })
        );
    }

    #[test]
    fn an_empty_set_is_no_interface() {
        let xml = "<DescribeNetworkInterfacesResponse><requestId>1</requestId>\
                   <networkInterfaceSet/></DescribeNetworkInterfacesResponse>";
        assert_eq!(read_interface(xml), Ok(None));
    }

    #[test]
    fn a_bad_address_is_an_error_not_a_panic() {
        let xml = "<R><networkInterfaceSet><item><privateIpAddress>ten</privateIpAddress>\
                   </item></networkInterfaceSet></R>";
        let err = read_interface(xml).err().unwrap_or_default();
        assert!(err.contains("`ten` is not an IPv4 address"), "{err}");
        assert_eq!(read_interface("<html>502 Bad Gateway</html>"), Ok(None));
        assert!(read_interface("").is_err());
    }

    #[test]
    fn reads_error_answers() {
        let xml = "<Response><Errors><Error><Code>UnauthorizedOperation</Code>\
                   <Message>You are not authorized</Message></Error></Errors>\
                   <RequestID>r</RequestID></Response>";
        assert_eq!(
            read_error(xml),
            Some((
                "UnauthorizedOperation".into(),
                "You are not authorized".into()
            ))
        );
        assert_eq!(read_error("<html>bad gateway</html>"), None);
    }

    #[test]
    fn endpoints_by_partition() {
        assert_eq!(
            default_endpoint("eu-west-1"),
            "https://ec2.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            default_endpoint("cn-north-1"),
            "https://ec2.cn-north-1.amazonaws.com.cn"
        );
    }
}
