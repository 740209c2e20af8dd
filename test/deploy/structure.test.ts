// The deployment files are part of the product: they must parse, agree with
// each other (ports, probe paths, Secret and volume names), validate against
// the config schemas, and keep the agent unprivileged-but-capable.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { validateProtocol } from '../../schemas/protocol.js';
import { parseUnit, readUnit, unitValue } from './systemd-unit.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const K8S = join(ROOT, 'deploy/kubernetes');

// Loose views of Kubernetes objects: only what the tests read.
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [k: string]: any;
}

function loadManifests(): Map<string, K8sObject[]> {
  const files = new Map<string, K8sObject[]>();
  for (const f of readdirSync(K8S).filter((f) => f.endsWith('.yaml')).sort()) {
    const docs = parseAllDocuments(readFileSync(join(K8S, f), 'utf8'));
    for (const d of docs) if (d.errors.length) throw new Error(`${f}: ${d.errors[0]!.message}`);
    files.set(f, docs.map((d) => d.toJS() as K8sObject));
  }
  return files;
}

const manifests = loadManifests();
const all = [...manifests.values()].flat();
const find = (kind: string, name: string): K8sObject => {
  const o = all.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name} under deploy/kubernetes`);
  return o;
};
const API_VERSIONS: Record<string, string> = {
  Namespace: 'v1',
  Secret: 'v1',
  ConfigMap: 'v1',
  Service: 'v1',
  PersistentVolumeClaim: 'v1',
  Deployment: 'apps/v1',
  DaemonSet: 'apps/v1',
};

describe('deploy/kubernetes', () => {
  it('has the expected files, each a list of known kinds with the right apiVersion and namespace', () => {
    expect([...manifests.keys()]).toEqual(['agent-daemonset.yaml', 'namespace.yaml', 'reconciler-deployment.yaml', 'secrets.example.yaml']);
    for (const o of all) {
      expect(API_VERSIONS[o.kind], `${o.kind} ${o.metadata?.name}`).toBe(o.apiVersion);
      expect(o.metadata.name).toMatch(/^[a-z0-9-]+$/);
      if (o.kind !== 'Namespace') expect(o.metadata.namespace, `${o.kind} ${o.metadata.name}`).toBe('bpfleet');
    }
    expect(find('Namespace', 'bpfleet').apiVersion).toBe('v1');
  });

  it('nothing runs privileged', () => {
    const text = [...manifests.keys()].map((f) => readFileSync(join(K8S, f), 'utf8')).join('\n');
    expect(text).not.toMatch(/privileged:\s*true/);
    expect(text).not.toMatch(/hostPID:\s*true/);
  });

  describe('agent DaemonSet', () => {
    const ds = find('DaemonSet', 'bpfleet-agent');
    const pod = ds.spec.template.spec;
    const agent = pod.containers.find((c: any) => c.name === 'agent');

    it('selects its own pods and shares the host network namespace', () => {
      expect(ds.spec.selector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'bpfleet-agent' });
      expect(ds.spec.template.metadata.labels).toMatchObject(ds.spec.selector.matchLabels);
      expect(pod.hostNetwork).toBe(true);
      expect(pod.dnsPolicy).toBe('ClusterFirstWithHostNet');
    });

    it('mounts the host bpffs at /sys/fs/bpf', () => {
      const vol = pod.volumes.find((v: any) => v.hostPath?.path === '/sys/fs/bpf');
      expect(vol).toBeDefined();
      expect(agent.volumeMounts).toContainEqual(expect.objectContaining({ name: vol.name, mountPath: '/sys/fs/bpf' }));
    });

    it('adds exactly the measured capabilities (those of the systemd unit) and drops the rest', () => {
      const unitCaps = (unitValue(readUnit(join(ROOT, 'deploy/systemd/bpfleet-agent.service')), 'Service', 'CapabilityBoundingSet') ?? '')
        .split(/\s+/)
        .map((c) => c.replace(/^CAP_/, ''))
        .sort();
      expect(agent.securityContext.privileged).toBe(false);
      expect(agent.securityContext.capabilities.drop).toEqual(['ALL']);
      expect([...agent.securityContext.capabilities.add].sort()).toEqual(unitCaps);
      expect(agent.securityContext.allowPrivilegeEscalation).toBe(false);
    });

    it('probes /healthz and /readyz on the port the agent config listens on', () => {
      const cm = find('ConfigMap', 'bpfleet-agent');
      const tmpl = parse(cm.data['agent.yaml.tmpl'].replaceAll('${NODE_NAME}', 'node-1')) as Record<string, unknown>;
      const v = validateProtocol('AgentConfig', tmpl);
      expect(v.ok, JSON.stringify(v)).toBe(true);
      const port = Number(String(tmpl.metricsListen).split(':').at(-1));
      const named = agent.ports.find((p: any) => p.name === agent.livenessProbe.httpGet.port);
      expect(named.containerPort).toBe(port);
      expect(agent.livenessProbe.httpGet.path).toBe('/healthz');
      expect(agent.readinessProbe.httpGet.path).toBe('/readyz');
      expect(agent.readinessProbe.httpGet.port).toBe(named.name);
      // The rendered config is where the agent reads it, and the token and key files are mounted.
      expect(agent.args).toEqual(['agent', '--config', '/run/bpfleet/agent.yaml']);
      expect(agent.volumeMounts.map((m: any) => m.mountPath)).toEqual(
        expect.arrayContaining(['/run/bpfleet', String(tmpl.tokenFile).replace(/\/node-1$/, ''), String(tmpl.reconcilerPublicKey).replace(/\/reconciler.pub$/, ''), tmpl.stateDir]),
      );
    });

    it('reads its token from a Secret and its config from the ConfigMap', () => {
      const tokens = pod.volumes.find((v: any) => v.name === 'tokens');
      expect(tokens.secret.secretName).toBe('bpfleet-agent-tokens');
      expect(find('Secret', 'bpfleet-agent-tokens').kind).toBe('Secret');
      expect(pod.volumes.find((v: any) => v.name === 'config').configMap.name).toBe('bpfleet-agent');
    });
  });

  describe('reconciler Deployment and Service', () => {
    const dep = find('Deployment', 'bpfleet-reconciler');
    const svc = find('Service', 'bpfleet-reconciler');
    const pod = dep.spec.template.spec;
    const rec = pod.containers.find((c: any) => c.name === 'reconciler');
    const secret = find('Secret', 'bpfleet-reconciler');
    const cfg = parse(secret.stringData['reconciler.yaml']) as Record<string, any>;

    it('runs as a non-root user without capabilities', () => {
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
      expect(rec.securityContext.capabilities.drop).toEqual(['ALL']);
      expect(rec.securityContext.capabilities.add).toBeUndefined();
      expect(rec.securityContext.allowPrivilegeEscalation).toBe(false);
      expect(rec.resources.requests).toBeDefined();
      expect(rec.resources.limits.memory).toBeDefined();
    });

    it('Service, container port, probes and config listen port agree', () => {
      const listenPort = Number(String(cfg.listen).split(':').at(-1));
      const api = rec.ports.find((p: any) => p.name === 'api');
      expect(api.containerPort).toBe(listenPort);
      expect(svc.spec.selector).toEqual(dep.spec.selector.matchLabels);
      expect(svc.spec.ports).toContainEqual(expect.objectContaining({ port: listenPort, targetPort: 'api' }));
      expect(rec.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'api' });
      expect(rec.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'api' });
      // Agents are pointed at this Service.
      const agentCfg = find('ConfigMap', 'bpfleet-agent').data['agent.yaml.tmpl'] as string;
      expect(agentCfg).toContain(`http://${svc.metadata.name}.${svc.metadata.namespace}.svc:${listenPort}`);
    });

    it('keeps its state on the PVC and its signing key from the Secret', () => {
      const state = pod.volumes.find((v: any) => v.persistentVolumeClaim);
      expect(state.persistentVolumeClaim.claimName).toBe(find('PersistentVolumeClaim', 'bpfleet-reconciler-state').metadata.name);
      expect(rec.volumeMounts).toContainEqual(expect.objectContaining({ name: state.name, mountPath: cfg.stateDir }));
      expect(pod.volumes.find((v: any) => v.secret)?.secret.secretName).toBe('bpfleet-reconciler');
      expect(Object.keys(secret.stringData).sort()).toEqual(['reconciler.yaml', 'signing-key']);
      // The key is copied to mode 0600 (the reconciler refuses a group-readable key).
      const init = pod.initContainers[0];
      expect(init.command).toEqual(['install', '-m', '0600', '/etc/bpfleet/signing-key', cfg.signingKey]);
      expect(dep.spec.strategy.type).toBe('Recreate');
      expect(dep.spec.replicas).toBe(1);
    });
  });
});

