//! `api schema` prints the SDL the web client compiles against; the copy
//! checked in as `web/schema.graphql` must be the same, or the client's Relay
//! artifacts were built for a schema the api no longer serves.

use std::path::Path;
use std::process::Command;

const REGENERATE: &str = "cargo run -q -p api -- schema > web/schema.graphql";

#[test]
fn api_schema_prints_the_sdl_the_web_client_is_built_against() {
    let output = Command::new(env!("CARGO_BIN_EXE_api"))
        .arg("schema")
        .env_clear()
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = String::from_utf8(output.stdout).unwrap();
    assert_eq!(printed, api::graphql::sdl());
    assert!(printed.contains("type Query"), "{printed}");

    let checked_in = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/schema.graphql");
    let client = std::fs::read_to_string(&checked_in).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}; create it with `{REGENERATE}` (from the workspace root)",
            checked_in.display()
        )
    });
    assert!(
        client == printed,
        "web/schema.graphql differs from the schema the api serves; regenerate it with \
         `{REGENERATE}` (from the workspace root), then rebuild the client \
         (`cd web && npm run build`) and fix what relay-compiler reports"
    );
}
