// Ratify SDKs: the client of the transaction API and the participant SDK.
export { RatifyClient, type RatifyClientOptions } from './client.js';
export { RatifyClientError, isRatifyClientError, type ClientErrorCode, type ClientSideCode } from './client-error.js';
export type * from './client-types.js';
export * as participant from './participant/index.js';
export type * from './admin-types.js';
