//! foundry: provision and operate an AI-app stack on AWS from a declarative
//! stack file. The binary's commands are thin; everything lives here.
//! See ARCHITECTURE.md for the map.

pub mod aws;
pub mod compute;
pub mod engine;
pub mod http;
pub mod images;
pub mod local;
pub mod logs;
pub mod pricing;
pub mod release;
pub mod resources;
pub mod runbook;
pub mod scaffold;
pub mod stack;
pub mod state;
pub mod status;
pub mod vocab;

#[cfg(test)]
mod layers;
