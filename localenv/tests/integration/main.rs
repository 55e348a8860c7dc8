//! localenv's integration tests, one binary for the crate.

mod fault_proxy;
mod moto_persistence;
