// Parent-side handle on the participant child (participant-main.ts).
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AckDrain } from './participant-server.js';
import type { Supervised, Supervisor } from './supervisor.js';

export type ParticipantRequest = { type: 'drain'; id: number } | { type: 'reset'; id: number };
export type ParticipantReply =
  | { type: 'ready'; urls: string[] }
  | { type: 'drained'; id: number; drain: AckDrain }
  | { type: 'reset-done'; id: number };

const START_TIMEOUT_MS = 10_000;
const CALL_TIMEOUT_MS = 10_000;

export class Participants {
  private nextId = 1;
  private readonly waiting = new Map<number, (reply: ParticipantReply) => void>();

  private constructor(
    readonly urls: readonly string[],
    private readonly proc: Supervised,
  ) {
    proc.child.on('message', (raw: unknown) => {
      const reply = raw as ParticipantReply;
      if (reply.type === 'ready') return;
      const resolve = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      resolve?.(reply);
    });
  }

  static async start(sup: Supervisor, count: number, logDir: string): Promise<Participants> {
    const entry = join(fileURLToPath(new URL('.', import.meta.url)), 'participant-main.js');
    const proc = sup.spawn({
      name: 'participants',
      command: process.execPath,
      args: [entry, String(count)],
      logPath: join(logDir, 'participants.log'),
      ipc: true,
    });
    const urls = await new Promise<string[]>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`participants did not start; see ${proc.logPath}`)), START_TIMEOUT_MS);
      proc.child.on('message', (raw: unknown) => {
        const reply = raw as ParticipantReply;
        if (reply.type === 'ready') {
          clearTimeout(timer);
          resolve(reply.urls);
        }
      });
      void proc.exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`participants exited (${code}); see ${proc.logPath}`));
      });
    });
    return new Participants(urls, proc);
  }

  /** The child process, for pausing it while etcd is measured. */
  get process(): Supervised {
    return this.proc;
  }

  async drain(): Promise<AckDrain> {
    const reply = await this.call({ type: 'drain', id: this.nextId++ });
    if (reply.type !== 'drained') throw new Error(`participants answered ${reply.type} to drain`);
    return reply.drain;
  }

  async reset(): Promise<void> {
    await this.call({ type: 'reset', id: this.nextId++ });
  }

  async stop(sup: Supervisor): Promise<void> {
    await sup.stop(this.proc);
  }

  private call(req: ParticipantRequest): Promise<ParticipantReply> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(req.id);
        reject(new Error(`participants did not answer ${req.type} within ${CALL_TIMEOUT_MS} ms`));
      }, CALL_TIMEOUT_MS);
      this.waiting.set(req.id, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      this.proc.child.send(req);
    });
  }
}
