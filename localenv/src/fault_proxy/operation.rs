//! Naming the AWS operation a request calls, and the wire protocol its error
//! must come back in, from the request alone (as moto itself has to).

use http::{HeaderMap, Method, Uri};

/// The error wire formats of the protocols the AWS SDK speaks to moto.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// EC2's query dialect: `<Response><Errors><Error>…`.
    Ec2Query,
    /// awsQuery (IAM, STS, RDS, SNS, CloudWatch): `<ErrorResponse><Error>…`.
    AwsQuery,
    /// S3's REST-XML: a bare `<Error>` root.
    RestXmlS3,
    /// Other REST-XML services (CloudFront): `<ErrorResponse><Error>…`.
    RestXml,
    /// awsJson 1.0/1.1 (Secrets Manager, ECR); answered with the request's
    /// own content type.
    Json { content_type: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Identified {
    /// `service:Operation`, e.g. `ec2:CreateVpc`.
    pub operation: String,
    pub protocol: Protocol,
}

pub(crate) fn identify(method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Identified {
    let service = service(uri, headers);
    if let Some(target) = header(headers, "x-amz-target") {
        let name = target.rsplit('.').next().unwrap_or(target);
        let content_type = header(headers, "content-type")
            .filter(|t| t.starts_with("application/x-amz-json"))
            .unwrap_or("application/x-amz-json-1.1");
        return Identified {
            operation: format!("{service}:{name}"),
            protocol: Protocol::Json {
                content_type: content_type.to_string(),
            },
        };
    }
    let form = header(headers, "content-type")
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    let action = form
        .then(|| form_value(body, "Action"))
        .flatten()
        .or_else(|| form_value(uri.query().unwrap_or("").as_bytes(), "Action"));
    if let Some(action) = action {
        let protocol = if service == "ec2" {
            Protocol::Ec2Query
        } else {
            Protocol::AwsQuery
        };
        return Identified {
            operation: format!("{service}:{action}"),
            protocol,
        };
    }
    let query = query_pairs(uri.query().unwrap_or(""));
    let (name, protocol) = match service.as_str() {
        "s3" => (
            s3_operation(method, uri.path(), &query, headers),
            Protocol::RestXmlS3,
        ),
        "cloudfront" => (
            cloudfront_operation(method, uri.path(), &query),
            Protocol::RestXml,
        ),
        _ => (rest_fallback(method, uri.path()), Protocol::RestXml),
    };
    Identified {
        operation: format!("{service}:{name}"),
        protocol,
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The signing name from the SigV4 credential scope
/// (`Credential=AKID/20250101/us-east-1/ec2/aws4_request`), in the header or,
/// for presigned URLs, the query string. CloudWatch signs as `monitoring`;
/// it is named `cloudwatch` here, as in IAM actions and the SDK crate.
fn service(uri: &Uri, headers: &HeaderMap) -> String {
    let from_header = header(headers, "authorization").and_then(|auth| {
        let scope = auth.split("Credential=").nth(1)?;
        scope.split([',', ' ']).next().map(str::to_string)
    });
    let from_query = || {
        query_pairs(uri.query().unwrap_or(""))
            .into_iter()
            .find(|(k, _)| k == "X-Amz-Credential")
            .map(|(_, v)| v)
    };
    let scope = from_header.or_else(from_query).unwrap_or_default();
    match scope.split('/').nth(3) {
        Some("monitoring") => "cloudwatch".to_string(),
        Some(service) if !service.is_empty() => service.to_string(),
        _ => "unknown".to_string(),
    }
}

fn form_value(form: &[u8], key: &str) -> Option<String> {
    let form = std::str::from_utf8(form).ok()?;
    query_pairs(form)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

/// `a=1&b&c=x%2Fy` → [("a","1"), ("b",""), ("c","x/y")], percent- and
/// plus-decoded.
fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(high), Some(low)) => {
                        out.push((high * 16 + low) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// S3 bucket subresources in the order they decide the operation, with the
/// operation for each method. A request is path-style (`/bucket/key`), which
/// is what foundry and the SDK use against an IP-address endpoint.
const S3_BUCKET_OPERATIONS: &[(&str, &[(&str, &str)])] = &[
    (
        "tagging",
        &[
            ("PUT", "PutBucketTagging"),
            ("GET", "GetBucketTagging"),
            ("DELETE", "DeleteBucketTagging"),
        ],
    ),
    (
        "publicAccessBlock",
        &[
            ("PUT", "PutPublicAccessBlock"),
            ("GET", "GetPublicAccessBlock"),
            ("DELETE", "DeletePublicAccessBlock"),
        ],
    ),
    ("policyStatus", &[("GET", "GetBucketPolicyStatus")]),
    (
        "policy",
        &[
            ("PUT", "PutBucketPolicy"),
            ("GET", "GetBucketPolicy"),
            ("DELETE", "DeleteBucketPolicy"),
        ],
    ),
    (
        "encryption",
        &[
            ("PUT", "PutBucketEncryption"),
            ("GET", "GetBucketEncryption"),
            ("DELETE", "DeleteBucketEncryption"),
        ],
    ),
    (
        "versioning",
        &[
            ("PUT", "PutBucketVersioning"),
            ("GET", "GetBucketVersioning"),
        ],
    ),
    (
        "lifecycle",
        &[
            ("PUT", "PutBucketLifecycleConfiguration"),
            ("GET", "GetBucketLifecycleConfiguration"),
            ("DELETE", "DeleteBucketLifecycle"),
        ],
    ),
    (
        "cors",
        &[
            ("PUT", "PutBucketCors"),
            ("GET", "GetBucketCors"),
            ("DELETE", "DeleteBucketCors"),
        ],
    ),
    ("versions", &[("GET", "ListObjectVersions")]),
    ("delete", &[("POST", "DeleteObjects")]),
    ("location", &[("GET", "GetBucketLocation")]),
    ("acl", &[("PUT", "PutBucketAcl"), ("GET", "GetBucketAcl")]),
    (
        "ownershipControls",
        &[
            ("PUT", "PutBucketOwnershipControls"),
            ("GET", "GetBucketOwnershipControls"),
            ("DELETE", "DeleteBucketOwnershipControls"),
        ],
    ),
    (
        "notification",
        &[
            ("PUT", "PutBucketNotificationConfiguration"),
            ("GET", "GetBucketNotificationConfiguration"),
        ],
    ),
    (
        "website",
        &[
            ("PUT", "PutBucketWebsite"),
            ("GET", "GetBucketWebsite"),
            ("DELETE", "DeleteBucketWebsite"),
        ],
    ),
    (
        "logging",
        &[("PUT", "PutBucketLogging"), ("GET", "GetBucketLogging")],
    ),
    (
        "replication",
        &[
            ("PUT", "PutBucketReplication"),
            ("GET", "GetBucketReplication"),
            ("DELETE", "DeleteBucketReplication"),
        ],
    ),
    (
        "object-lock",
        &[
            ("PUT", "PutObjectLockConfiguration"),
            ("GET", "GetObjectLockConfiguration"),
        ],
    ),
    (
        "accelerate",
        &[
            ("PUT", "PutBucketAccelerateConfiguration"),
            ("GET", "GetBucketAccelerateConfiguration"),
        ],
    ),
    (
        "requestPayment",
        &[
            ("PUT", "PutBucketRequestPayment"),
            ("GET", "GetBucketRequestPayment"),
        ],
    ),
    ("uploads", &[("GET", "ListMultipartUploads")]),
];

const S3_OBJECT_OPERATIONS: &[(&str, &[(&str, &str)])] = &[
    (
        "uploadId",
        &[
            ("PUT", "UploadPart"),
            ("POST", "CompleteMultipartUpload"),
            ("DELETE", "AbortMultipartUpload"),
            ("GET", "ListParts"),
        ],
    ),
    ("uploads", &[("POST", "CreateMultipartUpload")]),
    (
        "tagging",
        &[
            ("PUT", "PutObjectTagging"),
            ("GET", "GetObjectTagging"),
            ("DELETE", "DeleteObjectTagging"),
        ],
    ),
    ("acl", &[("PUT", "PutObjectAcl"), ("GET", "GetObjectAcl")]),
    ("attributes", &[("GET", "GetObjectAttributes")]),
    (
        "retention",
        &[("PUT", "PutObjectRetention"), ("GET", "GetObjectRetention")],
    ),
    (
        "legal-hold",
        &[("PUT", "PutObjectLegalHold"), ("GET", "GetObjectLegalHold")],
    ),
    ("restore", &[("POST", "RestoreObject")]),
];

fn s3_operation(
    method: &Method,
    path: &str,
    query: &[(String, String)],
    headers: &HeaderMap,
) -> String {
    // The Rust SDK names many operations itself in `x-id` (`?x-id=GetObject`).
    if let Some((_, name)) = query.iter().find(|(k, v)| k == "x-id" && !v.is_empty()) {
        return name.clone();
    }
    let has = |key: &str| query.iter().any(|(k, _)| k == key);
    let trimmed = path.trim_start_matches('/');
    let (bucket, key) = trimmed.split_once('/').unwrap_or((trimmed, ""));
    let method = method.as_str();
    if bucket.is_empty() {
        return if method == "GET" {
            "ListBuckets".into()
        } else {
            format!("{method}/")
        };
    }
    let (table, level) = if key.is_empty() {
        (S3_BUCKET_OPERATIONS, "")
    } else {
        (S3_OBJECT_OPERATIONS, "Object")
    };
    if let Some((subresource, methods)) = table.iter().find(|(sub, _)| has(sub)) {
        let copy = headers.contains_key("x-amz-copy-source");
        return match methods.iter().find(|(m, _)| *m == method) {
            Some((_, "UploadPart")) if copy => "UploadPartCopy".into(),
            Some((_, name)) => (*name).into(),
            // Unknown to the table: named by method and subresource.
            None => format!("{method}{level}?{subresource}"),
        };
    }
    let name = match (key.is_empty(), method) {
        (true, "PUT") => "CreateBucket",
        (true, "DELETE") => "DeleteBucket",
        (true, "HEAD") => "HeadBucket",
        (true, "GET") if query.iter().any(|(k, v)| k == "list-type" && v == "2") => "ListObjectsV2",
        (true, "GET") => "ListObjects",
        (false, "PUT") if headers.contains_key("x-amz-copy-source") => "CopyObject",
        (false, "PUT") => "PutObject",
        (false, "GET") => "GetObject",
        (false, "HEAD") => "HeadObject",
        (false, "DELETE") => "DeleteObject",
        _ => return format!("{method}{level}"),
    };
    name.into()
}

/// CloudFront's REST paths follow one pattern, `/2020-05-31/resource[/Id[/config]]`
/// with nested resources (`distribution/Id/invalidation/Id`), so the name is
/// derived: POST on a collection creates, GET lists, GET on an item gets,
/// `…/config` gets the config, PUT on the config updates, DELETE deletes.
fn cloudfront_operation(method: &Method, path: &str, query: &[(String, String)]) -> String {
    let mut segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if segments
        .first()
        .is_some_and(|s| s.starts_with(|c: char| c.is_ascii_digit()))
    {
        segments.remove(0);
    }
    let method = method.as_str();
    if segments == ["tagging"] {
        let operation = query
            .iter()
            .find(|(k, _)| k == "Operation")
            .map(|(_, v)| v.as_str());
        return match (method, operation) {
            ("GET", _) => "ListTagsForResource".into(),
            ("POST", Some("Tag")) => "TagResource".into(),
            ("POST", Some("Untag")) => "UntagResource".into(),
            _ => format!("{method}/tagging"),
        };
    }
    // CloudFront Functions' actions on one function: `function/{Name}/publish`
    // (PublishFunction), `/describe` (DescribeFunction), `/test` (TestFunction).
    if let [resource, _, action @ ("publish" | "describe" | "test")] = segments.as_slice() {
        return format!("{}{}", pascal_case(action), pascal_case(resource));
    }
    // `origin-access-identity/cloudfront` is one resource name in two segments.
    let mut resources: Vec<(String, Option<&str>)> = Vec::new();
    let mut config = false;
    let mut rest = segments.as_slice();
    while let Some((&name, tail)) = rest.split_first() {
        let (name, tail) = match (name, tail) {
            ("origin-access-identity", ["cloudfront", tail @ ..]) => {
                ("CloudFrontOriginAccessIdentity".to_string(), tail)
            }
            _ => (pascal_case(name), tail),
        };
        match tail {
            [] => {
                resources.push((name, None));
                rest = tail;
            }
            [id, "config"] => {
                resources.push((name, Some(id)));
                config = true;
                rest = &[];
            }
            [id, tail @ ..] => {
                resources.push((name, Some(id)));
                rest = tail;
            }
        }
    }
    let Some((resource, id)) = resources.last() else {
        return format!("{method}/");
    };
    match (method, id, config) {
        ("POST", None, _) if query.iter().any(|(k, _)| k == "WithTags") => {
            format!("Create{resource}WithTags")
        }
        ("POST", None, _) => format!("Create{resource}"),
        ("GET", None, _) => format!("List{}", plural(resource)),
        ("GET", Some(_), false) => format!("Get{resource}"),
        ("GET", Some(_), true) => format!("Get{resource}Config"),
        ("PUT", Some(_), _) => format!("Update{resource}"),
        ("DELETE", Some(_), _) => format!("Delete{resource}"),
        _ => format!("{method}{resource}"),
    }
}

fn pascal_case(name: &str) -> String {
    name.split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn plural(name: &str) -> String {
    match name.strip_suffix('y') {
        Some(stem) => format!("{stem}ies"),
        None => format!("{name}s"),
    }
}

/// A REST service this module does not know: method and first path segment.
fn rest_fallback(method: &Method, path: &str) -> String {
    let first = path.split('/').find(|s| !s.is_empty()).unwrap_or("");
    format!("{}/{first}", method.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(method: &str, path_and_query: &str, service: &str) -> String {
        let mut headers = HeaderMap::new();
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=00"
        );
        headers.insert("authorization", auth.parse().unwrap());
        let uri: Uri = path_and_query.parse().unwrap();
        identify(&method.parse().unwrap(), &uri, &headers, b"").operation
    }

    #[test]
    fn rest_paths_name_their_operations() {
        let cases = [
            ("PUT", "/b", "s3", "s3:CreateBucket"),
            ("PUT", "/b?tagging", "s3", "s3:PutBucketTagging"),
            ("GET", "/b?policyStatus", "s3", "s3:GetBucketPolicyStatus"),
            ("GET", "/b?versions&prefix=a", "s3", "s3:ListObjectVersions"),
            ("POST", "/b?delete", "s3", "s3:DeleteObjects"),
            ("GET", "/b?list-type=2", "s3", "s3:ListObjectsV2"),
            ("PUT", "/b/k?x-id=PutObject", "s3", "s3:PutObject"),
            ("PUT", "/b/k/deep?tagging", "s3", "s3:PutObjectTagging"),
            ("PATCH", "/b?torrent", "s3", "s3:PATCH"),
            ("PATCH", "/b?cors", "s3", "s3:PATCH?cors"),
            ("GET", "/", "s3", "s3:ListBuckets"),
            (
                "POST",
                "/2020-05-31/distribution?WithTags",
                "cloudfront",
                "cloudfront:CreateDistributionWithTags",
            ),
            (
                "GET",
                "/2020-05-31/distribution",
                "cloudfront",
                "cloudfront:ListDistributions",
            ),
            (
                "POST",
                "/2020-05-31/function",
                "cloudfront",
                "cloudfront:CreateFunction",
            ),
            (
                "PUT",
                "/2020-05-31/function/acme-dev-fn-spa",
                "cloudfront",
                "cloudfront:UpdateFunction",
            ),
            (
                "POST",
                "/2020-05-31/function/acme-dev-fn-spa/publish",
                "cloudfront",
                "cloudfront:PublishFunction",
            ),
            (
                "GET",
                "/2020-05-31/function/acme-dev-fn-spa/describe?Stage=LIVE",
                "cloudfront",
                "cloudfront:DescribeFunction",
            ),
            (
                "GET",
                "/2020-05-31/function/acme-dev-fn-spa?Stage=LIVE",
                "cloudfront",
                "cloudfront:GetFunction",
            ),
            (
                "PUT",
                "/2020-05-31/distribution/E1/config",
                "cloudfront",
                "cloudfront:UpdateDistribution",
            ),
            (
                "GET",
                "/2020-05-31/distribution/E1/config",
                "cloudfront",
                "cloudfront:GetDistributionConfig",
            ),
            (
                "POST",
                "/2020-05-31/distribution/E1/invalidation",
                "cloudfront",
                "cloudfront:CreateInvalidation",
            ),
            (
                "GET",
                "/2020-05-31/distribution/E1/invalidation/I2",
                "cloudfront",
                "cloudfront:GetInvalidation",
            ),
            (
                "DELETE",
                "/2020-05-31/origin-access-control/O1",
                "cloudfront",
                "cloudfront:DeleteOriginAccessControl",
            ),
            (
                "GET",
                "/2020-05-31/cache-policy",
                "cloudfront",
                "cloudfront:ListCachePolicies",
            ),
            (
                "GET",
                "/2020-05-31/origin-access-identity/cloudfront",
                "cloudfront",
                "cloudfront:ListCloudFrontOriginAccessIdentities",
            ),
            (
                "POST",
                "/2020-05-31/tagging?Operation=Tag&Resource=arn",
                "cloudfront",
                "cloudfront:TagResource",
            ),
        ];
        for (method, path, service, expected) in cases {
            assert_eq!(named(method, path, service), expected, "{method} {path}");
        }
    }

    #[test]
    fn query_actions_decode_percent_and_plus() {
        assert_eq!(
            query_pairs("Action=Create%2FVpc&a+b=c+d&x"),
            [
                ("Action".to_string(), "Create/Vpc".to_string()),
                ("a b".to_string(), "c d".to_string()),
                ("x".to_string(), String::new()),
            ]
        );
        assert_eq!(decode("%"), "%");
        assert_eq!(decode("%4"), "%4");
        assert_eq!(decode("%zz"), "%zz");
    }
}
