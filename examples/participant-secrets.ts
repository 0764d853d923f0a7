// The participant secrets of the example services, from the environment (never
// flags, which every user of the machine can read in the process list):
//
//   RATIFY_PARTICIPANT_KEY    the key the cluster signs this participant's calls
//                             with (its --participant-keys-file line); set, the
//                             service refuses unsigned calls
//   RATIFY_COORDINATOR_TOKEN  a client API token (reader role suffices) for the
//                             participant's questions to the cluster
export const PARTICIPANT_KEY_ENV = 'RATIFY_PARTICIPANT_KEY';
export const COORDINATOR_TOKEN_ENV = 'RATIFY_COORDINATOR_TOKEN';

export interface ParticipantSecrets {
  readonly coordinatorKey?: string;
  readonly coordinatorToken?: string;
}

export function participantSecretsFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): ParticipantSecrets {
  const key = env[PARTICIPANT_KEY_ENV];
  const token = env[COORDINATOR_TOKEN_ENV];
  return {
    ...(key === undefined || key === '' ? {} : { coordinatorKey: key }),
    ...(token === undefined || token === '' ? {} : { coordinatorToken: token }),
  };
}
