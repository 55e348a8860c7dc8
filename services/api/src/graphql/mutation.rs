use std::time::Instant;

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::Utc;

use super::context::{RequestContext, services, tenant};
use super::scalars::Time;
use super::types::{Document, Job, Project, Upload, require_id};
use crate::ai::{CallContext, GenerateRequest};
use crate::error::{ApiError, GqlResultExt};
use crate::ids::{self, NodeKind};
use crate::store::jobs::JobOutcome;
use crate::store::uploads::NewUpload;
use crate::store::{self, new_id};

const MAX_PROMPT_CHARS: usize = 32_000;
const MAX_OUTPUT_TOKENS: i32 = 8192;
const MAX_FILENAME_CHARS: usize = 200;

#[derive(SimpleObject)]
pub struct CreateProjectPayload {
    pub project: Project,
    pub audit_event_id: ID,
}

#[derive(SimpleObject)]
pub struct CreateDocumentPayload {
    pub document: Document,
    pub audit_event_id: ID,
}

#[derive(SimpleObject)]
pub struct UpdateDocumentPayload {
    pub document: Document,
    pub audit_event_id: ID,
}

#[derive(SimpleObject)]
pub struct DeleteDocumentPayload {
    pub deleted_document_id: ID,
    pub audit_event_id: ID,
}

#[derive(InputObject)]
pub struct RequestUploadInput {
    pub filename: String,
    pub content_type: String,
    /// Exact size of the file; the PUT must match it.
    pub size_bytes: i64,
    /// Document the file belongs to, if any.
    pub document_id: Option<ID>,
}

#[derive(SimpleObject)]
pub struct HttpHeader {
    pub name: String,
    pub value: String,
}

#[derive(SimpleObject)]
pub struct RequestUploadPayload {
    pub upload: Upload,
    /// Pre-signed S3 PUT URL.
    pub upload_url: String,
    /// Headers the PUT must send exactly as given.
    pub upload_headers: Vec<HttpHeader>,
    pub expires_at: Time,
    pub audit_event_id: ID,
}

#[derive(SimpleObject)]
pub struct FinalizeUploadPayload {
    pub upload: Upload,
    pub audit_event_id: ID,
}

#[derive(InputObject)]
pub struct GenerateInput {
    pub prompt: String,
    /// Model or alias known to the ai service; its default when omitted.
    pub model: Option<String>,
    pub max_tokens: Option<i32>,
}

#[derive(SimpleObject)]
pub struct TokenUsage {
    pub input_tokens: i32,
    pub output_tokens: i32,
}

#[derive(SimpleObject)]
pub struct GeneratePayload {
    pub text: String,
    pub model: Option<String>,
    pub provider: Option<String>,
    /// Latency the ai service measured.
    pub latency_ms: i32,
    pub usage: TokenUsage,
    pub job: Job,
    pub audit_event_id: ID,
}

fn audit_id(id: uuid::Uuid) -> ID {
    ids::encode(NodeKind::AuditEvent, id)
}

/// Keeps object keys tame: ASCII letters, digits, dot, dash, underscore.
fn safe_filename(name: &str) -> Result<String, ApiError> {
    let name = store::checked_text("filename", name, MAX_FILENAME_CHARS)?;
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let cleaned = cleaned.trim_start_matches('.').to_string();
    Ok(if cleaned.is_empty() {
        "file".into()
    } else {
        cleaned
    })
}

/// The operator's `AI_ALLOWED_MODELS`, checked before the ai service is
/// called: an end user cannot pick a model nobody budgeted for.
fn check_model_allowed(model: Option<&str>, allowed: Option<&[String]>) -> Result<(), ApiError> {
    match (model, allowed) {
        (Some(model), Some(allowed)) if !allowed.iter().any(|m| m == model) => {
            Err(ApiError::InvalidInput(format!(
                "model `{}` is not allowed; allowed models: {}",
                model.chars().take(64).collect::<String>().escape_debug(),
                allowed.join(", ")
            )))
        }
        _ => Ok(()),
    }
}

