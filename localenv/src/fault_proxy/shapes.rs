//! Throttling and 503 errors in each protocol's own shape, as AWS sends them
//! and as the SDK's parsers read them (aws-sdk-*'s `ec2_query_errors`,
//! `rest_xml_wrapped_errors`, `rest_xml_unwrapped_errors`, `json_errors`).
//! Codes and statuses are AWS's: EC2 throttles with 503 RequestLimitExceeded,
//! awsQuery and CloudFront with 400 Throttling, S3 with 503 SlowDown, JSON
//! services with 400 ThrottlingException; all answer 503 when unavailable.

use bytes::Bytes;
use http::{Method, Response, StatusCode};

use super::operation::Protocol;
use super::plan::Fault;

struct ErrorSpec {
    status: StatusCode,
    code: &'static str,
    message: &'static str,
    /// awsQuery/REST-XML `<Type>`: whose fault it is.
    sender: bool,
}

fn spec(protocol: &Protocol, fault: Fault) -> ErrorSpec {
    let unavailable = ErrorSpec {
        status: StatusCode::SERVICE_UNAVAILABLE,
        code: "ServiceUnavailable",
        message: "The request has failed due to a temporary failure of the server.",
        sender: false,
    };
    match (protocol, fault) {
        (Protocol::Ec2Query, Fault::Throttle) => ErrorSpec {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "RequestLimitExceeded",
            message: "Request limit exceeded.",
            sender: true,
        },
        (Protocol::Ec2Query, _) => ErrorSpec {
            code: "Unavailable",
            message: "The server is overloaded and can't handle the request.",
            ..unavailable
        },
        (Protocol::AwsQuery | Protocol::RestXml, Fault::Throttle) => ErrorSpec {
            status: StatusCode::BAD_REQUEST,
            code: "Throttling",
            message: "Rate exceeded",
            sender: true,
        },
        (Protocol::RestXmlS3, Fault::Throttle) => ErrorSpec {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "SlowDown",
            message: "Please reduce your request rate.",
            sender: true,
        },
        (Protocol::RestXmlS3, _) => ErrorSpec {
            message: "Service is unable to handle request.",
            ..unavailable
        },
        (Protocol::Json { .. }, Fault::Throttle) => ErrorSpec {
            status: StatusCode::BAD_REQUEST,
            code: "ThrottlingException",
            message: "Rate exceeded",
            sender: true,
        },
        _ => unavailable,
    }
}

/// The answer for an injected `Throttle` or `Unavailable`. `request_id` goes
/// where AWS puts its request id, so logs of a faulted run can be matched.
pub(crate) fn error_response(
    protocol: &Protocol,
    fault: Fault,
    method: &Method,
    request_id: &str,
) -> Response<Bytes> {
    let spec = spec(protocol, fault);
    let ErrorSpec {
        status,
        code,
        message,
        sender,
    } = spec;
    let kind = if sender { "Sender" } else { "Receiver" };
    let builder = Response::builder().status(status);
    let (builder, body) = match protocol {
        Protocol::Ec2Query => (
            builder.header("content-type", "text/xml;charset=UTF-8"),
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"
            ),
        ),
        Protocol::AwsQuery | Protocol::RestXml => (
            builder
                .header("content-type", "text/xml")
                .header("x-amzn-requestid", request_id),
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
            ),
        ),
        Protocol::RestXmlS3 => (
            builder
                .header("content-type", "application/xml")
                .header("x-amz-request-id", request_id)
                .header("x-amz-id-2", request_id),
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{request_id}</RequestId><HostId>{request_id}</HostId></Error>"
            ),
        ),
        Protocol::Json { content_type } => (
            builder
                .header("content-type", content_type.as_str())
                .header("x-amzn-errortype", code)
                .header("x-amzn-requestid", request_id),
            format!("{{\"__type\":\"{code}\",\"message\":\"{message}\"}}"),
        ),
    };
    // A HEAD answer has no body, as from S3 itself; the SDK then goes by the
    // status alone.
    let body = if method == Method::HEAD {
        Bytes::new()
    } else {
        Bytes::from(body)
    };
    builder
        .body(body)
        .expect("static status and header values are valid")
}
