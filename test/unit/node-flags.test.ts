/**
 * Every place a trl process starts runs Node with the same flags
 * (src/node-flags.ts): the shebangs and the bundle built from them, `npm
 * start` and what docs/operations.md says it runs, the docker tier image's
 * launcher.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { NODE_FLAGS } from '../../src/node-flags.js';
import { REPO_ROOT } from '../helpers/daemon.js';

const read = (file: string) => readFileSync(join(REPO_ROOT, file), 'utf8');
const flags = NODE_FLAGS.join(' ');

describe('node flags', () => {
  for (const file of ['src/cli/main.ts', 'src/compat/claw-core-daemon.ts', 'dist/trl/trl.js']) {
    it(`${file} starts with the shebang of src/node-flags.ts`, () => {
      assert.equal(read(file).split('\n')[0], `#!/usr/bin/env -S node ${flags}`);
    });
  }

  it('npm start runs the daemon with them, as docs/operations.md says', () => {
    const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    assert.equal(pkg.scripts.start, `node ${flags} dist/trl/trl.js serve`);
    assert.ok(read('docs/operations.md').includes(`npm start         # = ${pkg.scripts.start}`), 'docs/operations.md shows npm start');
  });

  it("the docker tier image's trl launcher runs node with them", () => {
    assert.ok(read('scripts/build-trl-image.sh').includes(`exec /usr/local/bin/node ${flags} /opt/trl/dist/trl/trl.js "$@"`));
  });
});
