// Preloaded into server processes by the benchmark (node --expose-gc --require bench/gc-hook.cjs):
// SIGUSR2 forces a full GC so RSS per connection is measured without garbage, then reports it
// (with the V8 heap and external memory, to tell JS objects from native buffers).
process.on('SIGUSR2', () => {
  if (typeof global.gc === 'function') {
    global.gc();
    global.gc();
  }
  // BENCH_HEAP_SNAPSHOTS=<dir>: also a heap snapshot per report, to see what the heap holds.
  if (process.env.BENCH_HEAP_SNAPSHOTS) require('node:v8').writeHeapSnapshot(require('node:path').join(process.env.BENCH_HEAP_SNAPSHOTS, `${process.pid}-${Date.now()}.heapsnapshot`));
  const m = process.memoryUsage();
  process.stdout.write(JSON.stringify({ gc: 'done', rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external }) + '\n');
});
