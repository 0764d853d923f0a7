const { PerformanceObserver } = require('node:perf_hooks');
const tag = process.argv.slice(2).join(' ').slice(0, 30);
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if (e.duration > 8) process.stderr.write(`TRACE ${new Date(performance.timeOrigin + e.startTime).toISOString()} gc kind ${e.detail?.kind} ${e.duration.toFixed(1)} ms [${tag}]\n`);
}).observe({ entryTypes: ['gc'] });
let last = performance.now();
setInterval(() => {
  const now = performance.now();
  if (now - last > 30) process.stderr.write(`TRACE ${new Date().toISOString()} lag ${(now - last - 10).toFixed(1)} ms [${tag}]\n`);
  last = now;
}, 10).unref();
