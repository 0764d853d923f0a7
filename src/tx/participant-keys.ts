// The keys the coordinator signs participant calls with (the signature itself
// is src/sdk/participant/signature.ts, shared with the participant SDK).
//
// From a file (--participant-keys-file, RATIFY_PARTICIPANT_KEYS_FILE), never a
// command-line value that every user of the machine can read in the process
// list. One key per line, the participant name as the transactions enlist it:
//
//   # participant   key
//   bank-a          6f1e0c1b0b9b4c3f9a7e2d1c5b8a4f3e
//   bank-b          Zq8sJm2kLr7vXy3nTb5wPd9fGh4cKe6a
//   *               a-default-key-for-every-other-participant-0123
//
// `*` is the key of every participant without a line of its own. A call to a
// participant with no key (and no `*`) goes unsigned, and a participant that
// requires signatures refuses it (the start-up log line lists the participants
// that have keys, and whether there is a default). Keys are never logged, and no error repeats one (a bad line is named by its
// number).
import { readFileSync } from 'node:fs';
import { RatifyError } from '../errors.js';
import { participantKeyProblem } from '../sdk/participant/signature.js';

/** Bounds the file: one key per participant service of a deployment. */
export const PARTICIPANT_KEYS_MAX = 4096;
/** The name of the default key's line. */
export const DEFAULT_KEY_NAME = '*';
/** What the API allows as a participant name, at most (tx config maxNameLength is checked at enlist). */
const NAME_CHARS_MAX = 256;

/** A signing key and whose it is (calls in one batch share one key). */
export interface SigningKey {
  /** The participant name of the key's line, or `*`. */
  readonly owner: string;
  readonly key: string;
}

export class ParticipantKeys {
  static readonly NONE = new ParticipantKeys(new Map(), null);

  private constructor(
    private readonly byName: ReadonlyMap<string, string>,
    private readonly fallback: string | null,
  ) {}

  /** Parses a keys file's text; throws CONFIG_INVALID naming `source` and every bad line. */
  static parse(text: string, source: string): ParticipantKeys {
    const errors: string[] = [];
    const byName = new Map<string, string>();
    let fallback: string | null = null;
    text.split(/\r?\n/).forEach((raw, i) => {
      const line = raw.replace(/#.*$/, '').trim();
      if (line === '') return;
      const where = `${source} line ${i + 1}`;
      const fields = line.split(/\s+/);
      const [name, key] = fields;
      if (fields.length !== 2 || name === undefined || key === undefined) {
        errors.push(`${where} must be "participant key" (it has ${fields.length} fields)`);
        return;
      }
      if (name.length > NAME_CHARS_MAX)
        errors.push(`${where}: the participant name (${name.length} characters) must be at most ${NAME_CHARS_MAX}`);
      const problem = participantKeyProblem(key);
      if (problem !== null) errors.push(`${where}: ${problem}`);
      if (name === DEFAULT_KEY_NAME ? fallback !== null : byName.has(name)) errors.push(`${where}: participant ${name} already has a key`);
      if (name === DEFAULT_KEY_NAME) fallback = key;
      else byName.set(name, key);
    });
    const count = byName.size + (fallback === null ? 0 : 1);
    if (count > PARTICIPANT_KEYS_MAX)
      errors.push(`${source} holds ${count} keys, more than PARTICIPANT_KEYS_MAX (${PARTICIPANT_KEYS_MAX})`);
    if (errors.length > 0) throw new RatifyError('CONFIG_INVALID', `participant keys: ${errors.join('; ')}`, { details: { errors } });
    return new ParticipantKeys(byName, fallback);
  }

  get enabled(): boolean {
    return this.byName.size > 0 || this.fallback !== null;
  }

  /** The key that signs calls to `participant`, or null (the call goes unsigned). */
  keyFor(participant: string): SigningKey | null {
    const own = this.byName.get(participant);
    if (own !== undefined) return { owner: participant, key: own };
    return this.fallback === null ? null : { owner: DEFAULT_KEY_NAME, key: this.fallback };
  }

  /** For the start-up log line and the effective config: names, never keys. */
  toJSON(): { participants: string[]; defaultKey: boolean } {
    return { participants: [...this.byName.keys()], defaultKey: this.fallback !== null };
  }
}

/** Loads a node's participant keys from `file`, or none. */
export function loadParticipantKeys(file: string | null): ParticipantKeys {
  if (file === null) return ParticipantKeys.NONE;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new RatifyError('CONFIG_INVALID', `participantKeysFile ${file} cannot be read: ${(e as Error).message}`, { cause: e });
  }
  const keys = ParticipantKeys.parse(text, `participantKeysFile ${file}`);
  if (!keys.enabled)
    throw new RatifyError(
      'CONFIG_INVALID',
      `participantKeysFile ${file} holds no keys; remove the setting to send unsigned participant calls`,
    );
  return keys;
}
