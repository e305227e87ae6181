// Preloaded into server processes by the benchmark (node --expose-gc --require bench/gc-hook.cjs):
// SIGUSR2 forces a full GC so RSS per connection is measured without garbage, then reports it.
process.on('SIGUSR2', () => {
  if (typeof global.gc === 'function') {
    global.gc();
    global.gc();
  }
  process.stdout.write(JSON.stringify({ gc: 'done', rss: process.memoryUsage().rss }) + '\n');
});
