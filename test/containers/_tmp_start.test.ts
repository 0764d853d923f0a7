import { it } from 'vitest';
import { ContainerCluster } from './container-cluster.js';
import { BANKS } from './bank-adapter.js';
it('start timing', async () => {
  const t0 = Date.now();
  const c = await ContainerCluster.start({ image: 'ratify:local', runId: 'tmp1', nodeIds: ['n1','n2','n3'], banks: BANKS });
  console.log('started in', Date.now() - t0);
  const t1 = Date.now();
  await c.stop();
  console.log('stopped in', Date.now() - t1);
}, 120000);
