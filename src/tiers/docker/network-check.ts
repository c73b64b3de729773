import type Docker from 'dockerode';
import { describeEngineError } from './engine-errors.js';

/**
 * Whether sessions created with `network: true` would really reach a
 * network through the configured `docker_network`. The engine does not say
 * so itself: `NetworkMode: bridge` on an engine started with
 * `--bridge=none` gives a container with loopback only, no error. Returns
 * null when the network is there, else what is wrong and how to fix it.
 */
export async function networkProblem(docker: Docker, network: string, endpoint: string): Promise<string | null> {
  // Another container's network stack: nothing to inspect by that name.
  if (network.startsWith('container:')) return null;
  let driver: string;
  try {
    driver = ((await docker.getNetwork(network).inspect()) as { Driver?: string }).Driver ?? '';
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode !== 404) return describeEngineError(err, { endpoint });
    return network === 'bridge'
      ? `the docker engine at ${endpoint} has no bridge network (dockerd runs with --bridge=none?), so a session with network: true would have loopback only: ` +
          'create a network (docker network create trl) and start trl with --docker-network trl (TRL_DOCKER_NETWORK=trl), or use --docker-network host'
      : `docker network ${network} does not exist: docker network create ${network}, or set --docker-network to one that docker network ls lists`;
  }
  if (driver === 'null') {
    return `docker network ${network} has no connectivity (driver null), so a session with network: true would have loopback only: set --docker-network to a real network (docker network ls)`;
  }
  return null;
}
