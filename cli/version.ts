import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// dist/cli/version.js and cli/version.ts both sit two levels below the package root... or one (sources).
function readVersion(): string {
  for (const p of ['../package.json', '../../package.json']) {
    try {
      const pkg = require(p) as { name?: string; version?: string };
      if (pkg.name === 'bpfleet' && pkg.version) return pkg.version;
    } catch {
      /* try the next location */
    }
  }
  return '0.0.0';
}

export const VERSION = readVersion();
