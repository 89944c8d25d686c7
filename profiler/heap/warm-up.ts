import { warmUpDominators } from './dominators.js';
import { warmUpLoader } from './loader.js';

/**
 * The heap engine's warm-up: the parser and the dominator passes run over tiny
 * snapshots that take all their branches, so that V8 has type feedback for all their
 * code before the first large snapshot comes (without it, that snapshot deoptimizes the
 * hot loops midway and runs unoptimized code for a while). A few milliseconds.
 *
 * Explicit, once per thread that analyses snapshots, before the first one: the live
 * profiler's analysis worker when it starts, `analyzeFile` when it is called. Code that
 * analyses only tiny graphs (the tests' hand-built ones) has no need of it.
 */
export function warmUpEngine(): void {
  warmUpLoader();
  warmUpDominators();
}
