//! Times `assemble` and two `push`es of an already-built binary, for
//! BENCHMARKS.md (run through `bench/push.sh`, which starts the registry).
//!
//! Usage: assemble_push <binary> <registry host:port> <repository>

use std::time::Instant;

use foundry_image::{Credentials, ImageSpec, NoProgress, OciLayout, PushTarget, Registry};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [binary, host, repository] = args.as_slice() else {
        return Err("usage: assemble_push <binary> <registry host:port> <repository>".into());
    };
    let workdir = tempfile::tempdir()?;
    let layout = OciLayout::open_or_create(workdir.path().join("layout"))?;
    let revision = "0123456789abcdef0123456789abcdef01234567";
    let mut spec = ImageSpec::new(binary, revision, revision, 1_700_000_000);
    spec.port = Some(8080);

    let started = Instant::now();
    let image = foundry_image::assemble(&spec, &layout)?;
    let assemble_time = started.elapsed();

    let registry = Registry {
        host: host.clone(),
        insecure_http: true,
        credentials: Credentials::Anonymous,
    };
    let target = PushTarget {
        repository: repository.clone(),
        tag: image.tag.clone(),
        mount_from: vec![],
    };
    let started = Instant::now();
    let first = foundry_image::push(&layout, &image.tag, &registry, &target, &NoProgress).await?;
    let first_time = started.elapsed();
    let started = Instant::now();
    let second = foundry_image::push(&layout, &image.tag, &registry, &target, &NoProgress).await?;
    let second_time = started.elapsed();

    let binary_size = std::fs::metadata(binary)?.len();
    let layer_sizes: Vec<u64> = image
        .layer_digests
        .iter()
        .map(|d| std::fs::metadata(layout.blob_path(d)).map(|m| m.len()))
        .collect::<Result<_, _>>()?;
    println!("binary            {binary_size} bytes ({binary})");
    println!(
        "image             {} bytes compressed (base layer {}, app layer {})",
        image.size, layer_sizes[0], layer_sizes[1]
    );
    println!("digest            {}", image.manifest_digest);
    println!("assemble          {:.2?}", assemble_time);
    println!(
        "first push        {:.2?}, {} bytes uploaded",
        first_time, first.bytes_uploaded
    );
    println!(
        "second push       {:.2?}, {} bytes uploaded",
        second_time, second.bytes_uploaded
    );
    Ok(())
}
