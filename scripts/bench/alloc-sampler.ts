// Preloaded into a Ratify node process (`node --import <this file>`) by the bench's
// --alloc-prof: runs V8's sampling heap profiler for the life of the process,
// counting objects already collected, and writes the profile to
// $RATIFY_ALLOC_PROF_DIR/alloc-<pid>.heapprofile every 10 s (a node the failover
// phase kills with SIGKILL keeps its last one) and at exit. Without the variable
// it does nothing. With RATIFY_ALLOC_PROF_SURVIVORS=1 it leaves out what a
// scavenge freed, so the profile shows what was promoted to the old generation. Summaries: alloc-profile.ts, which leaves out what taking and
// writing the profiles allocates.
//
// The in-process inspector session answers synchronously, so the exit handler can
// still take the profile.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import { ALLOC_PROF_DIR_ENV, ALLOC_PROF_SURVIVORS_ENV, ALLOC_PROFILE_SUFFIX, ALLOC_SAMPLING_INTERVAL_BYTES } from './alloc-profile.js';

/** Often enough that a node killed by the failover phase leaves most of its life behind; each write costs a few ms of CPU. */
const WRITE_EVERY_MS = 10_000;

const dir = process.env[ALLOC_PROF_DIR_ENV];
if (dir !== undefined && dir !== '') start(dir);

function start(folder: string): void {
  mkdirSync(folder, { recursive: true });
  const file = join(folder, `alloc-${process.pid}${ALLOC_PROFILE_SUFFIX}`);
  const session = new Session();
  session.connect();
  session.post('HeapProfiler.enable');
  session.post('HeapProfiler.startSampling', {
    samplingInterval: ALLOC_SAMPLING_INTERVAL_BYTES,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: process.env[ALLOC_PROF_SURVIVORS_ENV] !== '1',
  });
  const write = (): void => {
    session.post('HeapProfiler.getSamplingProfile', (err, res) => {
      if (err !== null) return;
      // Written aside and renamed: a kill in the middle leaves the previous profile whole.
      writeFileSync(`${file}.tmp`, JSON.stringify(res.profile));
      renameSync(`${file}.tmp`, file);
    });
  };
  setInterval(write, WRITE_EVERY_MS).unref();
  process.on('exit', write);
}
