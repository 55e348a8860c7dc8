//! Cost of a call from the configured price table (USD per million tokens).

use std::collections::HashMap;

use crate::config::Price;
use crate::providers::Usage;

#[derive(Debug, Clone, Default)]
pub struct PriceTable {
    prices: HashMap<String, Price>,
}

impl PriceTable {
    pub fn new(prices: HashMap<String, Price>) -> Self {
        PriceTable { prices }
    }

    /// `provider/model` wins over the bare model id; unknown models cost None.
    pub fn cost(&self, provider: &str, model: &str, usage: Usage) -> Option<f64> {
        let price = self
            .prices
            .get(&format!("{provider}/{model}"))
            .or_else(|| self.prices.get(model))?;
        let cost = usage.input_tokens as f64 * price.input_per_million / 1e6
            + usage.output_tokens as f64 * price.output_per_million / 1e6;
        Some(cost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_specific_price_wins() {
        let table = PriceTable::new(HashMap::from([
            (
                "gpt-4o".to_string(),
                Price {
                    input_per_million: 1.0,
                    output_per_million: 2.0,
                },
            ),
            (
                "azure/gpt-4o".to_string(),
                Price {
                    input_per_million: 10.0,
                    output_per_million: 20.0,
                },
            ),
        ]));
        let usage = Usage {
            input_tokens: 1_000_000,
            output_tokens: 500_000,
        };
        assert_eq!(table.cost("openai", "gpt-4o", usage), Some(2.0));
        assert_eq!(table.cost("azure", "gpt-4o", usage), Some(20.0));
        assert_eq!(table.cost("openai", "unknown", usage), None);
    }
}