describe('deploy/config examples validate against the config schemas', () => {
  for (const [kind, file] of [
    ['ReconcilerConfig', 'reconciler.yaml'],
    ['AgentConfig', 'agent.yaml'],
  ] as const) {
    it(file, () => {
      const v = validateProtocol(kind, parse(readFileSync(join(ROOT, 'deploy/config', file), 'utf8')));
      expect(v.ok ? [] : v.errors).toEqual([]);
    });
  }

  it('a broken config is refused (the check is not vacuous)', () => {
    const cfg = parse(readFileSync(join(ROOT, 'deploy/config/agent.yaml'), 'utf8')) as Record<string, unknown>;
    const v = validateProtocol('AgentConfig', { ...cfg, datapath: 'ebpf' });
    expect(v.ok).toBe(false);
  });
});

describe('deploy/systemd', () => {
  const agent = readUnit(join(ROOT, 'deploy/systemd/bpfleet-agent.service'));
  const rec = readUnit(join(ROOT, 'deploy/systemd/bpfleet-reconciler.service'));

  it('both units parse as INI with [Unit], [Service] and [Install]', () => {
    for (const u of [agent, rec]) expect([...u.keys()]).toEqual(['Unit', 'Service', 'Install']);
    expect(unitValue(agent, 'Service', 'ExecStart')).toBe('/usr/local/bin/bpfleet agent --config /etc/bpfleet/agent.yaml');
    expect(unitValue(rec, 'Service', 'ExecStart')).toBe('/usr/local/bin/bpfleet reconciler --config /etc/bpfleet/reconciler.yaml');
  });

  it('the agent keeps exactly the measured capabilities, bpffs writable, never detaching on stop', () => {
    // Measured by test/deploy/agent-capabilities.test.ts.
    expect(unitValue(agent, 'Service', 'CapabilityBoundingSet')).toBe('CAP_BPF CAP_NET_ADMIN CAP_PERFMON');
    expect(unitValue(agent, 'Service', 'ReadWritePaths')).toBe('/sys/fs/bpf');
    expect(unitValue(agent, 'Service', 'Restart')).toBe('always');
    expect(unitValue(agent, 'Service', 'ProtectSystem')).toBe('strict');
    expect(unitValue(agent, 'Service', 'NoNewPrivileges')).toBe('yes');
    // The kernel datapath finds bpf/build/root.bpf.o relative to its working directory.
    expect(unitValue(agent, 'Service', 'WorkingDirectory')).toBe('/opt/bpfleet');
  });

  it('the reconciler runs as a dynamic user with no capabilities and a state directory', () => {
    expect(unitValue(rec, 'Service', 'DynamicUser')).toBe('yes');
    expect(unitValue(rec, 'Service', 'CapabilityBoundingSet')).toBe('');
    expect(unitValue(rec, 'Service', 'StateDirectory')).toBe('bpfleet-reconciler');
    for (const k of ['NoNewPrivileges', 'ProtectHome', 'PrivateTmp', 'PrivateDevices']) expect(unitValue(rec, 'Service', k), k).toBe('yes');
    expect(unitValue(rec, 'Service', 'ProtectSystem')).toBe('strict');
    expect(unitValue(rec, 'Service', 'RestrictAddressFamilies')).toBe('AF_UNIX AF_INET AF_INET6');
    // The example config points at what the unit provides.
    const cfg = parse(readFileSync(join(ROOT, 'deploy/config/reconciler.yaml'), 'utf8')) as { stateDir: string; signingKey: string };
    expect(cfg.stateDir).toBe('/var/lib/bpfleet-reconciler');
    const [name] = (unitValue(rec, 'Service', 'LoadCredential') ?? '').split(':');
    expect(cfg.signingKey).toBe(`/run/credentials/bpfleet-reconciler.service/${name}`);
  });

  it('the parser rejects what systemd would not read', () => {
    expect(() => parseUnit('ExecStart=/bin/true\n', 'inline')).toThrow(/expected \[Section\]/);
  });
});

