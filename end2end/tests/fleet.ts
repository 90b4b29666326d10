// Facts about the local fleet, read from the testenv state dir (see notes/contract.md).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface FleetCluster {
  name: string;
  api_url: string;
}

export interface FleetUser {
  email: string;
  password: string;
  groups: string[];
}

export interface FleetFacts {
  clusters: FleetCluster[];
  idp: { issuer: string; users: FleetUser[] };
}

const repoRoot = path.resolve(__dirname, '..', '..');

/** The testenv state dir: $FLEETPANE_TESTENV_DIR, else <repo>/.testenv. */
export const testenvDir = process.env.FLEETPANE_TESTENV_DIR ?? path.join(repoRoot, '.testenv');

/** Reads fleet.json, or fails with a message that says what to run. Never skips. */
export function loadFleet(): FleetFacts {
  const file = path.join(testenvDir, 'fleet.json');
  if (!existsSync(file)) {
    throw new Error(
      `${file} is missing: the local fleet is not up. Start it with ` +
        '`.testenv/bin/testenv up` (or ./dev test), then run the browser tests again.',
    );
  }
  const facts = JSON.parse(readFileSync(file, 'utf8')) as FleetFacts;
  if (!facts.clusters?.length) throw new Error(`${file} lists no clusters`);
  return facts;
}

/** Runs `testenv <args...> --dir <state dir>` and returns its output; throws with its stderr on failure. */
export function testenv(...args: string[]): string {
  const bin = path.join(testenvDir, 'bin', 'testenv');
  return execFileSync(bin, [...args, '--dir', testenvDir], { encoding: 'utf8', timeout: 120_000 });
}
