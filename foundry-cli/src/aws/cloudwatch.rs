//! CloudWatch metrics over the last N days, in daily periods: what the
//! runbooks and the plans' usage estimates read.

use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::types::{Dimension, Statistic};

use super::{Aws, AwsError, SdkResultExt};

/// The sum of a metric over the last `days`, in daily periods.
pub async fn metric_sum(
    aws: &Aws,
    namespace: &str,
    metric: &str,
    dimensions: &[(&str, &str)],
    days: u32,
    now: SystemTime,
) -> Result<f64, AwsError> {
    let points = metric_points(
        aws,
        namespace,
        metric,
        dimensions,
        days,
        now,
        Statistic::Sum,
    )
    .await?;
    Ok(points.iter().sum())
}

/// The highest value of a metric over the last `days`; `None` without data.
pub async fn metric_max(
    aws: &Aws,
    namespace: &str,
    metric: &str,
    dimensions: &[(&str, &str)],
    days: u32,
    now: SystemTime,
) -> Result<Option<f64>, AwsError> {
    let points = metric_points(
        aws,
        namespace,
        metric,
        dimensions,
        days,
        now,
        Statistic::Maximum,
    )
    .await?;
    Ok(points.into_iter().reduce(f64::max))
}

/// One value per daily period of `statistic`.
async fn metric_points(
    aws: &Aws,
    namespace: &str,
    metric: &str,
    dimensions: &[(&str, &str)],
    days: u32,
    now: SystemTime,
    statistic: Statistic,
) -> Result<Vec<f64>, AwsError> {
    let start = now - Duration::from_secs(u64::from(days) * 86_400);
    let out = aws
        .cloudwatch
        .get_metric_statistics()
        .namespace(namespace)
        .metric_name(metric)
        .set_dimensions(Some(
            dimensions
                .iter()
                .map(|(n, v)| Dimension::builder().name(*n).value(*v).build())
                .collect(),
        ))
        .start_time(start.into())
        .end_time(now.into())
        .period(86_400)
        .statistics(statistic.clone())
        .send()
        .await
        .or_aws("GetMetricStatistics")?;
    Ok(out
        .datapoints()
        .iter()
        .filter_map(|d| match statistic {
            Statistic::Maximum => d.maximum(),
            _ => d.sum(),
        })
        .collect())
}

/// Bytes a NAT gateway processed over the last `days`: what it charges per
/// GB for (traffic in from the subnets, and back in from destinations).
pub async fn nat_gateway_bytes(
    aws: &Aws,
    nat_id: &str,
    days: u32,
    now: SystemTime,
) -> Result<(f64, f64), AwsError> {
    let dimensions = [("NatGatewayId", nat_id)];
    let mut sums = [0.0; 2];
    for (sum, metric) in sums
        .iter_mut()
        .zip(["BytesInFromSource", "BytesInFromDestination"])
    {
        *sum = metric_sum(aws, "AWS/NATGateway", metric, &dimensions, days, now).await?;
    }
    Ok((sums[0], sums[1]))
}
