//! Which provider and model answer a request: aliases with ordered fallback
//! chains, explicit `provider/model`, bare model ids a provider declares, and
//! the default when a request names no model.
//!
//! This is the one place a client's model name enters the gateway, so it is
//! checked here twice: its characters (a model id ends up in provider URLs, see
//! [`check_model_id`]) and whether the operator listed it. By default only the
//! configuration's models are served: providers' `default_model`,
//! `embedding_model`, `models` and alias targets. `allow_unlisted_models = true`
//! lets `provider/anything` through (still subject to the character rule).

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
    allow_unlisted_models: bool,
}

/// Longest model id accepted (Bedrock's inference-profile ids are the longest real ones).
pub const MAX_MODEL_ID_LEN: usize = 128;

/// The rule every model id and provider name obeys, in the words a 400 uses.
pub const MODEL_ID_RULE: &str =
    "a model id is 1 to 128 characters from A-Z a-z 0-9 . _ : - and contains no `..`";

/// A model id travels into provider URLs (Gemini's `models/{id}:method`,
/// Azure's `deployments/{id}/…`): only characters that mean nothing in a URL
/// path, and never `..`. Adapters also encode it as one path segment, so this
/// is the first of two walls, not the only one.
pub fn check_model_id(id: &str) -> Result<(), &'static str> {
    let charset_ok = id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    if id.is_empty() || id.len() > MAX_MODEL_ID_LEN || !charset_ok || id.contains("..") {
        return Err(MODEL_ID_RULE);
    }
    Ok(())
}

/// `model` as a client sent it: an alias or bare id, or `provider/model`.
fn check_requested(requested: &str) -> Result<(), ApiError> {
    let parts_ok = match requested.split_once('/') {
        Some((provider, model)) => check_model_id(provider).and(check_model_id(model)),
        None => check_model_id(requested),
    };
    parts_ok.map_err(|rule| ApiError::invalid("model", rule))
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
            allow_unlisted_models: config.allow_unlisted_models,
        }
    }

    /// Whether the configuration names `model` for `provider`: one of its
    /// models, the target of an alias, or the `default_model`.
    fn is_listed(&self, provider: &ProviderModels, model: &str) -> bool {
        provider.serves(model)
            || self
                .aliases
                .values()
                .flatten()
                .any(|t| t.provider == provider.name && t.model == model)
            || self
                .default_model
                .as_deref()
                .and_then(|d| d.split_once('/'))
                == Some((provider.name.as_str(), model))
    }

    /// The provider kind (`openai`, `gemini`…) behind a configured provider name.
    pub fn kind_of(&self, provider: &str) -> Option<&'static str> {
        self.providers
            .iter()
            .find(|p| p.name == provider)
            .map(|p| p.kind)
    }

    pub fn resolve(
        &self,
        requested: Option<&str>,
        purpose: Purpose,
    ) -> Result<Vec<Target>, ApiError> {
        let Some(requested) = requested else {
            return self.default_chain(purpose);
        };
        check_requested(requested)?;
        if let Some(chain) = self.aliases.get(requested) {
            return Ok(chain.clone());
        }
        if let Some((provider, model)) = requested.split_once('/')
            && let Some(p) = self.providers.iter().find(|p| p.name == provider)
            && (self.allow_unlisted_models || self.is_listed(p, model))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog(toml: &str, allow_unlisted_models: bool) -> Catalog {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ai.toml");
        std::fs::write(&path, toml).unwrap();
        let path = path.to_str().unwrap().to_string();
        let mut config = Config::load(&|name| match name {
            "AI_INTERNAL_API_KEY" => Some("0123456789abcdef".into()),
            "OPENAI_API_KEY" => Some("sk-test".into()),
            "AI_CONFIG_FILE" => Some(path.clone()),
            _ => None,
        })
        .unwrap();
        config.allow_unlisted_models = allow_unlisted_models;
        Catalog::new(&config)
    }

    #[test]
    fn listed_models_are_the_providers_the_aliases_and_the_default() {
        let toml = "default_model = \"openai/gpt-4.1\"\n[providers.openai]\nmodels = [\"gpt-4o\"]\n\
                    [models.fast]\ntargets = [\"openai/gpt-4o-mini-2024-07-18\"]\n";
        let strict = catalog(toml, false);
        for model in [
            "openai/gpt-4o-mini",
            "openai/gpt-4o",
            "openai/gpt-4o-mini-2024-07-18",
            "openai/gpt-4.1",
            "gpt-4o",
            "fast",
        ] {
            assert!(
                strict.resolve(Some(model), Purpose::Chat).is_ok(),
                "{model}"
            );
        }
        assert_eq!(
            strict.resolve(None, Purpose::Chat).unwrap()[0].model,
            "gpt-4.1"
        );
        let unlisted = strict.resolve(Some("openai/o3-pro"), Purpose::Chat);
        assert!(matches!(unlisted, Err(ApiError::UnknownModel { .. })));
        let open = catalog(toml, true);
        assert!(open.resolve(Some("openai/o3-pro"), Purpose::Chat).is_ok());
        // The hatch lets any listed provider's models through, not any provider.
        let other = open.resolve(Some("anthropic/claude-x"), Purpose::Chat);
        assert!(matches!(other, Err(ApiError::UnknownModel { .. })));
    }

    #[test]
    fn model_ids_are_held_to_a_url_safe_character_set() {
        for ok in [
            "gpt-4o-mini",
            "gemini-2.5-flash",
            "anthropic.claude-3-5-haiku-20241022-v1:0",
            "us.amazon.nova-lite-v1:0",
            "prod_gpt4o",
        ] {
            assert_eq!(check_model_id(ok), Ok(()), "{ok}");
        }
        let too_long = "m".repeat(MAX_MODEL_ID_LEN + 1);
        for bad in [
            "", "..", "a..b", "../admin", "x?y", "x#y", "a\\b", "a%2fb", "a b", "a\nb", "a/b", "ü",
            &too_long,
        ] {
            assert_eq!(check_model_id(bad), Err(MODEL_ID_RULE), "{bad:?}");
        }
    }
}
