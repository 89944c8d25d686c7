/**
 * The framework fixtures (test/frameworks/<name>/) are real apps on real packages from
 * npm, each with its own package.json and package-lock.json. A test calls
 * `ensureInstalled(name)` in its setup: `npm ci` runs in that folder when its
 * node_modules is missing (the first run, a fresh CI checkout), and is skipped after.
 * Two test files asking at once wait for one install (a lock directory). Install scripts
 * that an app needs (esbuild's, for instance) are approved in that app's own package.json
 * (`allowScripts`), so npm 11 runs them.
 *
 * @example
 *   const dir = await ensureInstalled('express-dataloader');
 *   startTarget({ dir, script: 'server.js' });
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FRAMEWORKS_DIR = fileURLToPath(new URL('./', import.meta.url));

/** An install that takes longer than this is stuck (a registry that does not answer). */
const INSTALL_TIMEOUT_MS = 240_000;
/** A lock older than this was left by a killed run. */
const STALE_LOCK_MS = INSTALL_TIMEOUT_MS + 10_000;

export async function ensureInstalled(name: string): Promise<string> {
  const dir = join(FRAMEWORKS_DIR, name);
  if (!existsSync(join(dir, 'package-lock.json')))
    throw new Error(`no framework fixture ${name} (expected ${dir}/package-lock.json)`);
  const done = join(dir, 'node_modules', '.package-lock.json');
  if (existsSync(done)) return dir;
  const lock = join(dir, '.installing');
  await acquire(lock);
  try {
    if (!existsSync(done)) await npmCi(dir);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
  return dir;
}

async function acquire(lock: string): Promise<void> {
  for (;;) {
    try {
      mkdirSync(lock);
      return;
    } catch {
      try {
        if (Date.now() - statSync(lock).mtimeMs > STALE_LOCK_MS) rmSync(lock, { recursive: true, force: true });
      } catch {
        // Gone meanwhile: try again.
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

function npmCi(dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PUPPETEER_SKIP_DOWNLOAD: '1' },
    });
    let output = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), INSTALL_TIMEOUT_MS);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`npm ci in ${dir} failed (${signal ?? code}):\n${output.slice(-4000)}`));
    });
  });
}
