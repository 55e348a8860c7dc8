//! Integration tests of the `foundry` binary against moto server.

mod alarms;
mod apprunner_resources;
mod buckets;
mod build;
mod cdn;
mod ci;
mod crash;
mod database;
mod deploy;
mod destroy;
mod drift;
mod ecs;
mod errors;
mod faults;
mod local;
mod provisioning;
mod registry_secrets;
mod remote_state;
mod runbooks;
mod runbooks_app;
mod scaffold;
mod status_logs;
mod support;
mod web;
