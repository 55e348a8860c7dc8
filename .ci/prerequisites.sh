# Sourced by .ci/run and .ci/local-up: installing what a fresh machine of
# this kind (Debian 12, Rust toolchain, python3) lacks, pinned.

have() { command -v "$1" >/dev/null 2>&1; }
apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

# PostgreSQL's server binaries on PATH (and its client, createdb): the api's
# tests start clusters, and `--local` runs one behind each RDS endpoint.
install_postgres() {
  if ! have initdb || ! have pg_ctl; then
    apt_install postgresql
    for bin in /usr/lib/postgresql/*/bin/*; do ln -sf "$bin" /usr/local/bin/; done
  fi
}

# Debian's OCI registry: `--local` pushes ECR's images to it, tests push to it.
install_registry() {
  if ! have docker-registry; then apt_install docker-registry=2.8.2+ds1-1; fi
}
