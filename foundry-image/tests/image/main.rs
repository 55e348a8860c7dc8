//! foundry-image's one integration-test binary: real cargo builds of a tiny
//! fixture crate, a real registry (Debian's `docker-registry`) on loopback,
//! `skopeo` as the independent reader, and images run under `chroot`.

mod support;

mod build;
mod push;
mod run;
