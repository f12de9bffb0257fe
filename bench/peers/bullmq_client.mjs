// The BullMQ side of the peer benchmark (bench/peers/run.sh): one workload per run against the
// queue "bench" (its worker is bullmq_worker.mjs, in another process), printing one JSON line
// with the same fields as uasyncd_client.cpp.
//   node bullmq_client.mjs REDIS_PORT throughput N SUBMITTERS   N "noop": first add -> all finished
//   node bullmq_client.mjs REDIS_PORT latency N                 one client: add, waitUntilFinished
//   node bullmq_client.mjs REDIS_PORT timed N SUBMITTERS        N "sleep" 1 s: first add -> all done
//   node bullmq_client.mjs REDIS_PORT cancel N SUBMITTERS       N running: first cancel -> all failed
//   node bullmq_client.mjs REDIS_PORT fill N                    N "noop" (addBulk), until completed
//   node bullmq_client.mjs REDIS_PORT batch N BATCH SUBMITTERS  N "noop" by addBulk(BATCH): adds/s
// Completion is observed by polling the queue's counts every 2 ms. The submitters are concurrent
// promise chains in this one process (Node is single-threaded), sharing the Queue's connection.
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';

const [portArg, workload, nArg, ...rest] = process.argv.slice(2);
const port = Number(portArg);
const n = Number(nArg);
const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };
const queue = new Queue('bench', { connection });
const now = () => performance.now() / 1000;

// Runs body(i) for i in [0, n) on `lanes` concurrent chains.
async function lanes(count, lanesWanted, body) {
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < count; i = next++) await body(i);
  };
  await Promise.all(Array.from({ length: lanesWanted }, lane));
}

// Polls count() until it reaches target; after 600 s, fails naming what it waited for.
async function pollUntil(what, count, target) {
  const start = now();
  for (let seen = await count(); seen < target; seen = await count()) {
    if (now() - start > 600) throw new Error(`timed out waiting for ${what}: ${seen} of ${target}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

// Completed or failed: a job whose lock expired (the worker could not renew it in time) can end
// failed, and is then counted as an error rather than waited for.
const finishedCount = async () => {
  const counts = await queue.getJobCounts('completed', 'failed');
  return counts.completed + counts.failed;
};

async function runToCompletion(name, data, submitters, bulk) {
  const before = await finishedCount();
  const failedBefore = await queue.getFailedCount();
  const start = now();
  if (bulk) {
    for (let i = 0; i < n; i += 1000) {
      const size = Math.min(1000, n - i);
      await queue.addBulk(Array.from({ length: size }, () => ({ name, data })));
    }
  } else {
    await lanes(n, submitters, () => queue.add(name, data));
  }
  const submitSeconds = now() - start;
  await pollUntil('finished jobs', finishedCount, before + n);
  const seconds = now() - start;
  const errors = (await queue.getFailedCount()) - failedBefore;
  return { jobs: n, errors, seconds, submit_seconds: submitSeconds, per_second: n / seconds };
}

async function latency() {
  const events = new QueueEvents('bench', { connection });
  await events.waitUntilReady();
  const ms = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    const job = await queue.add('noop', {});
    await job.waitUntilFinished(events, 30000);
    ms.push(performance.now() - start);
  }
  await events.close();
  ms.sort((a, b) => a - b);
  const pct = (p) => ms[Math.min(ms.length - 1, Math.round(p * (ms.length - 1)))];
  return { jobs: n, errors: 0, p50_ms: pct(0.5), p99_ms: pct(0.99) };
}

async function cancel(submitters) {
  const failedBefore = await queue.getFailedCount();
  const ids = new Array(n);
  await lanes(n, submitters, async (i) => {
    ids[i] = (await queue.add('sleep', { ms: 3600_000 })).id;
  });
  await pollUntil('active jobs', () => queue.getActiveCount(), n);
  const publisher = new Redis(connection);
  const start = now();
  await lanes(n, submitters, (i) => publisher.publish('bench-cancel', ids[i]));
  await pollUntil('cancelled (failed) jobs', () => queue.getFailedCount(), failedBefore + n);
  const seconds = now() - start;
  publisher.disconnect();
  return { jobs: n, errors: 0, seconds };
}

async function batch(size, submitters) {
  const before = await finishedCount();
  const batches = Math.floor(n / size);
  const jobs = Array.from({ length: size }, () => ({ name: 'noop', data: {} }));
  const start = now();
  await lanes(batches, submitters, () => queue.addBulk(jobs));
  const seconds = now() - start;
  const created = batches * size;
  await pollUntil('finished jobs', finishedCount, before + created);
  return { jobs: created, errors: 0, seconds, per_second: created / seconds };
}

const arg = (i, fallback) => (rest[i] === undefined ? fallback : Number(rest[i]));
let result;
try {
  await queue.waitUntilReady();
  if (workload === 'throughput') result = await runToCompletion('noop', {}, arg(0, 16), false);
  else if (workload === 'fill') result = await runToCompletion('noop', {}, 1, true);
  else if (workload === 'timed') result = await runToCompletion('sleep', { ms: 1000 }, arg(0, 16), false);
  else if (workload === 'latency') result = await latency();
  else if (workload === 'cancel') result = await cancel(arg(0, 16));
  else if (workload === 'batch') result = await batch(arg(0, 1000), arg(1, 4));
  else throw new Error(`unknown workload ${workload}`);
} catch (err) {
  result = { error: String(err?.message ?? err) };
}
console.log(JSON.stringify(result));
await queue.close();
process.exit(result.error || result.errors ? 1 : 0);
