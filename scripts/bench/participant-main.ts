// Child-process entry for the benchmark's participants. WHY a child: at 2,000
// tx/s the two participants take 8,000 requests/s; in the load generator's
// process they would slow the very event loop that timestamps the client side.
// process.hrtime is CLOCK_MONOTONIC, shared by all processes, so the
// acknowledgement times recorded here compare directly with the parent's.
import { ParticipantFleet } from './participant-server.js';
import type { ParticipantRequest, ParticipantReply } from './participants.js';

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? '2');
  const fleet = new ParticipantFleet(count);
  const urls = await fleet.listen();
  const send = (msg: ParticipantReply): void => {
    process.send?.(msg);
  };
  process.on('message', (raw: unknown) => {
    const msg = raw as ParticipantRequest;
    switch (msg.type) {
      case 'drain':
        send({ type: 'drained', id: msg.id, drain: fleet.drain() });
        break;
      case 'reset':
        fleet.reset();
        send({ type: 'reset-done', id: msg.id });
        break;
    }
  });
  // The parent going away (even by SIGKILL) closes the IPC channel: leave with it.
  process.on('disconnect', () => {
    void fleet.close().finally(() => process.exit(0));
  });
  send({ type: 'ready', urls });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
