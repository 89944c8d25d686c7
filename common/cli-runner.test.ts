import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runCommand } from './cli-runner.js';
import { AppError } from '../contract/errors.js';

function sink(): { stream: Writable; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return { stream, text: () => text };
}

describe('runCommand', () => {
  it('resolves with what the command resolves with, and writes nothing', async () => {
    const err = sink();
    expect(await runCommand('tool', async () => -1, err.stream)).toBe(-1);
    expect(await runCommand('tool', async () => 0, err.stream)).toBe(0);
    expect(err.text()).toBe('');
  });

  it('turns a bad flag into exit status 2 and its message', async () => {
    const err = sink();
    const code = await runCommand(
      'tool',
      async () => {
        throw new AppError('BAD_FLAG', '--port must be a number; pass --port 8080');
      },
      err.stream,
    );
    expect(code).toBe(2);
    expect(err.text()).toBe('tool: --port must be a number; pass --port 8080\n');
  });

  it('turns a check that could not run into 2 and other coded errors into 1', async () => {
    const err = sink();
    expect(
      await runCommand(
        'check',
        async () => Promise.reject(new AppError('CHECK_NOT_RUN', 'nothing answers')),
        err.stream,
      ),
    ).toBe(2);
    expect(
      await runCommand('tool', async () => Promise.reject(new AppError('PORT_IN_USE', 'in use')), err.stream),
    ).toBe(1);
  });

  it('reports anything else as an unexpected error with its stack, exit status 1', async () => {
    const err = sink();
    const code = await runCommand(
      'tool',
      async () => {
        throw new TypeError('x is undefined');
      },
      err.stream,
    );
    expect(code).toBe(1);
    expect(err.text()).toMatch(/^tool: unexpected error: TypeError: x is undefined\n\s+at /);
  });
});
