// Talking to the local fleet's apiservers directly, as the admin identity (client certificate from fleet.json),
// and reading what reached them: each apiserver's audit log of Fleetpane's requests (testenv writes it).
import { existsSync, readFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';

import { testenvDir } from './fleet';

interface ClusterAccess {
  name: string;
  api_url: string;
  ca_file: string;
  admin: { client_cert_file: string; client_key_file: string };
}

function cluster(name: string): ClusterAccess {
  const facts = JSON.parse(readFileSync(path.join(testenvDir, 'fleet.json'), 'utf8')) as {
    clusters: ClusterAccess[];
  };
  const c = facts.clusters.find((x) => x.name === name);
  if (!c) throw new Error(`fleet.json has no cluster ${name}`);
  return c;
}

/** One request to `clusterName`'s apiserver as its admin; resolves with the status and the parsed JSON body. */
export function adminRequest(
  clusterName: string,
  method: string,
  apiPath: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<{ status: number; body: any }> {
  const c = cluster(clusterName);
  const url = new URL(apiPath, c.api_url);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method,
        ca: readFileSync(c.ca_file),
        cert: readFileSync(c.admin.client_cert_file),
        key: readFileSync(c.admin.client_key_file),
        headers: payload ? { 'content-type': contentType, 'content-length': Buffer.byteLength(payload) } : {},
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => {
          let parsed: any = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // not JSON: keep the text
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
}

/** One apiserver audit event (Metadata level), as much of it as the tests read. */
export interface AuditEvent {
  requestURI: string;
  verb: string;
  user: { username: string; groups?: string[] };
  impersonatedUser?: { username: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
  requestReceivedTimestamp: string;
}

/** The audit events of `clusterName` received at or after `since` (the apiserver logs Fleetpane's requests). */
export function auditEvents(clusterName: string, since: Date): AuditEvent[] {
  const file = path.join(testenvDir, clusterName, 'audit.log');
  if (!existsSync(file)) throw new Error(`${file} is missing: testenv's apiservers write it (testenv up)`);
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as AuditEvent)
    .filter((e) => new Date(e.requestReceivedTimestamp) >= since);
}
