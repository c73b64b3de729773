#!/usr/bin/env bash
# Register gVisor (runsc) as an OCI runtime in dockerd's JSON configuration,
# merged with what the file already holds (docs/docker-tier.md#gvisor-runsc).
# dockerd reads it at start, or at SIGHUP (runtimes reload live, no restart).
# Usage: scripts/register-runsc.sh [CONFIG_FILE]   (default /etc/docker/daemon.json)
set -euo pipefail
config="${1:-/etc/docker/daemon.json}"
runsc="$(command -v runsc)" || { echo "runsc is not installed: apt-get install runsc" >&2; exit 1; }
mkdir -p "$(dirname "$config")"
# --host-fifo=open: trl's exec path reads each command's state through a FIFO in a bind mount.
# --ignore-cgroups: gVisor cannot manage cgroups in a machine that is itself a container.
node - "$config" "$runsc" <<'JS'
const fs = require('node:fs');
const [file, path] = process.argv.slice(2);
let conf = {};
try {
  conf = JSON.parse(fs.readFileSync(file, 'utf8'));
} catch (err) {
  if (err.code !== 'ENOENT') throw new Error(`${file} is not valid JSON (${err.message}): fix it, then run this again`);
}
conf.runtimes = { ...(conf.runtimes ?? {}), runsc: { path, runtimeArgs: ['--network=none', '--ignore-cgroups', '--host-fifo=open'] } };
fs.writeFileSync(file, JSON.stringify(conf, null, 2) + '\n');
console.log(`runsc registered in ${file}`);
JS