fn clamp_i32(n: impl TryInto<i32>) -> i32 {
    n.try_into().unwrap_or(i32::MAX)
}

pub struct MutationRoot;

#[Object]
impl MutationRoot {
    async fn create_project(
        &self,
        ctx: &Context<'_>,
        name: String,
    ) -> async_graphql::Result<CreateProjectPayload> {
        let tenant = tenant(ctx).await?;
        let (row, audit) = store::projects::create(&services(ctx).db, tenant, &name)
            .await
            .gql()?;
        Ok(CreateProjectPayload {
            project: Project(row),
            audit_event_id: audit_id(audit),
        })
    }

    async fn create_document(
        &self,
        ctx: &Context<'_>,
        title: String,
        project_id: Option<ID>,
    ) -> async_graphql::Result<CreateDocumentPayload> {
        let project = project_id
            .map(|id| require_id(NodeKind::Project, &id, "projectId"))
            .transpose()?;
        let tenant = tenant(ctx).await?;
        let (row, audit) = store::documents::create(&services(ctx).db, tenant, &title, project)
            .await
            .gql()?;
        Ok(CreateDocumentPayload {
            document: Document(row),
            audit_event_id: audit_id(audit),
        })
    }

    async fn update_document(
        &self,
        ctx: &Context<'_>,
        id: ID,
        title: String,
    ) -> async_graphql::Result<UpdateDocumentPayload> {
        let uuid = require_id(NodeKind::Document, &id, "id")?;
        let tenant = tenant(ctx).await?;
        let (row, audit) = store::documents::update(&services(ctx).db, tenant, uuid, &title)
            .await
            .gql()?
            .ok_or_else(|| ApiError::NotFound.into_gql())?;
        Ok(UpdateDocumentPayload {
            document: Document(row),
            audit_event_id: audit_id(audit),
        })
    }

