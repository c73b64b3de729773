import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import { StartupError } from './startup-error.js';
import { errnoCode, errorMessage } from '../tiers/shared/thrown.js';

export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
}

function readPem(path: string, what: string, flag: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const code = errnoCode(err);
    const why = code === 'ENOENT' ? 'it does not exist' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : errorMessage(err);
    throw new StartupError(`cannot read the TLS ${what} ${path} (${flag}): ${why}; give a readable PEM file`);
  }
}

/**
 * `--tls-cert`/`--tls-key`: both or neither. Read once at start-up and checked
 * by building a TLS context, so a bad file or a key that does not match the
 * certificate stops the daemon before it listens.
 */
export function loadTls(certPath: string | undefined, keyPath: string | undefined): TlsFiles | null {
  if (certPath === undefined && keyPath === undefined) return null;
  if (certPath === undefined) throw new StartupError('--tls-key (TRL_TLS_KEY) was given without --tls-cert (TRL_TLS_CERT); give both to serve HTTPS, or neither');
  if (keyPath === undefined) throw new StartupError('--tls-cert (TRL_TLS_CERT) was given without --tls-key (TRL_TLS_KEY); give both to serve HTTPS, or neither');
  const certFile = resolve(certPath);
  const keyFile = resolve(keyPath);
  const cert = readPem(certFile, 'certificate', '--tls-cert');
  const key = readPem(keyFile, 'key', '--tls-key');
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new StartupError(`the TLS certificate ${certFile} and key ${keyFile} cannot be used (${errorMessage(err)}); give a PEM certificate and its matching unencrypted PEM key`);
  }
  return { cert, key };
}
