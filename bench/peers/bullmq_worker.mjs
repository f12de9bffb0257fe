// The BullMQ worker of the peer benchmark (bench/peers/run.sh): one process, one Worker on the
// queue "bench". Job "noop" returns at once; job "sleep" awaits a timer of data.ms, which an abort
// signal ends early. BullMQ cancels a running job only inside the worker that runs it
// (worker.cancelJob), so cancel requests reach this process on the Redis channel "bench-cancel".
// A job is "active" in Redis a little before this worker tracks it: a cancel that comes in that
// gap is kept and applied when the processor starts, else it would be lost.
//   node bullmq_worker.mjs REDIS_PORT CONCURRENCY
// Prints "ready" once the worker is connected.
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';

const [port, concurrency] = process.argv.slice(2).map(Number);
const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new Error('cancelled'));
      return;
    }
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(new Error('cancelled'));
      },
      { once: true },
    );
  });
}

const early = new Set(); // ids whose cancel came before this worker tracked the job
const worker = new Worker(
  'bench',
  async (job, token, signal) => {
    if (early.delete(job.id)) throw new Error('cancelled');
    if (job.name === 'sleep') await sleep(job.data.ms, signal);
    return null;
  },
  { connection, concurrency },
);
worker.on('error', (err) => console.error('worker error:', err.message));

const subscriber = new Redis(connection);
subscriber.on('message', (_channel, id) => {
  if (!worker.cancelJob(id)) early.add(id);
});
await subscriber.subscribe('bench-cancel');
await worker.waitUntilReady();
console.log('ready');

process.on('SIGTERM', async () => {
  await worker.close(true);
  subscriber.disconnect();
  process.exit(0);
});