    async fn delete_document(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<DeleteDocumentPayload> {
        let uuid = require_id(NodeKind::Document, &id, "id")?;
        let tenant = tenant(ctx).await?;
        let audit = store::documents::delete(&services(ctx).db, tenant, uuid)
            .await
            .gql()?
            .ok_or_else(|| ApiError::NotFound.into_gql())?;
        Ok(DeleteDocumentPayload {
            deleted_document_id: id,
            audit_event_id: audit_id(audit),
        })
    }

    /// A short-lived pre-signed PUT for one file under the organization's prefix.
    // Complexity: a signing call plus a transaction, weighed like 20 plain fields.
    #[graphql(complexity = "20 + child_complexity")]
    async fn request_upload(
        &self,
        ctx: &Context<'_>,
        input: RequestUploadInput,
    ) -> async_graphql::Result<RequestUploadPayload> {
        let services = services(ctx);
        let limits = &services.uploads;
        let content_type = input.content_type.trim().to_ascii_lowercase();
        if !limits
            .allowed_types
            .iter()
            .any(|t| t.eq_ignore_ascii_case(&content_type))
        {
            return Err(ApiError::InvalidInput(format!(
                "content type `{content_type}` is not accepted"
            ))
            .into_gql());
        }
        if !(1..=limits.max_bytes).contains(&input.size_bytes) {
            return Err(ApiError::InvalidInput(format!(
                "`sizeBytes` must be between 1 and {}",
                limits.max_bytes
            ))
            .into_gql());
        }
        let filename = safe_filename(&input.filename).gql()?;
        let document = input
            .document_id
            .map(|id| require_id(NodeKind::Document, &id, "documentId"))
            .transpose()?;
        let tenant = tenant(ctx).await?;

        let upload_id = new_id();
        let key = format!("orgs/{}/uploads/{}/{}", tenant.org_id, upload_id, filename);
        let expires_at = Utc::now() + limits.url_ttl;
        let presigned = services
            .storage
            .presign_put(&key, &content_type, input.size_bytes, limits.url_ttl)
            .await
            .map_err(|e| ApiError::Storage(e).into_gql())?;
        let new = NewUpload {
            id: upload_id,
            document_id: document,
            object_key: &key,
            filename: &filename,
            content_type: &content_type,
            declared_size: input.size_bytes,
        };
        let (row, audit) = store::uploads::create(&services.db, tenant, new)
            .await
            .gql()?;
        Ok(RequestUploadPayload {
            upload: Upload(row),
            upload_url: presigned.url,
            upload_headers: presigned
                .headers
                .into_iter()
                .map(|(name, value)| HttpHeader { name, value })
                .collect(),
            expires_at: Time(expires_at),
            audit_event_id: audit_id(audit),
        })
    }

    /// Checks the uploaded object (HEAD) against what was announced and records it.
    #[graphql(complexity = "20 + child_complexity")]
    async fn finalize_upload(
        &self,
        ctx: &Context<'_>,
        upload_id: ID,
    ) -> async_graphql::Result<FinalizeUploadPayload> {
        let uuid = require_id(NodeKind::Upload, &upload_id, "uploadId")?;
        let tenant = tenant(ctx).await?;
        let services = services(ctx);
        let upload = store::uploads::get(&services.db, tenant, uuid)
            .await
            .gql()?
            .ok_or_else(|| ApiError::NotFound.into_gql())?;
        if upload.status != "PENDING" {
            return Err(
                ApiError::UploadRejected("the upload is already finalized".into()).into_gql(),
            );
        }
        let object = services
            .storage
            .head(&upload.object_key)
            .await
            .map_err(|e| ApiError::Storage(e).into_gql())?
            .ok_or_else(|| {
                ApiError::UploadRejected("no object has been uploaded".into()).into_gql()
            })?;
        if object.size != upload.declared_size {
            return Err(ApiError::UploadRejected(format!(
                "object is {} bytes, {} were announced",
                object.size, upload.declared_size
            ))
            .into_gql());
        }
        let stored_type = object.content_type.unwrap_or_default().to_ascii_lowercase();
        if stored_type != upload.content_type {
            return Err(ApiError::UploadRejected(format!(
                "object has content type `{stored_type}`, `{}` was announced",
                upload.content_type
            ))
            .into_gql());
        }
        let (row, audit) =
            store::uploads::finalize(&services.db, tenant, uuid, object.size, &stored_type)
                .await
                .gql()?;
        Ok(FinalizeUploadPayload {
            upload: Upload(row),
            audit_event_id: audit_id(audit),
        })
    }

    /// Calls the ai service and records the call as a Job.
    // Complexity: one ai call costs seconds and money, weighed like 100 plain
    // fields, so the complexity budget (1000 by default) admits a handful.
    #[graphql(complexity = "100 + child_complexity")]
    async fn generate(
        &self,
        ctx: &Context<'_>,
        input: GenerateInput,
    ) -> async_graphql::Result<GeneratePayload> {
        let prompt = store::checked_text("prompt", &input.prompt, MAX_PROMPT_CHARS).gql()?;
        let max_tokens = match input.max_tokens {
            Some(n) if !(1..=MAX_OUTPUT_TOKENS).contains(&n) => {
                return Err(ApiError::InvalidInput(format!(
                    "`maxTokens` must be between 1 and {MAX_OUTPUT_TOKENS}"
                ))
                .into_gql());
            }
            other => other.map(|n| n as u32),
        };
        let services = services(ctx);
        check_model_allowed(
            input.model.as_deref(),
            services.ai_allowed_models.as_deref(),
        )
        .gql()?;
        let tenant = tenant(ctx).await?;
        let request = ctx.data_unchecked::<std::sync::Arc<RequestContext>>();
        let (org_id, user_id) = (tenant.org_id.to_string(), tenant.user_id.to_string());
        let call = CallContext {
            org_id: &org_id,
            user_id: &user_id,
            traceparent: request.traceparent(),
        };
        let started = Instant::now();
        let result = services
            .ai
            .generate(
                &call,
                &GenerateRequest {
                    prompt: &prompt,
                    model: input.model.as_deref(),
                    max_tokens,
                },
            )
            .await;
        let outcome = if result.is_ok() { "ok" } else { "error" };
        services
            .metrics
            .ai_requests
            .with_label_values(&[outcome])
            .inc();
        services
            .metrics
            .ai_duration
            .with_label_values(&[outcome])
            .observe(started.elapsed().as_secs_f64());

        match result {
            Ok(response) => {
                let usage = response.usage.clone().unwrap_or(crate::ai::Usage {
                    input_tokens: 0,
                    output_tokens: 0,
                });
                services
                    .metrics
                    .ai_tokens
                    .with_label_values(&["input"])
                    .inc_by(u64::from(usage.input_tokens));
                services
                    .metrics
                    .ai_tokens
                    .with_label_values(&["output"])
                    .inc_by(u64::from(usage.output_tokens));
                let latency_ms = clamp_i32(response.latency_ms);
                let outcome = JobOutcome {
                    status: "SUCCEEDED",
                    model: response.model.as_deref(),
                    provider: response.provider.as_deref(),
                    input_tokens: Some(clamp_i32(usage.input_tokens)),
                    output_tokens: Some(clamp_i32(usage.output_tokens)),
                    latency_ms: Some(latency_ms),
                    request_id: response.request_id.as_deref(),
                    error: None,
                };
                let (job, audit) = store::jobs::record(&services.db, tenant, "generate", outcome)
                    .await
                    .gql()?;
                Ok(GeneratePayload {
                    text: response.text,
                    model: response.model,
                    provider: response.provider,
                    latency_ms,
                    usage: TokenUsage {
                        input_tokens: clamp_i32(usage.input_tokens),
                        output_tokens: clamp_i32(usage.output_tokens),
                    },
                    job: Job(job),
                    audit_event_id: audit_id(audit),
                })
            }
            Err(err) => {
                let message = err.to_string();
                let outcome = JobOutcome {
                    status: "FAILED",
                    model: input.model.as_deref(),
                    provider: None,
                    input_tokens: None,
                    output_tokens: None,
                    latency_ms: Some(clamp_i32(started.elapsed().as_millis())),
                    request_id: None,
                    error: Some(&message),
                };
                // The failure is worth a Job row, but must not hide the AI error.
                if let Err(db_err) =
                    store::jobs::record(&services.db, tenant, "generate", outcome).await
                {
                    tracing::warn!(error = %db_err, "could not record failed generate job");
                }
                Err(ApiError::Ai(err).into_gql())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_outside_the_allowlist_are_refused() {
        let allowed = ["fast".to_string(), "openai/gpt-4o-mini".to_string()];
        assert!(check_model_allowed(Some("fast"), Some(&allowed)).is_ok());
        assert!(check_model_allowed(None, Some(&allowed)).is_ok());
        assert!(check_model_allowed(Some("openai/o3-pro"), None).is_ok());
        let err = check_model_allowed(Some("openai/o3-pro"), Some(&allowed)).unwrap_err();
        assert_eq!(err.code(), "BAD_USER_INPUT");
        assert!(
            err.to_string().contains("fast, openai/gpt-4o-mini"),
            "{err}"
        );
    }

    #[test]
    fn filenames_are_made_safe_for_object_keys() {
        assert_eq!(safe_filename("report.pdf").unwrap(), "report.pdf");
        assert_eq!(safe_filename("../../etc/passwd").unwrap(), "_.._etc_passwd");
        assert_eq!(safe_filename("a b;'c\".txt").unwrap(), "a_b__c_.txt");
        assert_eq!(safe_filename("...").unwrap(), "file");
        assert!(safe_filename("   ").is_err());
    }
}
