// One worker of a pool (see pool.ts): its own wasm instance, running chunks of a batch. Inputs arrive
// as Float32Arrays over SharedArrayBuffers (shared, not copied); outputs are written into shared
// Float32Arrays the caller provides.

import { parentPort } from 'node:worker_threads';
import { init } from '../memory.js';
import { lastSum, OutOfRangeError, runPass, type Kind } from '../pass.js';
import { sigmoid, logSigmoid } from '../pass.js';
import type { Job, JobResult } from './pool.js';

/** @internal See the test-only branch of the message handler. */
type TestMessage = { test: 'exit'; code: number } | { test: 'throw'; message: string };

const port = parentPort!;
// (init, then the handler: messages wait in the port until then. Not a top-level await, which has a
// rare fatal V8 check in Node 20-22's module evaluation, nodejs/node#53238; a failed init is an
// unhandled rejection, which ends the worker with an error as a failed top-level await did.)
void init().then(() => {
  port.on('message', handle);
  port.postMessage({ id: -1, sum: 0 }); // ready
});

function handle(job: Job | TestMessage): void {
  // Test-only messages, posted by test/pool.test.ts through the pool's internal `_workers()`
  // accessor (never by the pool): die the ways a worker can, outside the job's try/catch.
  if ('test' in job) {
    if (job.test === 'exit') process.exit(job.code);
    throw new Error(job.message);
  }
  let reply: JobResult;
  try {
    if (job.map !== undefined) {
      (job.map === 'sigmoid' ? sigmoid : logSigmoid)(job.x, job.out!);
      reply = { id: job.id, sum: 0 };
    } else {
      // runPass streams the chunk through this worker's WebAssembly scratch piece by piece (the same
      // loop as on the calling thread); broadcast operands are the whole's, phased by the offset.
      const options = {
        reduction: job.reduction,
        weight: job.weight,
        posWeight: job.posWeight,
        gradOutput: job.gradOutput,
        out: job.out,
        gradOut: job.gradOut,
        labelSmoothing: job.labelSmoothing,
        mask: job.mask,
        alpha: job.alpha,
        gamma: job.gamma,
      };
      const chunk = { offset: job.offset, total: job.total, divisor: job.divisor };
      runPass(job.kind as Kind, job.fn, job.x, job.y!, options, job.what, chunk);
      reply = { id: job.id, sum: lastSum() };
    }
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    const range = err instanceof OutOfRangeError ? { argument: err.argument, index: err.index, value: err.value } : {};
    reply = { id: job.id, sum: 0, error: { name: err.name, message: err.message, ...range } };
  }
  port.postMessage(reply);
}
// A job that could not be deserialized: its id is unknown, so it cannot be answered. Dying fails every
// call this worker has in flight (none hangs) and the pool replaces it.
port.on('messageerror', (e) => {
  throw new Error(`a job could not be deserialized: ${String(e)}`);
});
