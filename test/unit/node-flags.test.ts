/**
 * Every place a trl daemon starts runs Node with the same flags
 * (src/node-flags.ts): the claw-core daemon's shebang, `npm start` and what
 * docs/operations.md says it runs, the docker tier image's launcher. The
 * `trl` shebang (and the bundle built from it) carries none: `trl serve`
 * and `trl rpc` give them to themselves (test/daemon-node-flags.test.ts).
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
  it('src/compat/claw-core-daemon.ts starts with the shebang of src/node-flags.ts', () => {
    assert.equal(read('src/compat/claw-core-daemon.ts').split('\n')[0], `#!/usr/bin/env -S node ${flags}`);
  });

  for (const file of ['src/cli/main.ts', 'dist/trl/trl.js']) {
    it(`${file}, the CLI every client call starts, has a shebang without V8 flags`, () => {
      assert.equal(read(file).split('\n')[0], '#!/usr/bin/env node');
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
