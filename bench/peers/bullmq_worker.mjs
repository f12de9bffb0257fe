// The BullMQ worker of the peer benchmark (bench/peers/run.sh): one process, one Worker on the
// queue "bench". Job "noop" returns at once; job "sleep" awaits a timer of data.ms, which an abort
// signal ends early. BullMQ cancels a running job only inside the worker that runs it
// (worker.cancelJob), so cancel requests reach this process on the Redis channel "bench-cancel".
//   node bullmq_worker.mjs REDIS_PORT CONCURRENCY
// Prints "ready" once the worker is connected.
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';

const [port, concurrency] = process.argv.slice(2).map(Number);
const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
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

const worker = new Worker(
  'bench',
  async (job, token, signal) => {
    if (job.name === 'sleep') await sleep(job.data.ms, signal);
    return null;
  },
  { connection, concurrency },
);
worker.on('error', (err) => console.error('worker error:', err.message));

const subscriber = new Redis(connection);
subscriber.on('message', (_channel, id) => worker.cancelJob(id));
await subscriber.subscribe('bench-cancel');
await worker.waitUntilReady();
console.log('ready');

process.on('SIGTERM', async () => {
  await worker.close(true);
  subscriber.disconnect();
  process.exit(0);
});
