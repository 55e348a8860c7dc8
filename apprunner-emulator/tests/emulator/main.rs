//! apprunner-emulator's one integration-test binary: the real
//! `aws-sdk-apprunner` client against the emulator, images of a tiny probe
//! service built with foundry-image and served by a real registry
//! (`docker-registry`), runtime secrets from real moto.

mod support;

mod errors;
mod lifecycle;
mod resources;
mod restart;
mod shutdown;
