/**
 * The regular files of a tar archive (ustar, as busybox and GNU tar write
 * it): name → content. Only what the docker files helper produces is read:
 * short names, sizes in octal, no extensions needed. A hard link to a file
 * earlier in the archive (tar stores a second name of one inode that way)
 * is that file's content under its own name.
 */
export function tarFiles(tar: Buffer): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  let off = 0;
  while (off + 512 <= tar.length) {
    const header = tar.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    const name = cString(header.subarray(0, 100));
    const size = parseInt(cString(header.subarray(124, 136)).trim() || '0', 8);
    const type = String.fromCharCode(header[156] ?? 0);
    const start = off + 512;
    if (type === '0' || type === '\0') files.set(name, tar.subarray(start, start + size));
    else if (type === '1') {
      const target = files.get(cString(header.subarray(157, 257)));
      if (target !== undefined) files.set(name, target);
    }
    off = start + Math.ceil(size / 512) * 512;
  }
  return files;
}

function cString(b: Buffer): string {
  const nul = b.indexOf(0);
  return b.subarray(0, nul === -1 ? b.length : nul).toString('utf8');
}
