//! The price table (`runbooks/prices.toml`, embedded): what an hour or a GB
//! of each priced thing costs per region, dated, so that a finding's dollars
//! can be recomputed by anyone from the evidence and this file.

use std::collections::BTreeMap;

use serde::Deserialize;

/// Hours in the month every monthly figure uses (AWS's pricing month).
pub const HOURS_PER_MONTH: f64 = 730.0;
/// Days in that month.
pub const DAYS_PER_MONTH: f64 = HOURS_PER_MONTH / 24.0;
/// CloudWatch reports bytes; AWS prices decimal gigabytes.
pub const BYTES_PER_GB: f64 = 1e9;

pub const TABLE: &str = include_str!("../../../runbooks/prices.toml");

#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    pub as_of: String,
    pub nat_gateway_hour: f64,
    pub nat_gateway_gb: f64,
    pub interface_endpoint_az_hour: f64,
    pub interface_endpoint_gb: f64,
    pub gateway_endpoint_hour: f64,
    pub public_ipv4_hour: f64,
    pub cross_az_gb: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    regions: BTreeMap<String, Prices>,
}

#[derive(Debug, thiserror::Error)]
pub enum PriceError {
    #[error("runbooks/prices.toml is not valid: {0}")]
    Invalid(String),
    #[error(
        "runbooks/prices.toml has no prices for region {region} (it has {known}); add the region's prices from AWS's pricing pages"
    )]
    NoRegion { region: String, known: String },
}

/// The prices of `region`.
pub fn for_region(region: &str) -> Result<Prices, PriceError> {
    let table: Table = toml::from_str(TABLE).map_err(|e| PriceError::Invalid(e.to_string()))?;
    let known = table.regions.keys().cloned().collect::<Vec<_>>().join(", ");
    table
        .regions
        .get(region)
        .cloned()
        .ok_or_else(|| PriceError::NoRegion {
            region: region.to_owned(),
            known,
        })
}

impl Prices {
    /// One NAT gateway for a month, with its public IPv4 address.
    pub fn nat_gateway_month(&self) -> f64 {
        (self.nat_gateway_hour + self.public_ipv4_hour) * HOURS_PER_MONTH
    }

    /// One interface endpoint in `azs` AZs for a month, before traffic.
    pub fn interface_endpoint_month(&self, azs: usize) -> f64 {
        self.interface_endpoint_az_hour * azs as f64 * HOURS_PER_MONTH
    }
}

/// Dollars as people read them: `$32.85`.
pub fn dollars(amount: f64) -> String {
    format!("${amount:.2}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_parses_and_us_east_1_has_the_published_prices() {
        let p = for_region("us-east-1").unwrap();
        assert_eq!(p.nat_gateway_hour, 0.045);
        assert_eq!(p.nat_gateway_gb, 0.045);
        assert_eq!(dollars(p.nat_gateway_month()), "$36.50");
        assert_eq!(dollars(p.interface_endpoint_month(2)), "$14.60");
        assert!(matches!(
            for_region("xx-nowhere-1"),
            Err(PriceError::NoRegion { known, .. }) if known.contains("us-east-1")
        ));
    }
}
