//! One integration-test binary for the api crate (see helpers::spawn_app).

mod auth;
mod cli;
mod client_ip;
mod database_secret;
mod dataloader;
mod document_cache;
mod generate;
mod hardening;
mod health;
mod helpers;
mod logging;
mod pagination;
mod schema;
mod tenancy;
mod uploads;
mod web_client;
