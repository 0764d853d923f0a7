// Build step after tsc: copies the files tsc does not (the dashboard's and the docs
// page's HTML, scripts and styles in src/http/assets/) to dist/src/http/assets/,
// where the built node reads them (src/http/static-assets.ts). The target is
// emptied first, so a file deleted from src does not live on in dist.
import { cpSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url)); // dist/scripts/ -> the repository
const FROM = `${ROOT}src/http/assets`;
const TO = `${ROOT}dist/src/http/assets`;

rmSync(TO, { recursive: true, force: true });
cpSync(FROM, TO, { recursive: true, filter: (src) => !src.endsWith('tsconfig.json') });
console.log(`copied ${FROM} -> ${TO}`);
