import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file runs from dist/test/). */
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Runs a tool from node_modules/.bin in the repository root; resolves with its exit code and output. */
function run(tool: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      path.join(root, 'node_modules/.bin', tool),
      args,
      { cwd: root, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, output: `${stdout}${stderr}` });
      },
    );
  });
}

/** The first lines of a tool's complaint: enough to act on, short enough to read in the summary. */
const head = (output: string) => output.trim().split('\n').slice(0, 40).join('\n');

describe('lint and format (npm run lint)', function () {
  // Type-aware linting parses the whole program: about a minute on a loaded machine.
  this.timeout(600_000);

  it('eslint finds nothing: no floating or misused promise, nor anything else the config forbids', async () => {
    const { code, output } = await run('eslint', ['.']);
    assert.equal(code, 0, `eslint found problems:\n${head(output)}`);
  });

  it('every file is formatted as prettier formats it (npm run format fixes it)', async () => {
    const { code, output } = await run('prettier', ['--check', '.']);
    assert.equal(code, 0, `prettier --check found unformatted files:\n${head(output)}`);
  });
});