describe('Dockerfile', () => {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const from = [...text.matchAll(/^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/gim)].map((m) => ({ image: m[1], stage: m[2] }));

  it('takes its base images as build arguments with Debian bookworm Node 20 defaults', () => {
    expect(text).toMatch(/^ARG BASE_IMAGE=node:20-bookworm-slim$/m);
    expect(text).toMatch(/^ARG BUILD_IMAGE=node:20-bookworm$/m);
    expect(from).toEqual([
      { image: '${BUILD_IMAGE}', stage: 'build' },
      { image: '${BASE_IMAGE}', stage: undefined },
    ]);
  });

  it('builds bpf objects and TypeScript in the build stage and ships only the results', () => {
    // Instructions only: comments may name what the build must not do.
    const [build, runtime] = text.replace(/^\s*#.*$/gm, '').split(/^FROM /m).slice(1);
    expect(build).toMatch(/npm ci/);
    expect(build).toMatch(/make .*-C bpf/);
    expect(build).toMatch(/tsc -p tsconfig\.json/);
    expect(build).toMatch(/npm prune --omit=dev/);
    expect(build).not.toMatch(/--omit=optional/);
    expect(runtime).not.toMatch(/clang|llvm|libbpf-dev/);
    for (const pkg of ['libbpf1', 'git', 'iproute2', 'ca-certificates']) expect(runtime).toMatch(new RegExp(`\\b${pkg}\\b`));
    for (const dir of ['dist/', 'bpf/build/', 'bin/', 'node_modules/']) expect(runtime).toContain(`COPY --from=build /src/${dir}`);
    expect(runtime).toMatch(/^ENTRYPOINT \["bpfleet"\]$/m);
  });
});
