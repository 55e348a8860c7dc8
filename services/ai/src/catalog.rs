//! Which provider and model answer a request: aliases with ordered fallback
//! chains, explicit `provider/model`, bare model ids a provider declares, and
//! the default when a request names no model.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::Config;
use crate::error::ApiError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Configured provider name (usually its kind, e.g. `openai`).
    pub provider: String,
    /// The provider's own model id (a deployment name for Azure).
    pub model: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Chat,
    Embed,
}

#[derive(Debug, Clone)]
struct ProviderModels {
    name: String,
    kind: &'static str,
    default_model: String,
    embedding_model: Option<String>,
    models: Vec<String>,
}

impl ProviderModels {
    fn serves(&self, model: &str) -> bool {
        self.default_model == model
            || self.embedding_model.as_deref() == Some(model)
            || self.models.iter().any(|m| m == model)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    pub id: String,
    /// Providers in fallback order.
    pub targets: Vec<String>,
    pub kind: &'static str,
}

#[derive(Debug, Clone)]
pub struct Catalog {
    aliases: BTreeMap<String, Vec<Target>>,
    providers: Vec<ProviderModels>,
    default_model: Option<String>,
}

impl Catalog {
    pub fn new(config: &Config) -> Self {
        let aliases = config
            .aliases
            .iter()
            .map(|(alias, targets)| {
                let targets = targets
                    .iter()
                    .filter_map(|t| t.split_once('/'))
                    .map(|(provider, model)| Target {
                        provider: provider.into(),
                        model: model.into(),
                    })
                    .collect();
                (alias.clone(), targets)
            })
            .collect();
        let providers = config
            .providers
            .iter()
            .map(|p| ProviderModels {
                name: p.name.clone(),
                kind: p.kind.as_str(),
                default_model: p.default_model.clone(),
                embedding_model: p.embedding_model.clone(),
                models: p.models.clone(),
            })
            .collect();
        Catalog {
            aliases,
            providers,
            default_model: config.default_model.clone(),
        }
    }

    pub fn resolve(
        &self,
        requested: Option<&str>,
        purpose: Purpose,
    ) -> Result<Vec<Target>, ApiError> {
        let Some(requested) = requested else {
            return self.default_chain(purpose);
        };
        if let Some(chain) = self.aliases.get(requested) {
            return Ok(chain.clone());
        }
        if let Some((provider, model)) = requested.split_once('/')
            && !model.is_empty()
            && self.providers.iter().any(|p| p.name == provider)
        {
            return Ok(vec![Target {
                provider: provider.into(),
                model: model.into(),
            }]);
        }
        if let Some(p) = self.providers.iter().find(|p| p.serves(requested)) {
            return Ok(vec![Target {
                provider: p.name.clone(),
                model: requested.into(),
            }]);
        }
        Err(ApiError::UnknownModel {
            model: requested.into(),
            known: self.known_models(),
        })
    }

    fn default_chain(&self, purpose: Purpose) -> Result<Vec<Target>, ApiError> {
        if let Some(default) = &self.default_model
            && purpose == Purpose::Chat
        {
            return self.resolve(Some(default), purpose);
        }
        match self.providers.as_slice() {
            [only] => {
                let model = match purpose {
                    Purpose::Chat => only.default_model.clone(),
                    Purpose::Embed => only.embedding_model.clone().ok_or_else(|| {
                        ApiError::invalid(
                            "model",
                            format!("provider `{}` has no embedding model", only.name),
                        )
                    })?,
                };
                Ok(vec![Target {
                    provider: only.name.clone(),
                    model,
                }])
            }
            _ => Err(ApiError::ModelRequired {
                known: self.known_models(),
            }),
        }
    }

    /// Everything a client may put in `model`, for error messages.
    pub fn known_models(&self) -> Vec<String> {
        self.listing().into_iter().map(|m| m.id).collect()
    }

    pub fn listing(&self) -> Vec<ModelInfo> {
        let mut out: Vec<ModelInfo> = self
            .aliases
            .iter()
            .map(|(alias, chain)| ModelInfo {
                id: alias.clone(),
                targets: chain
                    .iter()
                    .map(|t| format!("{}/{}", t.provider, t.model))
                    .collect(),
                kind: "alias",
            })
            .collect();
        for p in &self.providers {
            let mut models = vec![p.default_model.clone()];
            models.extend(p.embedding_model.clone());
            models.extend(p.models.iter().cloned());
            models.dedup();
            for model in models {
                let id = format!("{}/{model}", p.name);
                out.push(ModelInfo {
                    id: id.clone(),
                    targets: vec![id],
                    kind: p.kind,
                });
            }
        }
        out
    }
}
